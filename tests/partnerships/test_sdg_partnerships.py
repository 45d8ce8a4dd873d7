"""SDG partnership initiatives from JSON, CSV and XLSX (records or one-hot layout)."""

import io
import json
import zipfile
from datetime import date

import polars as pl
import pytest

from assets.io import SourceFileError
from assets.partnerships.sdg_partnerships import read_partnerships

SNAPSHOT = date(2026, 11, 25)


def records(tmp_path, rows, name="actions.json"):
    path = tmp_path / name
    path.write_text(json.dumps(rows), encoding="utf-8")
    return [(path, name)]


def test_json_records_give_initiatives_partners_and_sdg_rows(tmp_path):
    files = records(tmp_path, [
        {"id": "#SDGAction12345", "title": "Clean water", "lead_entity": "Acme plc", "lead_entity_type": "Private sector",
         "partners": ["UNICEF", "Société Générale"], "sdgs": [6, "SDG 3"], "targets": ["6.1", "6.A", "14.z"],
         "start_date": "2024-01-01", "end_date": "2025-12-31T00:00:00", "progress_status": "On track"},
        {"id": "#OceanAction41142", "title": "Mangroves", "lead_entity": "ZOLITUR", "partners": "WWF; Local fishers",
         "sdgs": "14", "targets": "", "start_date": "soon"},
        {"id": "SDG-1", "title": "broken id", "lead_entity": "X"},
        {"id": "#SDGAction12345", "title": "duplicate", "lead_entity": "Y"},
    ])
    initiatives, partners, sdgs, rejects = read_partnerships(files, None, SNAPSHOT)
    assert initiatives["action_id"].to_list() == ["#SDGAction12345", "#OceanAction41142"]
    first = initiatives.row(0, named=True)
    assert (first["platform"], first["action_number"], first["end_date"]) == ("SDGAction", 12345, date(2025, 12, 31))
    p = partners.filter(pl.col("action_id") == "#SDGAction12345")
    assert p["role"].to_list() == ["lead", "partner", "partner"]
    assert p["name_normalized"].to_list() == ["acme plc", "unicef", "societe generale"]
    assert partners.filter(pl.col("action_id") == "#OceanAction41142")["name_as_written"].to_list() == ["ZOLITUR", "WWF", "Local fishers"]
    codes = set(sdgs.filter(pl.col("action_id") == "#SDGAction12345").select(pl.format("{}:{}", "kind", "code")).to_series())
    assert codes == {"goal:6", "goal:3", "target:6.1", "target:6.a"}
    checks = {(r["check"], r["value"]) for r in rejects.to_dicts()}
    assert checks == {("isin", "14.z"), ("pattern", "SDG-1"), ("field_uniqueness", "#SDGAction12345"), ("parse", "soon")}


def test_csv_records_and_extension_that_lies(tmp_path):
    path = tmp_path / "actions.xlsx"  # really CSV
    path.write_text("id,title,lead_entity,partners,sdgs,targets\n#SDGAction1,T,Lead,\"A;B\",\"1,2\",1.2\n")
    initiatives, partners, sdgs, rejects = read_partnerships([(path, path.name)], None, SNAPSHOT)
    assert initiatives.height == 1 and partners.height == 3 and rejects.height == 0
    assert sorted(sdgs["code"]) == ["1", "1.2", "2"]


def _xlsx_with_member(name: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, "x")
    return buffer.getvalue()


@pytest.mark.parametrize("content,message", [
    (_xlsx_with_member("../../evil.xml"), "unsafe member path"),
    (_xlsx_with_member("xl/workbook.xml")[:-30], "truncated or corrupt|cannot read"),
    (b"<html><body>Login required</body></html>", "No column|missing|expected"),
    (b"[1, 2, 3]", "array of records"),
    (b'{"a": [1], "b": [2]}', "array of records"),
], ids=["zip-slip", "truncated-zip", "html-page", "json-not-records", "json-two-lists"])
def test_broken_and_hostile_files_are_refused_naming_the_file(tmp_path, content, message):
    path = tmp_path / "actions.bin"
    path.write_bytes(content)
    with pytest.raises(SourceFileError, match=message) as err:
        read_partnerships([(path, "actions.bin")], None, SNAPSHOT)
    assert "actions.bin" in str(err.value)


def test_real_ocean_commitments_one_hot_columns_become_rows(realdata):
    path = realdata / "partnerships" / "sdg-partnerships-ocean-commitments-2026-03.xlsx"
    initiatives, partners, sdgs, rejects = read_partnerships([(path, path.name)], None, SNAPSHOT)
    assert initiatives.height == 2650 and initiatives["action_id"].n_unique() == 2650
    raw = pl.read_excel(path, engine="calamine", infer_schema_length=0)
    one_hot = [c for c in raw.columns if c.startswith(("sdg_", "target_"))]
    ones = sum(int((raw[c].str.strip_chars() == "1").sum()) for c in one_hot)
    assert sdgs.height == ones
    assert sdgs.filter(pl.col("kind") == "goal").height == sum(int((raw[c] == "1").sum()) for c in one_hot if c.startswith("sdg_"))
    assert rejects.height == 0 and partners.height == 2650  # the lead entity of each
    assert initiatives["has_duplicate_title"].sum() == (raw["has_duplicate_title"] == "True").sum()
