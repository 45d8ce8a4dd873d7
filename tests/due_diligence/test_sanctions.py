"""UN sanctions list: listings, aliases, snapshot dates and changes."""

import polars as pl
import pytest

from assets.due_diligence.sanctions import (
    COMPARED_FIELDS,
    read_sanctions_list,
    sanctions_changes,
    split_alias,
)
from assets.io import SourceFileError

LIST = """<?xml version="1.0"?>
<CONSOLIDATED_LIST dateGenerated="{generated}"><INDIVIDUALS>
<INDIVIDUAL><DATAID>1</DATAID><VERSIONNUM>1</VERSIONNUM><FIRST_NAME> RI </FIRST_NAME><SECOND_NAME>WON HO</SECOND_NAME>
<UN_LIST_TYPE>DPRK</UN_LIST_TYPE><REFERENCE_NUMBER>KPi.001</REFERENCE_NUMBER><LISTED_ON>2016-03-02</LISTED_ON>
<NATIONALITY><VALUE>Democratic People's Republic of Korea</VALUE></NATIONALITY>
<INDIVIDUAL_ALIAS><QUALITY>Good</QUALITY><ALIAS_NAME>Ri Won-ho</ALIAS_NAME></INDIVIDUAL_ALIAS></INDIVIDUAL>
</INDIVIDUALS><ENTITIES>{entities}</ENTITIES></CONSOLIDATED_LIST>"""
ENTITY = ("<ENTITY><DATAID>{n}</DATAID><FIRST_NAME>{name}</FIRST_NAME><UN_LIST_TYPE>Al-Qaida</UN_LIST_TYPE>"
          "<REFERENCE_NUMBER>{ref}</REFERENCE_NUMBER><LISTED_ON>2002-01-11</LISTED_ON>"
          "<ENTITY_ADDRESS><COUNTRY>Pakistan</COUNTRY></ENTITY_ADDRESS></ENTITY>")


def write(tmp_path, name, generated, entities):
    body = "".join(ENTITY.format(n=i, name=n, ref=r) for i, (r, n) in enumerate(entities))
    path = tmp_path / name
    path.write_text(LIST.format(generated=generated, entities=body))
    return read_sanctions_list(path, name)


def test_listings_aliases_and_snapshot_date_from_date_generated(tmp_path):
    listing = write(tmp_path, "l.xml", "2020-11-30T20:31:19.923-05:00", [("QDe.069", "AFGHAN SUPPORT COMMITTEE (ASC)")])
    assert str(listing.snapshot_date) == "2020-11-30"
    rows = {r["reference_number"]: r for r in listing.entities.to_dicts()}
    assert rows["KPi.001"]["name"] == "RI WON HO" and rows["KPi.001"]["nationality_countries"] == ["PRK"]
    assert rows["KPi.001"]["record_type"] == "individual" and rows["QDe.069"]["address_countries"] == ["PAK"]
    assert listing.aliases.to_dicts() == [{"reference_number": "KPi.001", "alias_index": 0, "part_index": 0,
                                           "alias_name": "Ri Won-ho", "alias_kind": "name", "alias_packed": "Ri Won-ho",
                                           "quality": "Good"}]


def test_changes_between_snapshots_in_date_order(tmp_path):
    early = write(tmp_path, "b.xml", "2024-01-01T00:00:00Z", [("QDe.1", "ALPHA"), ("QDe.2", "BETA")])
    late = write(tmp_path, "a.xml", "2025-01-01T00:00:00Z", [("QDe.2", "BETA TRUST"), ("QDe.3", "GAMMA")])
    frames = [(s.entities.with_columns(pl.lit(s.snapshot_date).alias("snapshot_date")),
               s.aliases.with_columns(pl.lit(s.snapshot_date).alias("snapshot_date"))) for s in (late, early)]
    changes = sanctions_changes(pl.concat([f[0] for f in frames]), pl.concat([f[1] for f in frames]))
    got = {(r["reference_number"], r["change"]): r["changed_fields"] for r in changes.to_dicts()}
    assert got == {("QDe.1", "removed"): [], ("QDe.3", "added"): [], ("QDe.2", "amended"): ["name"]}


@pytest.mark.parametrize("content,message", [
    ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><CONSOLIDATED_LIST dateGenerated="2025-01-01"/>', "DOCTYPE"),
    ('<iati-activities version="2.03"/>', "wrong root element <iati-activities>"),
    ("<CONSOLIDATED_LIST><INDIVIDUALS>", "dateGenerated"),
    ('<CONSOLIDATED_LIST dateGenerated="2025-01-01"><INDIVIDUALS><INDIVIDUAL>', "not well-formed"),
    ('<CONSOLIDATED_LIST dateGenerated="yesterday"/>', "not an ISO timestamp"),
], ids=["xxe", "wrong-root", "no-date", "truncated", "bad-date"])
def test_broken_and_hostile_lists_are_refused(tmp_path, content, message):
    path = tmp_path / "list.xml"
    path.write_text(content)
    with pytest.raises(SourceFileError, match=message) as err:
        read_sanctions_list(path, "list.xml")
    assert "list.xml" in str(err.value) and "root:" not in str(err.value)


def test_real_snapshots_changes_equal_the_set_difference(realdata):
    lists = sorted((read_sanctions_list(p, p.name) for p in sorted((realdata / "sanctions").glob("*.xml"))),
                   key=lambda s: s.generated)
    old, new = lists
    assert (str(old.snapshot_date), str(new.snapshot_date)) == ("2020-11-30", "2025-04-19")
    assert (old.entities.height, new.entities.height) == (1018, 877)
    assert new.entities.filter(pl.col("record_type") == "entity").height == 193
    # 2704 listed alias strings; several pack more than one name (split into parts, the string kept)
    assert new.aliases.select("reference_number", "alias_index").n_unique() == 2704 and not old.rejects and not new.rejects
    assert new.aliases.height > 2704
    entities = pl.concat([s.entities.with_columns(pl.lit(s.snapshot_date).alias("snapshot_date")) for s in lists])
    aliases = pl.concat([s.aliases.with_columns(pl.lit(s.snapshot_date).alias("snapshot_date")) for s in lists])
    changes = sanctions_changes(entities, aliases)
    before, after = set(old.entities["reference_number"]), set(new.entities["reference_number"])
    counts = dict(changes.group_by("change").len().iter_rows())
    assert counts["added"] == len(after - before) == 45
    assert counts["removed"] == len(before - after) == 186
    # amended: listings in both lists whose compared fields differ, computed here with plain Python
    expected = {}
    old_state, new_state = _state(old), _state(new)
    for reference in before & after:
        fields = sorted(f for f in COMPARED_FIELDS if old_state[reference][f] != new_state[reference][f])
        if fields:
            expected[reference] = fields
    amended = changes.filter(pl.col("change") == "amended")
    assert {r: sorted(f) for r, f in zip(amended["reference_number"], amended["changed_fields"], strict=True)} == expected
    assert counts["amended"] == len(expected)


def _state(listing) -> dict[str, dict]:
    """Each listing's compared fields as Python values: lists as sorted tuples, aliases as a set."""
    aliases: dict[str, set] = {}
    for row in listing.aliases.iter_rows(named=True):
        aliases.setdefault(row["reference_number"], set()).add(row["alias_name"])
    state = {}
    for row in listing.entities.iter_rows(named=True):
        values = {f: tuple(sorted(v)) if isinstance(v, list) else (v or None) for f, v in row.items()}
        values["aliases"] = frozenset(aliases.get(row["reference_number"], ()))
        state[row["reference_number"]] = values
    return state


def test_packed_aliases_are_split_with_original_scripts_marked():
    text = ("Hay’at Tahrir al-Sham (HTS) (هيئة تحرير الشام (original script); Hay’at Tahrir al-Sham; Hayat Tahrir al-Sham; "
            "Liberation of the Levant Organisation Tahrir al-Sham")  # the list cuts this string short
    assert split_alias(text) == [("Hay’at Tahrir al-Sham", "name"), ("HTS", "acronym"),
                                 ("هيئة تحرير الشام", "original_script"), ("Hayat Tahrir al-Sham", "name"),
                                 ("Liberation of the Levant Organisation Tahrir al-Sham", "name")]
    assert split_alias("جبهة النصرة (the Victory Front; Al-Nusra Front)") == [
        ("جبهة النصرة", "original_script"), ("the Victory Front", "name"), ("Al-Nusra Front", "name")]
    assert split_alias("Amir Khazmat (original script: Амир Хазмат)") == [
        ("Amir Khazmat", "name"), ("Амир Хазмат", "original_script")]
    assert split_alias("(Sheikh) Musa Hilal") == [("Musa Hilal", "name"), ("Sheikh Musa Hilal", "name")]
    assert split_alias("Ezatullah Haqqani (previously listed as)") == [("Ezatullah Haqqani", "name")]
    assert split_alias("AL-HARAMAYN FOUNDATION (KENYA)") == [("AL-HARAMAYN FOUNDATION", "name")]
    assert split_alias("Leader (Hong Kong) International Trading Limited") == [
        ("Leader (Hong Kong) International Trading Limited", "name")]
    assert split_alias("Abdul Rehman; Abd Ur-Rehman") == [("Abdul Rehman", "name"), ("Abd Ur-Rehman", "name")]


def test_what_resolves_a_person_hit_is_published_as_listed(realdata):
    """Dates and places of birth, designations and addresses, counted per listing with the
    standard library's parser."""
    from xml.etree import ElementTree

    path = realdata / "sanctions" / "un-sc-consolidated-2025-04-19.xml"
    root = ElementTree.parse(path).getroot()

    def texts(el, tags):
        return [(el.findtext(t) or "").strip() for t in tags]
    expected = {}
    for record in [*root.iter("INDIVIDUAL"), *root.iter("ENTITY")]:
        address_tag = "INDIVIDUAL_ADDRESS" if record.tag == "INDIVIDUAL" else "ENTITY_ADDRESS"
        expected[record.findtext("REFERENCE_NUMBER").strip()] = (
            sum(1 for d in record.iter("INDIVIDUAL_DATE_OF_BIRTH") if any(texts(d, ("DATE", "YEAR", "FROM_YEAR", "TO_YEAR")))),
            sum(1 for p in record.iter("INDIVIDUAL_PLACE_OF_BIRTH") if any(texts(p, ("CITY", "STATE_PROVINCE", "COUNTRY")))),
            sum(1 for v in record.iterfind("DESIGNATION/VALUE") if (v.text or "").strip()),
            sum(1 for a in record.iter(address_tag)
                if any(texts(a, ("STREET", "CITY", "STATE_PROVINCE", "ZIP_CODE", "COUNTRY", "NOTE")))),
        )
    listing = read_sanctions_list(path, path.name)
    got = {r["reference_number"]: (len(r["dates_of_birth"]), len(r["places_of_birth"]), len(r["designations"]),
                                   len(r["addresses"])) for r in listing.entities.iter_rows(named=True)}
    assert got == expected
    assert sum(1 for v in expected.values() if v[0]) > 600  # nearly every listed person has a date of birth
