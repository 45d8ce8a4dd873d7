"""Counts on the real IATI files in ../shared/realdata/iati/activities: nothing silently lost."""

from datetime import date
from xml.etree import ElementTree

import polars as pl
import pytest

from assets.financing.fx import load_rates
from assets.financing.iati import build_iati_tables
from assets.financing.iati_transform import TABLES
from schemas.quality import empty_rejects

SNAPSHOT = date(2026, 11, 25)


class MemoryWriter:
    def __init__(self):
        self.parts: dict[str, pl.DataFrame] = {}

    def write(self, frame, part_name):
        self.parts[part_name] = frame

    def discard(self, prefix):
        names = [n for n in self.parts if n.startswith(prefix)]
        return sum(self.parts.pop(n).height for n in names)

    def frame(self):
        return pl.concat(list(self.parts.values())) if self.parts else empty_rejects()


@pytest.fixture(scope="module")
def real_rates():
    from tests.conftest import REALDATA
    if not REALDATA.is_dir():
        pytest.skip(f"real third-party data not found at {REALDATA}")
    rates_dir = REALDATA / "exchange_rates"
    return load_rates([rates_dir / "eurofxref-hist.csv", rates_dir / "imf-annual-end-of-period-per-USD.csv"])


def build(paths, rates):
    writers = {t: MemoryWriter() for t in TABLES}
    rejects = MemoryWriter()
    result = build_iati_tables([(p, p.name) for p in paths], SNAPSHOT, rates, writers, rejects)
    result.rejects = rejects.frame()
    return result, {t: w.frame() for t, w in writers.items()}


def test_iom_577_activities_and_577_incoming_commitments_in_usd(realdata, real_rates):
    result, tables = build([realdata / "iati/activities/iom-XM-DAC-47066-real-577-activities-2.03.xml"], real_rates)
    assert result.rows["iati_activities"] == 577 and result.rejected_records("iati_activities") == 0
    tx = tables["iati_transactions"]
    assert tx.height == 577
    assert set(tx["transaction_type_code"]) == {"11"} and set(tx["currency"]) == {"USD"}
    assert (tx["value_usd"] == tx["value"]).all()
    # four private-sector funders appear as participating-org type 70
    orgs = tables["iati_participating_orgs"]
    assert orgs.filter(pl.col("org_type_code") == "70")["org_name"].n_unique() == 4


def test_dutch_mfa_13_activities_72_transactions_in_eur_all_converted(realdata, real_rates):
    result, tables = build([realdata / "iati/activities/nl-mfa-XM-DAC-7-real-13-activities-2.03.xml"], real_rates)
    tx = tables["iati_transactions"]
    assert result.rows["iati_activities"] == 13 and tx.height == 72
    assert set(tx["currency"]) == {"EUR"} and tx["value_usd"].null_count() == 0
    assert set(tx["fx_source"]) == {"ECB reference rate"}
    assert (tx["fx_rate_date"] <= tx["value_date"]).all()


def test_dfid_albania_8_activities_41_transactions_in_gbp(realdata, real_rates):
    result, tables = build([realdata / "iati/activities/gb-dfid-albania-real-8-activities-2.01.xml"], real_rates)
    tx = tables["iati_transactions"]
    assert result.rows["iati_activities"] == 8 and tx.height == 41
    assert set(tx["currency"]) == {"GBP"} and tx["value_usd"].null_count() == 0
    assert set(tables["iati_activities"]["hierarchy"]) == {1, 2}
    assert set(tables["iati_activities"]["iati_version"]) == {"2.01"}


def test_legacy_101_file_quarantines_all_205_activities(realdata, real_rates):
    result, tables = build([realdata / "iati/activities/legacy-v1.01-gb-dfid-drc-205-activities.xml"], real_rates)
    assert result.rows["iati_activities"] == 0
    rejects = result.rejects.filter(pl.col("table") == "iati_activities")
    assert rejects.height == 205 and rejects["record_key"].n_unique() == 205
    assert set(rejects["reason"]) == {"unsupported IATI version 1.01"}
    assert result.rejected_records("iati_activities") == 205 and result.reject_share("iati_activities") == 1.0


def test_empty_file_gives_zero_rows_without_error(realdata, real_rates):
    result, _ = build([realdata / "iati/activities/edgecase-empty-iati-activities-2.01.xml"], real_rates)
    assert sum(result.rows.values()) == 0 and sum(result.rejected.values()) == 0 and not result.files[0].quarantined


def test_every_activity_of_every_file_is_published_or_rejected(realdata, real_rates):
    paths = sorted((realdata / "iati/activities").glob("*.xml"))
    result, tables = build(paths, real_rates)
    published = tables["iati_activities"].group_by("source_file").len()
    published = dict(published.iter_rows())
    for outcome in result.files:
        rejected = result.rejects.filter((pl.col("file") == outcome.file) & (pl.col("table") == "iati_activities")
                                         & (pl.col("severity") == "error"))
        if outcome.quarantined:  # the organisation example: wrong root, quarantined whole
            assert outcome.file.startswith("iati-official-organisation") and "wrong root" in outcome.reason
            continue
        assert published.get(outcome.file, 0) + rejected["record_key"].n_unique() == outcome.activities_seen, outcome.file
    # child rows always point at a published activity
    ids = set(tables["iati_activities"]["iati_identifier"])
    for table in ("iati_transactions", "iati_participating_orgs", "iati_budgets"):
        assert set(tables[table]["iati_identifier"]) <= ids


CHILD_ELEMENTS = {"iati_transactions": "transaction", "iati_budgets": "budget",
                  "iati_participating_orgs": "participating-org"}


def xml_counts(path) -> dict[str, int] | None:
    """What the file holds, counted with the standard library's parser: activities and their
    transactions, budgets and participating organisations (direct children of an activity). None
    where the file holds no <iati-activities> document."""
    root = ElementTree.parse(path).getroot()
    if root.tag != "iati-activities":
        return None
    activities = root.findall("iati-activity")
    counts = {"iati_activities": len(activities)}
    for table, tag in CHILD_ELEMENTS.items():
        counts[table] = sum(len(a.findall(tag)) for a in activities)
    return counts


def test_every_record_of_every_table_of_every_file_is_published_or_rejected(realdata, real_rates):
    """published + rejected == what the file holds, per table and per file, the file counted with a
    second parser; a record is rejected when an error reject row names it (its key and line)."""
    paths = sorted((realdata / "iati/activities").glob("*.xml"))
    result, tables = build(paths, real_rates)
    errors = result.rejects.filter(pl.col("severity") == "error")
    checked = 0
    for path in paths:
        expected = xml_counts(path)
        file_rejects = errors.filter(pl.col("file") == path.name)
        if expected is None:  # not an activity file: refused whole, nothing published
            assert file_rejects["check"].to_list() == ["readable_file"]
            assert all(t.filter(pl.col("source_file") == path.name).height == 0 for t in tables.values())
            continue
        for table, held in expected.items():
            published = tables[table].filter(pl.col("source_file") == path.name).height
            rejected = file_rejects.filter(pl.col("table") == table).select("record_key", "line").unique().height
            assert published + rejected == held, (path.name, table, published, rejected, held)
            checked += 1
    assert checked == 4 * (len(paths) - 1)


def test_refused_activities_leave_a_reject_row_for_each_child(realdata, real_rates):
    path = realdata / "iati/activities/legacy-v1.01-gb-dfid-drc-205-activities.xml"
    expected = xml_counts(path)
    assert expected == {"iati_activities": 205, "iati_transactions": 815, "iati_budgets": 442,
                        "iati_participating_orgs": 539}
    result, _ = build([path], real_rates)
    for table, held in expected.items():
        rows = result.rejects.filter(pl.col("table") == table)
        assert rows.height == held
        assert result.rejected_records(table) == held
        if table != "iati_activities":
            assert set(rows["check"]) == {"parent_rejected"}
            assert set(rows["reason"]) == {"activity rejected: unsupported IATI version 1.01"}
