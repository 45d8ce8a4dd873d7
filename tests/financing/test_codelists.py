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
