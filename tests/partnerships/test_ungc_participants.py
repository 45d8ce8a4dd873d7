"""Global Compact participants: export and legacy layouts, status history."""

from datetime import date

import polars as pl
import pytest

from assets.io import SourceFileError
from assets.partnerships.ungc_participants import read_participants, status_history

SNAPSHOT = date(2026, 11, 25)
HEADER = "Participant,Type,Sector,Country,Joined On,Status,Ownership,Employees,Reporting Due On,Delisted On,Delisting Reason\n"


def export(tmp_path, body, name="participants.csv"):
    path = tmp_path / name
    path.write_text(HEADER + body, encoding="utf-8")
    return [(path, name)]


def test_export_layout_is_typed_and_canonicalized(tmp_path):
    files = export(tmp_path, "Acme Ltd,SME,Banks,Brazil,2019-05-01,Active,Private Company,\"1,200\",2026-05-01,,\n"
                             "Beta Uni,Academic,,Viet Nam,2010-02-03,Delisted,,,,2015-06-30,Participant requested withdrawal\n"
                             "Gamma,Labour Local,,Kosovo,2021-01-01,non communicating,,,,,\n")
    frame, rejects = read_participants(files, "export", SNAPSHOT)
    rows = {r["participant_name"]: r for r in frame.to_dicts()}
    assert rows["Acme Ltd"]["canonical_type"] == "SME" and rows["Acme Ltd"]["country_iso3"] == "BRA"
    assert rows["Acme Ltd"]["employees"] == 1200 and rows["Acme Ltd"]["joined_on"] == date(2019, 5, 1)
    assert rows["Beta Uni"]["status"] == "Delisted" and rows["Beta Uni"]["delisted_on"] == date(2015, 6, 30)
    assert rows["Beta Uni"]["country_iso3"] == "VNM"
    assert rows["Gamma"]["status"] == "Non-communicating" and rows["Gamma"]["country_iso3"] == "XKX"
    assert rows["Gamma"]["canonical_type"] == "other"
    assert rejects.height == 0
    # the id depends on name and country only: stable across snapshots and layouts
    again, _ = read_participants(files, "export", date(2027, 1, 1))
    assert again["participant_id"].to_list() == frame["participant_id"].to_list()


def test_bad_rows_are_rejected_or_flagged_never_lost(tmp_path):
    files = export(tmp_path, "Ok,Company,,France,2019-05-01,Active,,,,,\n"
                             ",Company,,France,2019-05-01,Active,,,,,\n"
                             "Odd,Company,,France,2019-05-01,Suspended,,,,,\n"
                             "Late,Company,,France,not a date,Active,,,,,\n"
                             "Where,Company,,Atlantis,2019-05-01,Active,,lots,,,\n"
                             "Mystery,Spaceship Operator,,France,2019-05-01,Active,,,,,\n"
                             "OK,Company,,France,2020-01-01,Active,,,,,\n")
    frame, rejects = read_participants(files, None, SNAPSHOT)
    assert sorted(frame["participant_name"]) == ["Mystery", "Ok", "Where"]
    errors = rejects.filter(pl.col("severity") == "error")
    assert sorted(errors["check"]) == ["field_uniqueness", "isin", "not_nullable", "parse"]
    assert set(errors["line"]) == {3, 4, 5, 8}
    warnings = {(r["column"], r["value"]) for r in rejects.filter(pl.col("severity") == "warning").to_dicts()}
    assert warnings == {("country_iso3", "Atlantis"), ("employees", "lots"), ("participant_type", "Spaceship Operator")}
    assert frame.filter(pl.col("participant_name") == "Mystery")["canonical_type"].item() == "other"


def test_wrong_layout_lists_expected_and_found_columns(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("Name,Kind\nAcme,Company\n")
    with pytest.raises(SourceFileError, match=r"p.csv: .*missing Participant, Type.*found Name, Kind"):
        read_participants([(path, "p.csv")], "export", SNAPSHOT)
    with pytest.raises(SourceFileError, match="missing TR01_COUNTRY"):
        read_participants([(path, "R01_ORGANIZATION.csv")], "legacy", SNAPSHOT)
    with pytest.raises(SourceFileError, match="unknown ungc_participants format 'pdf'"):
        read_participants([(path, "p.csv")], "pdf", SNAPSHOT)


@pytest.mark.parametrize("content,message", [
    (b"PK\x03\x04rest-of-a-zip", "ZIP/XLSX file, not CSV"),
    (b"Participant,Type\x00\x00,Sector\n", "binary content"),
    (b"", "empty file"),
], ids=["zip-named-csv", "nul-bytes", "empty"])
def test_files_that_are_not_csv_text_are_refused(tmp_path, content, message):
    path = tmp_path / "p.csv"
    path.write_bytes(content)
    with pytest.raises(SourceFileError, match=message):
        read_participants([(path, "p.csv")], "export", SNAPSHOT)


def test_utf16_latin1_bom_and_formula_cells(tmp_path):
    body = "=HYPERLINK(\"x\"),Company,,Côte d'Ivoire,2019-05-01,Active,,,,,\n"
    for name, data in (("u16.csv", (HEADER + body).encode("utf-16")), ("l1.csv", (HEADER + body).encode("latin-1")),
                       ("bom.csv", b"\xef\xbb\xbf" + (HEADER + body).encode())):
        (tmp_path / name).write_bytes(data)
        frame, rejects = read_participants([(tmp_path / name, name)], "export", SNAPSHOT)
        assert frame["participant_name"].to_list() == ['=HYPERLINK("x")']  # kept as text, never evaluated
        assert frame["country_iso3"].to_list() == ["CIV"], name


def test_legacy_real_file_every_row_published_or_rejected(realdata):
    folder = realdata / "ungc"
    files = [(p, p.name) for p in sorted(folder.glob("ungc-*.csv")) if "local-networks" not in p.name]
    frame, rejects = read_participants(files, "legacy", SNAPSHOT)
    source = pl.read_csv(folder / "ungc-participants-R01_ORGANIZATION-2009-12.csv", infer_schema=False)
    assert source.height == 10229
    rejected_lines = set(rejects.filter(pl.col("severity") == "error")["line"])
    assert frame.height + len(rejected_lines) == 10229
    assert set(frame["source_row"]).isdisjoint(rejected_lines)
    assert rejects.filter(pl.col("severity") == "error")["reason"].is_not_null().all()
    # statuses reconcile with the source flags
    kept = source.with_row_index("source_row", offset=2).filter(~pl.col("source_row").is_in(sorted(rejected_lines)))
    delisted = kept.filter((pl.col("ORG_ACTIVE") == "False") | (pl.col("ORG_STATUS_COP") == "3")).height
    active = kept.filter((pl.col("ORG_ACTIVE") == "True") & (pl.col("ORG_STATUS_COP") == "2")).height
    counts = dict(frame.group_by("status").len().iter_rows())
    assert counts["Delisted"] == delisted and counts["Active"] == active
    assert counts["Non-communicating"] == kept.height - delisted - active
    # types reconcile: every source type lands in exactly one canonical type
    by_source = dict(kept.group_by("TR02_TYPE").len().iter_rows())
    by_canonical = dict(frame.group_by("canonical_type").len().iter_rows())
    assert by_canonical["SME"] == by_source["SME"] + by_source["Micro Entreprise"]
    assert by_canonical["company"] == by_source["Company"]
    assert by_canonical["NGO"] == by_source["NGO Local"] + by_source["NGO Global"] + by_source["CSR Organization"]
    assert sum(by_canonical.values()) == frame.height
    # padded lookup values and stray quotes are cleaned; countries resolved
    assert "Armavir Development Center" in set(frame["participant_name"])
    assert frame["ownership"].drop_nulls().str.ends_with(" ").sum() == 0
    assert frame.filter(pl.col("source_participant_id") == "9950")["country_iso3"].item() == "ARM"
    assert frame["country_iso3"].null_count() == source.filter(pl.col("TR01_COUNTRY_ID") == "ZZ").height


def test_status_history_from_snapshots():
    rows = []
    for day, status, delisted in ((1, "Active", None), (2, "Active", None), (3, "Non-communicating", None),
                                  (4, "Active", None), (5, "Delisted", date(2026, 1, 4))):
        rows.append({"participant_id": "gc-1", "participant_name": "Acme", "status": status, "joined_on": date(2020, 1, 1),
                     "delisted_on": delisted, "delisting_reason": "Expulsion for failure to communicate progress" if delisted else None,
                     "snapshot_date": date(2026, 1, day)})
    rows.append({"participant_id": "gc-2", "participant_name": "Beta", "status": "Active", "joined_on": None,
                 "delisted_on": None, "delisting_reason": None, "snapshot_date": date(2026, 1, 2)})
    history = status_history(pl.DataFrame(rows).sample(fraction=1.0, shuffle=True, seed=3))
    acme = history.filter(pl.col("participant_id") == "gc-1").sort("spell_number")
    assert acme["status"].to_list() == ["Active", "Non-communicating", "Active", "Delisted"]
    assert acme["valid_from"].to_list() == [date(2020, 1, 1), date(2026, 1, 3), date(2026, 1, 4), date(2026, 1, 4)]
    assert acme["valid_to"].to_list()[:-1] == [date(2026, 1, 3), date(2026, 1, 4), date(2026, 1, 4)]
    assert acme["is_current"].to_list() == [False, False, False, True]
    assert acme["delisting_reason"].to_list()[-1] == "Expulsion for failure to communicate progress"
    beta = history.filter(pl.col("participant_id") == "gc-2").row(0, named=True)
    # no joining date: the start is unknown (null, flagged), not the first snapshot that happened to show it
    assert (beta["valid_from"], beta["valid_from_source"], beta["first_observed"]) == (None, "unknown", date(2026, 1, 2))
    assert beta["is_current"] is False  # not in the latest snapshot
    assert acme["valid_from_source"].to_list() == ["joining date", "first snapshot", "first snapshot", "delisting date"]
