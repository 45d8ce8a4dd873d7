"""Partner screening: sanctions recall, clean names, Global Compact status, decisions."""

import random
from datetime import date

import polars as pl

from assets.curated.matching import normalize_expr
from assets.due_diligence.sanctions import read_sanctions_list
from assets.due_diligence.screening import read_decisions, screen

SNAPSHOT = date(2026, 11, 25)
CLEAN = [
    "Unilever PLC", "Nestlé S.A.", "Siemens AG", "Toyota Motor Corporation", "Safaricom PLC", "Tata Consultancy Services Limited",
    "Grupo Bimbo S.A.B. de C.V.", "Banco Santander S.A.", "Dangote Cement Plc", "Natura &Co Holding S.A.", "Novo Nordisk A/S",
    "Schneider Electric SE", "Mahindra & Mahindra Ltd", "Infosys Limited", "Standard Bank Group", "Equity Bank Kenya Limited",
    "Orange S.A.", "Vodafone Group Plc", "Ericsson AB", "Maersk Line A/S", "DP World Limited", "Olam International",
    "Fonterra Co-operative Group", "Woolworths Holdings", "Anglo American plc", "Holcim Ltd", "Danone S.A.", "L'Oréal S.A.",
    "Microsoft Corporation", "Google LLC", "Salesforce Inc.", "Novartis AG", "Roche Holding AG", "Philips N.V.",
    "Heineken N.V.", "Carlsberg A/S", "Telefónica S.A.", "Iberdrola S.A.", "Enel S.p.A.", "Acciona S.A.", "Votorantim S.A.",
    "Itaú Unibanco Holding S.A.", "Sasol Limited", "MTN Group Limited", "Ecobank Transnational", "Access Bank Plc",
    "Bill & Melinda Gates Foundation", "Rockefeller Foundation", "Wellcome Trust", "Aga Khan Foundation", "Ford Foundation",
    "Children's Investment Fund Foundation", "Mastercard Foundation", "IKEA Foundation", "Novo Nordisk Foundation",
    "Northwind Beverages plc", "Alpenrose Pharma AG", "Harbor Light Foundation", "Stichting Blauwe Oceaan",
    "Savanna Mobile Money Ltd", "Al Futtaim Group", "Emirates NBD Bank", "Qatar Airways", "Saudi Aramco",
    "Habib Bank Limited", "Engro Corporation Limited", "Bank Alfalah Limited", "Kenya Commercial Bank", "Ethio Telecom",
    "Afghan Wireless Communication Company", "Roshan Telecom", "Korea Electric Power Corporation", "Hyundai Motor Company",
]


def orgs(names):
    return (pl.DataFrame({"org_id": [f"o{i}" for i in range(len(names))], "canonical_name": names})
            .with_columns(normalize_expr("canonical_name").alias("name_normalized"), pl.lit(None, pl.Utf8).alias("country_iso3"),
                          pl.lit(None, pl.Utf8).alias("organization_type_code"), pl.lit(None, pl.Utf8).alias("gc_participant_id")))


NO_PARTICIPANTS = pl.DataFrame(schema={"participant_id": pl.Utf8, "status": pl.Utf8, "delisting_reason": pl.Utf8, "sector": pl.Utf8})
NO_DECISIONS = read_decisions(None)[0]


def variants(name: str, rng: random.Random) -> list[str]:
    out = [name.lower(), name.title(), name.replace(" ", ", ", 1) + ".", f"{name} Ltd", f"{name} S.A."]
    spots = [i for i in range(1, len(name)) if name[i].isalpha() and name[i - 1].isalpha() and name[i] != name[i - 1]]
    if spots:
        i = rng.choice(spots)
        chars = list(name)
        chars[i], chars[i - 1] = chars[i - 1], chars[i]
        out.append("".join(chars))
    return out


def test_every_sanctioned_entity_with_common_variations_is_flagged(realdata):
    listing = read_sanctions_list(realdata / "sanctions" / "un-sc-consolidated-2025-04-19.xml", "2025.xml")
    rng = random.Random(20261125)
    names = [v for n in listing.entities.filter(pl.col("record_type") == "entity")["name"] for v in variants(n, rng)]
    result, _ = screen(orgs(names), listing.entities, listing.aliases, NO_PARTICIPANTS, NO_DECISIONS, SNAPSHOT)
    missed = result.filter(~pl.col("flags").list.contains("sanctions_match"))["canonical_name"].to_list()
    assert missed == []
    assert result.filter(pl.col("risk_level") != "clear").height == len(names)


def test_clean_company_names_raise_no_high_risk(realdata):
    listing = read_sanctions_list(realdata / "sanctions" / "un-sc-consolidated-2025-04-19.xml", "2025.xml")
    result, _ = screen(orgs(CLEAN), listing.entities, listing.aliases, NO_PARTICIPANTS, NO_DECISIONS, SNAPSHOT)
    assert result.filter(pl.col("risk_level") == "high")["canonical_name"].to_list() == []


def _list():
    entities = pl.DataFrame({"reference_number": ["X.1"], "record_type": ["entity"], "un_list_type": ["Sample"],
                             "name": ["RED HARBOUR SHIPPING"]})
    aliases = pl.DataFrame(schema={"reference_number": pl.Utf8, "alias_index": pl.Int32, "alias_name": pl.Utf8, "quality": pl.Utf8})
    return entities, aliases


def test_global_compact_status_sectors_and_decisions(tmp_path):
    organizations = orgs(["Red Harbour Shipping Ltd", "Leaf & Smoke Tobacco Co", "Quiet Mill", "Lost Org", "Plain Trading"])
    organizations = organizations.with_columns(pl.Series("gc_participant_id", [None, "gc-2", "gc-3", "gc-4", None]))
    participants = pl.DataFrame({"participant_id": ["gc-2", "gc-3", "gc-4"], "status": ["Active", "Delisted", "Non-communicating"],
                                 "delisting_reason": [None, "Expulsion for failure to communicate progress", None],
                                 "sector": ["Tobacco", "Banks", "Media"]})
    decisions_file = tmp_path / "decisions.csv"
    decisions_file.write_text("org_id,decision,reviewer,date,reason\n"
                              "o0,cleared,ana,2026-01-02,not the listed shipping line\n"
                              "o-gone,excluded,ana,2025-01-01,merged\n"
                              "o4,maybe,ana,2026-01-01,typo in decision\n")
    decisions, bad = read_decisions(decisions_file)
    entities, aliases = _list()
    result, unknown = screen(organizations, entities, aliases, participants, decisions, SNAPSHOT)
    rows = {r["canonical_name"]: r for r in result.to_dicts()}
    shipping = rows["Red Harbour Shipping Ltd"]
    assert shipping["screened_risk_level"] == "high" and shipping["risk_level"] == "clear"
    assert shipping["sanctions_reference_number"] == "X.1" and shipping["decision_reviewer"] == "ana"
    assert any("reviewed decision 'cleared' by ana" in r for r in shipping["reasons"])
    assert rows["Leaf & Smoke Tobacco Co"]["risk_level"] == "high"
    assert set(rows["Leaf & Smoke Tobacco Co"]["flags"]) == {"excluded_sector", "exclusion_keyword"}
    assert rows["Quiet Mill"]["flags"] == ["gc_delisted"] and rows["Quiet Mill"]["risk_level"] == "review"
    assert rows["Lost Org"]["flags"] == ["gc_non_communicating"]
    assert rows["Plain Trading"]["risk_level"] == "clear" and rows["Plain Trading"]["reasons"] == []
    assert unknown["record_key"].to_list() == ["o-gone"] and unknown["severity"].to_list() == ["warning"]
    assert bad["value"].to_list() == ["maybe"]


def test_a_sector_alone_is_review_and_high_needs_direct_evidence():
    names = ["Fraport AG", "Sky Chefs Catering", "Cluster Munitions Works Ltd", "Northern Firearms Ltd", "Leaf Holdings"]
    organizations = orgs(names).with_columns(pl.Series("gc_participant_id", ["gc-1", "gc-2", "gc-3", None, "gc-5"]))
    participants = pl.DataFrame({"participant_id": ["gc-1", "gc-2", "gc-3", "gc-5"], "status": ["Active"] * 4,
                                 "delisting_reason": pl.Series([None] * 4, dtype=pl.Utf8),
                                 "sector": ["Aerospace & Defense", "Aerospace & Defense", "Aerospace & Defense", "Tobacco"]})
    entities, aliases = _list()
    result, _ = screen(organizations, entities, aliases, participants, NO_DECISIONS, SNAPSHOT)
    rows = {r["canonical_name"]: r for r in result.to_dicts()}
    for airport_or_caterer in ("Fraport AG", "Sky Chefs Catering"):
        row = rows[airport_or_caterer]
        assert (row["risk_level"], row["flags"]) == ("review", ["excluded_sector"])
        assert "check the organisation's activities" in row["reasons"][0]
    # an excluded activity named in the record is direct evidence
    assert rows["Cluster Munitions Works Ltd"]["risk_level"] == "high"
    assert rows["Northern Firearms Ltd"]["risk_level"] == "review"  # a word worth checking, no excluded activity
    assert rows["Leaf Holdings"]["risk_level"] == "high"  # the tobacco industry is excluded by UN policy


def packed_fragments(alias: str) -> list[str]:
    """Latin-script names packed in an alias string after the first ';'-separated list in
    parentheses, split here with plain string operations (a second, simpler reading)."""
    if ";" not in alias or "(" not in alias:
        return []
    inside = alias[alias.index("(") + 1:]
    names = []
    for piece in inside.replace(")", ";").replace("(", ";").split(";"):
        piece = piece.replace("- sub-unit name", "").strip(" ,")
        if (piece and all(ord(c) < 0x250 or not c.isalpha() for c in piece) and " " in piece
                and "original script" not in piece.lower()):
            names.append(piece)
    return names


def test_every_name_packed_in_a_listed_alias_is_flagged(realdata):
    path = realdata / "sanctions" / "un-sc-consolidated-2025-04-19.xml"
    listing = read_sanctions_list(path, path.name)
    packed = listing.aliases.select("alias_packed").unique()["alias_packed"].to_list()
    fragments = sorted({f for alias in packed for f in packed_fragments(alias)})
    assert {"Hayat Tahrir al-Sham", "Jabhat Fatah al-Sham", "Al-Nusra Front"} <= set(fragments)
    result, _ = screen(orgs(fragments), listing.entities, listing.aliases, NO_PARTICIPANTS, NO_DECISIONS, SNAPSHOT)
    missed = result.filter(~pl.col("flags").list.contains("sanctions_match"))["canonical_name"].to_list()
    print(f"packed alias fragments: {len(fragments)}, flagged {len(fragments) - len(missed)}")
    assert missed == []


def test_an_industry_in_the_name_of_a_union_is_not_that_industry():
    organizations = orgs(["International Union of Food and Tobacco Workers", "Leaf Tobacco Company Ltd"]).with_columns(
        pl.Series("organization_type_code", ["22", "70"]))
    entities, aliases = _list()
    result, _ = screen(organizations, entities, aliases, NO_PARTICIPANTS, NO_DECISIONS, SNAPSHOT)
    rows = {r["canonical_name"]: r["risk_level"] for r in result.to_dicts()}
    assert rows == {"International Union of Food and Tobacco Workers": "review", "Leaf Tobacco Company Ltd": "high"}


def test_generic_words_alone_do_not_match_a_listed_name(realdata):
    listing = read_sanctions_list(realdata / "sanctions" / "un-sc-consolidated-2025-04-19.xml", "2025.xml")
    generic = ["Drake International Ltd", "Berg International", "BidGive International Inc.", "Korea Development Bank",
               "Ministry of Finance", "Uganda Investment Authority"]
    result, _ = screen(orgs(generic + ["The International Brigade Ltd"]), listing.entities, listing.aliases,
                       NO_PARTICIPANTS, NO_DECISIONS, SNAPSHOT)
    flagged = result.filter(pl.col("flags").list.contains("sanctions_match"))
    assert flagged["canonical_name"].to_list() == ["The International Brigade Ltd"]
    hit = flagged.row(0, named=True)  # every match says what it matched and how well
    assert (hit["sanctions_match_alias"], hit["sanctions_alias_kind"], hit["sanctions_words_found"],
            hit["sanctions_words_missing"], hit["sanctions_coverage"], hit["sanctions_country_agreement"]) == (
        "The International Brigade", "name", ["international", "brigade"], [], 1.0, "unknown")


def test_screening_sees_every_registration_of_an_organisation():
    organizations = orgs(["Acme Trading"]).with_columns(pl.Series("gc_participant_id", ["gc-new"]))
    links = pl.DataFrame({"org_id": ["o0", "o0"], "source_table": ["gc_participants"] * 2,
                          "source_key": ["gc-new", "gc-old"]})
    participants = pl.DataFrame({"participant_id": ["gc-new", "gc-old"], "status": ["Active", "Delisted"],
                                 "delisting_reason": [None, "Removed due to Blacklisting"], "sector": ["Banks", "Banks"]})
    entities, aliases = _list()
    alone, _ = screen(organizations, entities, aliases, participants, NO_DECISIONS, SNAPSHOT)
    assert alone["risk_level"].to_list() == ["clear"]  # the current registration only
    both, _ = screen(organizations, entities, aliases, participants, NO_DECISIONS, SNAPSHOT, links)
    row = both.row(0, named=True)
    assert (row["gc_status"], row["risk_level"], row["flags"]) == ("Delisted", "high", ["gc_delisted"])
