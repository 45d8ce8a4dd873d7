"""The carried codelists match IATI's and can be rebuilt from XML or CSV codelists."""

import pytest

from schemas.iati_codelists import REQUIRED_CODELISTS, fetch_codelists, load_codelists, write_codelists


def test_carried_codelists_hold_the_required_lists_with_names():
    carried = load_codelists()
    assert set(REQUIRED_CODELISTS) <= set(carried)
    assert carried["OrganisationType"]["70"] == "Private Sector"
    assert carried["OrganisationType"]["60"] == "Foundation"
    assert carried["TransactionType"]["11"] == "Incoming Commitment"
    assert {"USD", "EUR", "GBP", "KES", "XOF"} <= set(carried["Currency"])


def test_carried_codelists_equal_the_official_xml(realdata):
    official = fetch_codelists(str(realdata / "iati/codelists/xml_official"))
    carried = load_codelists()
    for name in REQUIRED_CODELISTS:
        assert carried[name] == {code: item["name"] for code, item in official[name].items()}, name


@pytest.mark.parametrize("folder", ["xml_official", "csv_codeforiati"])
def test_refresh_rebuilds_the_file_from_xml_or_csv(realdata, tmp_path, folder):
    names = ("OrganisationType", "TransactionType", "Currency")
    codelists = fetch_codelists(str(realdata / "iati/codelists" / folder), names)
    target = tmp_path / "codelists.yaml"
    write_codelists(codelists, origin=folder, path=target)
    loaded = load_codelists(target)
    assert loaded["OrganisationType"]["71"] == "Private Sector in Provider Country"
    assert len(loaded["Currency"]) > 150


def test_refresh_names_missing_codelists(tmp_path):
    with pytest.raises(FileNotFoundError, match="OrganisationType"):
        fetch_codelists(str(tmp_path), ("OrganisationType",))


@pytest.mark.parametrize("name,content,message", [
    ("OrganisationType.xml", b'<?xml version="1.0"?><!DOCTYPE c [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                             b'<codelist><codelist-items><codelist-item><code>&x;</code></codelist-item></codelist-items></codelist>',
     "DOCTYPE"),
    ("OrganisationType.xml", b"<codelist><codelist-items>", "not well-formed"),
    ("OrganisationType.xml", b"<html><body>Not found</body></html>", "wrong root element <html>"),
    ("OrganisationType.csv", b"\xff\xfe\x00garbage", "not UTF-8"),
    ("OrganisationType.csv", b"id,label\n1,x\n", "expected columns code"),
], ids=["xxe", "truncated", "html", "binary-csv", "wrong-csv"])
def test_broken_or_hostile_codelists_are_refused_naming_the_file(tmp_path, name, content, message):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(ValueError, match=message) as err:
        fetch_codelists(str(tmp_path), ("OrganisationType",))
    assert name in str(err.value) and "root:" not in str(err.value)
