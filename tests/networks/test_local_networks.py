"""Local Networks sheet and country coverage."""

from datetime import date

import polars as pl
import pytest

from assets.io import SourceFileError
from assets.networks.local_networks import network_coverage, read_local_networks

SNAPSHOT = date(2026, 11, 25)
HEADER = (",Country name,,Region,RH,Nov 2025 Development Stage,Expected January 2026 Status,"
          "2024 total contributions to GCO,2024 total contributions to LN,2024 combined contributions total\n")


def sheet(tmp_path, body):
    path = tmp_path / "ln.csv"
    path.write_text(HEADER + body, encoding="utf-8")
    return [(path, "ln.csv")]


def test_money_text_becomes_numbers_and_bad_amounts_are_rejected(tmp_path):
    files = sheet(tmp_path, ',Kenya,Link,Africa,X,Advanced,Local Network,"$5,000 ",$0 ,"$5,000 "\n'
                            ",Belguim,Link,Europe,X,Active,Local Network,($100),,\n"
                            ",Japan,Link,Asia,X,Emerging,Local Network,TBD,$0 ,$0 \n"
                            ",,,,,,,,,\n")
    frame, rejects = read_local_networks(files, None, SNAPSHOT)
    rows = {r["country_iso3"]: r for r in frame.to_dicts()}
    assert set(rows) == {"KEN", "BEL"}
    assert (rows["KEN"]["contribution_gco_usd"], rows["KEN"]["contribution_ln_usd"], rows["KEN"]["contribution_total_usd"]) == (5000, 0, 5000)
    assert rows["BEL"]["contribution_gco_usd"] == -100 and rows["BEL"]["contribution_ln_usd"] is None
    assert rows["KEN"]["as_of"] == date(2025, 11, 1) and rows["KEN"]["network_name"] == "UN Global Compact Network Kenya"
    [reject] = rejects.to_dicts()
    assert (reject["record_key"], reject["value"], reject["line"]) == ("Japan", "TBD", 4)


def test_another_layout_fails_listing_expected_and_found(tmp_path):
    path = tmp_path / "ln.csv"
    path.write_text("Country,Stage\nKenya,Advanced\n")
    with pytest.raises(SourceFileError) as err:
        read_local_networks([(path, "ln.csv")], None, SNAPSHOT)
    message = str(err.value)
    assert "ln.csv" in message and "expected columns for country_name, region, development_stage" in message
    assert "found 'Country', 'Stage'" in message


def test_real_sheet_has_76_networks_whose_contributions_add_up(realdata):
    path = realdata / "ungc" / "ungc-local-networks-ln-data-2017-12.csv"
    frame, rejects = read_local_networks([(path, path.name)], None, SNAPSHOT)
    assert frame.height == 76 and rejects.height == 0
    assert frame["country_iso3"].n_unique() == 76
    raw = pl.read_csv(path, infer_schema=False)
    dollars = lambda c: raw[c].str.replace_all(r"[$,\s]", "").cast(pl.Float64).sum()  # noqa: E731
    assert frame["contribution_gco_usd"].sum() == dollars("2016 total contributions to GCO")
    assert frame["contribution_ln_usd"].sum() == dollars("2016 total contributions to LN")
    assert frame["contribution_total_usd"].sum() == dollars("2016 combined contributions total")
    assert (frame["contribution_gco_usd"] + frame["contribution_ln_usd"] == frame["contribution_total_usd"]).all()
    assert frame["as_of"].unique().to_list() == [date(2017, 11, 1)]


def test_coverage_counts_participants_by_status_type_and_recent_moves():
    participants = pl.DataFrame({
        "country_iso3": ["KEN", "KEN", "KEN", "BRA", None],
        "status": ["Active", "Delisted", "Non-communicating", "Active", "Active"],
        "canonical_type": ["company", "SME", "company", "NGO", "company"],
        "joined_on": [date(2026, 3, 1), date(2010, 1, 1), date(2015, 1, 1), date(2020, 1, 1), date(2026, 1, 1)],
        "delisted_on": [None, date(2026, 6, 30), None, None, None],
    })
    networks = pl.DataFrame({"country_iso3": ["KEN", "FRA"], "network_name": ["N Kenya", "N France"],
                             "development_stage": ["Advanced", "Active"], "status": ["Local Network", "Local Network"]})
    coverage = {r["country_iso3"]: r for r in network_coverage(participants, networks, SNAPSHOT).to_dicts()}
    assert set(coverage) == {"KEN", "BRA", "FRA"}
    ken = coverage["KEN"]
    assert (ken["has_local_network"], ken["network_stage"], ken["participants_total"]) == (True, "Advanced", 3)
    assert (ken["participants_active"], ken["participants_delisted"], ken["participants_non_communicating"]) == (1, 1, 1)
    assert (ken["participants_company"], ken["participants_sme"]) == (2, 1)
    assert (ken["delisted_last_12_months"], ken["joined_last_12_months"]) == (1, 1)
    assert coverage["BRA"]["has_local_network"] is False and coverage["FRA"]["participants_total"] == 0
