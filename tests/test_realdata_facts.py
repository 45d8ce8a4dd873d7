"""Facts an analyst asks of the real files, each checked against a value computed from the source
file with the standard library (csv, xml.etree), not through the project's code."""

import csv
from collections import Counter
from xml.etree import ElementTree

import polars as pl
import pytest

from schemas.vocabularies import PRIVATE_ORGANISATION_TYPES
from tests.conftest import PROJECT, REALDATA
from tests.test_end_to_end import DAY

pytestmark = [pytest.mark.realdata, pytest.mark.slow]
CEB = "financing/ceb-revenue_non_gov_donors.csv"
R01 = "ungc/ungc-participants-R01_ORGANIZATION-2009-12.csv"
IOM = "iati/activities/iom-XM-DAC-47066-real-577-activities-2.03.xml"


@pytest.fixture(scope="module")
def real(real_run):
    return real_run


def table(data_dir, name, layer="curated") -> pl.DataFrame:
    return pl.read_parquet(data_dir / layer / name / "**" / "*.parquet", hive_partitioning=True)


def csv_rows(relative: str) -> list[dict]:
    with open(REALDATA / relative, newline="", encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


def test_unicef_2023_private_money_is_what_the_ceb_codes_private(real):
    rows = [r for r in csv_rows(CEB) if r["entity"] == "UNICEF" and r["calendar_year"] == "2023"]
    expected = {"private sector": sum(float(r["amount"]) for r in rows if r["contrib_type"] == "C06"),
                "foundation": sum(float(r["amount"]) for r in rows if r["contrib_type"] == "C05")}
    assert round(expected["private sector"]) == 1_900_467  # the Asian Development Bank (C04A) is not in it
    mart = table(real, "mart_private_contributions_by_entity_year", "mart").filter(
        (pl.col("un_entity") == "UNICEF") & (pl.col("year") == 2023))
    assert {g: round(a, 2) for g, a in mart.select("contributor_group", "amount_usd").iter_rows()} == {
        g: round(a, 2) for g, a in expected.items()}


def test_a_row_the_ceb_classes_as_public_is_never_private_money(real):
    public_codes = {"C01", "C04A", "C04B", "C04C", "C04D", "C04E", "C08A"}
    public = {f"un_revenue:{CEB.split('/')[-1]}:{line}" for line, r in enumerate(csv_rows(CEB), start=2)
              if r["contrib_type"].strip() in public_codes}
    flows = table(real, "financing_flows").filter(pl.col("source_ref").is_in(sorted(public)))
    rejected = pl.read_parquet(real / "quality" / "rejects" / "source=un_revenue" / "**" / "*.parquet").filter(
        pl.col("severity") == "error").select(pl.format("un_revenue:{}:{}", "file", "line")).to_series()
    assert flows.height + len(public & set(rejected)) == len(public)  # every public row: a flow, or rejected
    assert flows.filter(pl.col("provider_type_code").is_in(PRIVATE_ORGANISATION_TYPES)).height == 0
    assert set(flows["provider_type_method"]) == {"CEB contributor type (code)"}
    adb = [r for r in csv_rows(CEB) if r["donor"] == "Asian Development Bank"]
    assert adb and {r["contrib_type"] for r in adb} == {"C04A"}


def iom_private_commitments() -> set[tuple[str, str, float]]:
    """Incoming commitments whose provider is named only by name, matched to a participating-org
    of the same activity with the same name and a private or foundation type."""
    found = set()
    for activity in ElementTree.parse(REALDATA / IOM).getroot().iter("iati-activity"):
        private = {(o.findtext("narrative") or "").strip() for o in activity.findall("participating-org")
                   if o.get("type") in PRIVATE_ORGANISATION_TYPES}
        for transaction in activity.findall("transaction"):
            provider = transaction.find("provider-org")
            name = (provider.findtext("narrative") or "").strip() if provider is not None else ""
            if transaction.find("transaction-type").get("code") == "11" and name in private:
                found.add((activity.findtext("iati-identifier"), name, float(transaction.find("value").text)))
    return found


def test_iom_private_funders_named_only_by_name_reach_the_flows(real):
    expected = iom_private_commitments()
    assert len(expected) == 4
    flows = table(real, "financing_flows").filter(pl.col("source") == "iati")
    got = {(i, round(a, 2)) for i, a in flows.select("iati_identifier", "amount_usd").iter_rows()}
    assert got == {(i, round(v, 2)) for i, _, v in expected}  # all in USD in the file
    assert set(flows["provider_type_method"]) == {"participating-org name"}
    assert flows["is_counted"].all()


def test_the_global_compacts_own_country_table_wins_over_iso(real):
    rows = csv_rows(R01)
    by_code = Counter(r["TR01_COUNTRY_ID"].strip() for r in rows)
    names = {r["COUNTRY_ID"]: r["COUNTRY_NAME"] for r in csv_rows("ungc/ungc-TR01_COUNTRY.csv")}
    assert (names["SE"], names["SW"]) == ("Serbia", "Sweden")
    participants = table(real, "gc_participants")
    counts = dict(participants.group_by("country_iso3").len().iter_rows())
    rejected = pl.read_parquet(real / "quality" / "rejects" / "source=ungc_participants" / "**" / "*.parquet").filter(
        pl.col("severity") == "error")["line"].to_list()
    rejected_codes = Counter(rows[line - 2]["TR01_COUNTRY_ID"].strip() for line in rejected)
    assert counts.get("SRB", 0) == by_code["SE"] - rejected_codes["SE"] == 42
    assert counts.get("SWE", 0) == by_code["SW"] - rejected_codes["SW"]


def test_delistings_start_on_the_date_the_source_records_or_are_flagged_unknown(real):
    rows = [r for r in csv_rows(R01) if r["ORG_ACTIVE"].strip() == "False"]
    dated = Counter(r["ORG_DATE_DELISTED"][:4] for r in rows if r["ORG_DATE_DELISTED"].strip())
    undated = sum(1 for r in rows if not r["ORG_DATE_DELISTED"].strip())
    assert dated["2005"] == 42 and undated == 853
    history = table(real, "gc_participant_status_history").filter(pl.col("status") == "Delisted")
    per_year = Counter(str(d.year) for d in history["valid_from"].drop_nulls())
    assert per_year == dated
    unknown = history.filter(pl.col("valid_from").is_null())
    assert unknown.height == undated and set(unknown["valid_from_source"]) == {"unknown"}
    assert history.filter(pl.col("valid_from") == pl.lit(DAY).str.to_date()).height == 0  # never the run date


def test_every_private_funding_participant_of_a_published_activity_is_a_listed_funder(real):
    published = set(table(real, "iati_activities")["iati_identifier"])
    expected = set()
    for path in sorted((REALDATA / "iati" / "activities").glob("*.xml")):
        root = ElementTree.parse(path).getroot()
        if root.tag != "iati-activities":
            continue
        for activity in root.iter("iati-activity"):
            identifier = (activity.findtext("iati-identifier") or "").strip()
            if identifier not in published:
                continue
            for index, org in enumerate(activity.findall("participating-org")):
                if org.get("role") == "1" and org.get("type") in PRIVATE_ORGANISATION_TYPES:
                    expected.add((identifier, index))
    funders = table(real, "activity_funders")
    assert set(funders.select("iati_identifier", "org_index").iter_rows()) == expected
    assert len(expected) == 4


def test_participants_per_country_follow_the_sources_country_table(real):
    """Each legacy row's TR01_COUNTRY_ID read through TR01_COUNTRY to a name, the name resolved by
    pycountry alone; countries whose TR01 name pycountry does not know are left out of the check."""
    import pycountry

    names = {r["COUNTRY_ID"]: r["COUNTRY_NAME"] for r in csv_rows("ungc/ungc-TR01_COUNTRY.csv")}

    def iso3(name):
        try:
            return pycountry.countries.lookup(name).alpha_3
        except LookupError:
            return None
    rows = csv_rows(R01)
    rejected = set(pl.read_parquet(real / "quality" / "rejects" / "source=ungc_participants" / "**" / "*.parquet")
                   .filter(pl.col("severity") == "error")["line"].to_list())
    expected = Counter(iso3(names[r["TR01_COUNTRY_ID"].strip()]) for line, r in enumerate(rows, start=2)
                       if line not in rejected and r["TR01_COUNTRY_ID"].strip() in names)
    expected.pop(None, None)
    got = dict(table(real, "gc_participants").group_by("country_iso3").len().iter_rows())
    assert {c: got.get(c, 0) for c in expected} == dict(expected)
    assert len(expected) > 100


def test_organisation_matching_on_labelled_real_name_pairs(real, capsys):
    """366 pairs of organisation mentions of the real files, labelled by reasoning about each pair
    (tests/fixtures/org_name_pairs_realdata.csv keeps each name's digest, its country, the label and
    the reason; the names themselves are found again in ../shared/realdata). More than half are hard:
    similar names of different organisations, or dissimilar names of one. The decision measured is
    the platform's own: do the two mentions end in one organisation of the real run."""
    from assets.curated.organizations import source_records
    from tests.curated.realdata_names import realdata_names

    names = realdata_names()
    pairs = list(csv.DictReader((PROJECT / "tests" / "fixtures" / "org_name_pairs_realdata.csv").open(encoding="utf-8")))
    assert len(pairs) >= 300 and sum(p["hard"] == "1" for p in pairs) >= len(pairs) / 2
    sources = ("gc_participants", "iati_activities", "iati_participating_orgs", "iati_transactions",
               "un_revenue_by_contributor", "partnership_partners")
    records = source_records({t: table(real, t) for t in sources}).join(
        table(real, "organization_source_links").select("source", "source_table", "source_key", "org_id"),
        on=["source", "source_table", "source_key"])
    org_ids: dict[tuple[str, str], set[str]] = {}
    for name, country, org_id in records.select("source_name", "country_iso3", "org_id").iter_rows():
        if name:
            org_ids.setdefault((" ".join(name.split()), country or ""), set()).add(org_id)

    counts = Counter()
    errors = []
    for p in pairs:
        a, b = (names[p["name_a"]], p["country_a"]), (names[p["name_b"]], p["country_b"])
        assert a in org_ids and b in org_ids, f"a labelled mention is not a record of the real run: {a} / {b}"
        decided, truth = bool(org_ids[a] & org_ids[b]), p["same"] == "1"
        for subset in ("all", "hard") if p["hard"] == "1" else ("all",):
            counts[subset, decided, truth] += 1
        if decided != truth:
            errors.append(f"{'merged' if decided else 'split'}: {a} / {b} ({p['reason']})")

    def figures(subset):
        tp, fp, fn = counts[subset, True, True], counts[subset, True, False], counts[subset, False, True]
        return tp / (tp + fp), tp / (tp + fn)

    precision, recall = figures("all")
    with capsys.disabled():
        print(f"\norganisation matching on {len(pairs)} labelled real pairs: precision {precision:.3f}, recall {recall:.3f}; "
              "hard pairs: precision {:.3f}, recall {:.3f}".format(*figures("hard")))
        print("\n".join(errors))
    assert precision >= 0.98
    assert recall >= 0.90
