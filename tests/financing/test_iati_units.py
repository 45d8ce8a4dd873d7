"""The IATI files of a snapshot are built in units, one step each (any worker can take one), and
collected in file order. A unit is built without knowing the identifiers read before it: where it
read one of them it is built again after them. What is published and rejected must not depend on
how the files are cut into units; the expected values are derived from the list of activities."""

from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml

from assets.financing.assets import (
    IatiUnit,
    _spooled,
    iati_curated_tables,
    iati_spool_io_manager,
    landing_exchange_rates,
    landing_iati_activities,
)
from assets.financing.iati import plan_units, unit_stands
from pipelines.resources import HttpResource, QualityResource, SourcesResource, StorageResource
from pipelines.storage.store import DataStore
from tests.conftest import iati_xml
from tests.financing.test_iati_duplicates import ACTIVITIES, activity
from tests.financing.test_iati_duplicates import expected as first_read_wins

DAY = "2026-11-20"
# the duplicates' files, then one whose identifiers no file before it read (its unit stands)
UNITS_ACTIVITIES = [*ACTIVITIES, ("four.xml", "E-1", True), ("four.xml", "E-2", False), ("four.xml", "E-3", True)]
FILES = ["one.xml", "two.xml", "three.xml", "four.xml"]


def test_units_are_consecutive_files_of_about_the_unit_size(tmp_path):
    sizes = [30, 50, 40, 200, 10, 10]
    files = []
    for n, size in enumerate(sizes):
        (tmp_path / f"{n}.xml").write_bytes(b"x" * size)
        files.append((tmp_path / f"{n}.xml", f"{n}.xml"))
    names = lambda units: [[label for _, label in unit] for unit in units]  # noqa: E731
    # 30+50 < 100, +40 reaches it; 200 alone; the last two are what is left
    assert names(plan_units(files, 100)) == [["0.xml", "1.xml", "2.xml"], ["3.xml"], ["4.xml", "5.xml"]]
    assert names(plan_units(files, 0)) == [[label] for _, label in files]
    assert names(plan_units(files, 10_000)) == [[label for _, label in files]]
    assert plan_units([], 100) == []


def test_a_unit_stands_only_where_it_read_no_identifier_read_before_it():
    first_seen = {"A": "one.xml"}
    assert not unit_stands({"B": "two.xml", "A": "two.xml"}, first_seen)
    assert first_seen == {"A": "one.xml"}  # unchanged: the unit is built again after it
    assert unit_stands({"C": "two.xml", "B": "two.xml"}, first_seen)
    assert list(first_seen.items()) == [("A", "one.xml"), ("C", "two.xml"), ("B", "two.xml")]


def test_a_unit_whose_step_left_nothing_names_itself(tmp_path):
    unit = IatiUnit(DAY, 3, 5, (("a.xml", "a.xml"),), "gone-run", "print")
    with pytest.raises(FileNotFoundError, match=r"d20261120_u00003 \(2026-11-20\).*gone-run.*must run again"):
        _spooled(unit, DataStore(tmp_path))


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("units")
    for name in FILES:
        body = "".join(activity(i, status="2" if valid else "42") for f, i, valid in UNITS_ACTIVITIES if f == name)
        (folder / name).write_text(iati_xml(body), encoding="utf-8")
    (folder / "sources.yaml").write_text(yaml.safe_dump({"iati_activities": [str(folder / n) for n in FILES]}))
    return folder


def materialize(folder: Path, data_dir: Path, unit_mb: int, max_share: float = 0.5) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [landing_iati_activities, landing_exchange_rates, iati_curated_tables], partition_key=DAY,
        resources={"sources": SourcesResource(sources_file=str(folder / "sources.yaml"), iati_unit_mb=unit_mb),
                   "storage": StorageResource(data_dir=str(data_dir)),
                   "quality": QualityResource(max_reject_share=max_share), "http": HttpResource(),
                   "iati_spool": iati_spool_io_manager},
        raise_on_error=False)


def published(data_dir: Path) -> dict:
    con = duckdb.connect()
    scan = lambda t: f"read_parquet('{data_dir}/curated/{t}/**/*.parquet', hive_partitioning=true)"  # noqa: E731
    rejects = f"read_parquet('{data_dir}/quality/rejects/**/*.parquet', hive_partitioning=true)"
    return {
        "activities": sorted(con.sql(f"select iati_identifier from {scan('iati_activities')}").fetchall()),
        "transactions": sorted(con.sql(f"select iati_identifier from {scan('iati_transactions')}").fetchall()),
        "duplicates": sorted(con.sql(f"select file, record_key from {rejects} where \"check\" = 'field_uniqueness' "
                                     "and severity = 'error'").fetchall()),
        "rejected activities": con.execute(f"select count(distinct (file, line)) from {rejects} where "
                                           "\"table\" = 'iati_activities' and severity = 'error'").fetchone()[0],
    }


def expected() -> dict:
    """What one process reading the files in order publishes, from UNITS_ACTIVITIES alone."""
    kept, duplicates = first_read_wins(UNITS_ACTIVITIES)
    return {"activities": [(i,) for i in kept], "transactions": [(i,) for i in kept], "duplicates": duplicates,
            "rejected activities": len(UNITS_ACTIVITIES) - len(kept)}


@pytest.mark.parametrize("unit_mb", [0, 256])
def test_what_is_published_does_not_depend_on_the_units(folder, tmp_path, unit_mb):
    """Unit size 0 makes a unit of each file: the first stands, the second and third repeat
    identifiers read before them (built again), the fourth stands after them. 256: one unit."""
    result = materialize(folder, tmp_path / "data", unit_mb)
    assert result.success
    units = [e for e in result.all_events if e.is_step_success and e.step_key.startswith("iati_curated_tables.iati_unit[")]
    assert len(units) == (len(FILES) if unit_mb == 0 else 1)
    assert published(tmp_path / "data") == expected()
    materialized = {m.asset_key.path[-1]: m.metadata["dagster/row_count"].value
                    for m in result.asset_materializations_for_node("iati_curated_tables")}
    kept = len(expected()["activities"])
    assert materialized == {"iati_activities": kept, "iati_transactions": kept, "iati_participating_orgs": 0,
                            "iati_budgets": 0}
    checks = result.get_asset_check_evaluations()
    assert len(checks) == 4 and all(c.passed for c in checks)
    assert not (tmp_path / "data" / ".spool").exists() or not any((tmp_path / "data" / ".spool").iterdir())


def test_units_refused_by_the_gate_publish_their_rejects_and_leave_no_spool(folder, tmp_path):
    """No reject allowed: the date is refused whole (no table published), its rejects are, and the
    spool of its units is removed all the same."""
    data_dir = tmp_path / "data"
    result = materialize(folder, data_dir, 0, max_share=0.0)
    assert not result.success
    assert not (data_dir / "curated" / "iati_activities").exists() or \
        not any((data_dir / "curated" / "iati_activities").rglob("*.parquet"))
    duplicates = duckdb.connect().execute(
        f"select count(*) from read_parquet('{data_dir}/quality/rejects/**/*.parquet', hive_partitioning=true) "
        "where \"check\" = 'field_uniqueness'").fetchone()[0]
    assert duplicates == len(expected()["duplicates"])
    assert not (data_dir / ".spool").exists() or not any((data_dir / ".spool").iterdir())


def test_rates_are_read_once_per_content_in_a_process(tmp_path):
    """The unit steps of a run read the same exchange-rate files: read once, by their content (an
    IMF file with other rates is other rates; the packaged ECB history is its own entry)."""
    from types import SimpleNamespace

    import assets.financing.assets as financing

    def landed(name: str, body: str):
        (tmp_path / name).write_text(body)
        return SimpleNamespace(files=[(tmp_path / name, name)], digests=[(name, str(hash(body)))])

    header = "Date,Rate,Currency,Frequency,Source,Country code,Country\n"
    sources = SourcesResource()
    kes = header + "2024-12-31,129.2950,KES,A,IMF,KE,Kenya\n"
    kes, kes_again = landed("a.csv", kes), landed("b.csv", kes)
    other = landed("c.csv", header + "2024-12-31,125.0,KES,A,IMF,KE,Kenya\n")
    first = financing._rates(kes, sources)
    assert financing._rates(kes_again, sources) is first  # the same content, wherever it lies
    assert financing._rates(other, sources) is not first
    assert first.imf["usd_per_unit"].to_list() != financing._rates(other, sources).imf["usd_per_unit"].to_list()
    packaged = financing._rates(None, sources)
    assert packaged is financing._rates(None, sources) and packaged.imf.height == 0
    assert len(financing._rates_read) <= financing._RATES_KEPT


def test_files_landed_again_while_the_units_were_built_are_built_again_from_what_is_landed(folder, tmp_path,
                                                                                           monkeypatch):
    """The fingerprint the collecting step finds differs from the one the units were planned with
    (another run landed the date again): the units are not taken; the landed files are built there."""
    import assets.financing.assets as financing

    real, calls = financing._inputs, []

    def inputs(*args):
        found = real(*args)
        calls.append(found[2])
        return found if len(calls) == 1 else (*found[:2], found[2] + "-landed-again")

    from pipelines.storage.publish import PartitionWriter

    adopted = []
    real_adopt = PartitionWriter.adopt
    monkeypatch.setattr(PartitionWriter, "adopt", lambda self, *a: adopted.append(a) or real_adopt(self, *a))
    monkeypatch.setattr(financing, "_inputs", inputs)
    result = materialize(folder, tmp_path / "data", 0)
    assert result.success and len(calls) == 2
    assert adopted == []  # no unit taken
    assert published(tmp_path / "data") == expected()
    assert not (tmp_path / "data" / ".spool").exists() or not any((tmp_path / "data" / ".spool").iterdir())


def test_a_backfill_builds_the_units_of_identical_dates_once(folder, tmp_path):
    """Three dates with the same landed files in one run: the first date's units are built, the
    next dates reuse its output (as the collecting step publishes them in date order)."""
    from pipelines.calendar import PARTITION_RANGE_END, PARTITION_RANGE_START

    data_dir = tmp_path / "data"
    result = dg.materialize(
        [landing_iati_activities, landing_exchange_rates, iati_curated_tables],
        tags={PARTITION_RANGE_START: "2026-11-18", PARTITION_RANGE_END: DAY},
        resources={"sources": SourcesResource(sources_file=str(folder / "sources.yaml"), iati_unit_mb=0),
                   "storage": StorageResource(data_dir=str(data_dir)), "quality": QualityResource(),
                   "http": HttpResource(), "iati_spool": iati_spool_io_manager})
    assert result.success
    units = [e.step_key for e in result.all_events if e.is_step_success and "iati_unit[" in e.step_key]
    assert sorted(units) == [f"iati_curated_tables.iati_unit[d20261118_u{n:05d}]" for n in range(len(FILES))]
    kept = len(expected()["activities"])
    per_date = duckdb.connect().execute(
        f"select snapshot_date::varchar, count(*) from read_parquet('{data_dir}/curated/iati_activities/**/*.parquet', "
        "hive_partitioning=true) group by all order by 1").fetchall()
    assert per_date == [("2026-11-18", kept), ("2026-11-19", kept), (DAY, kept)]


def test_spools_idle_longer_than_kept_are_removed_but_the_current_runs(tmp_path):
    import os
    import time

    store = DataStore(tmp_path)
    old, fresh, current = (store.spool_dir(r) for r in ("old-run", "fresh-run", "current-run"))
    for spool in (old, fresh, current):
        (spool / "iati" / "u").mkdir(parents=True)
        (spool / "iati" / "u" / "unit.json").write_text("{}")
    week_ago = time.time() - 8 * 86400
    for spool in (old, current):
        for path in [spool, *spool.rglob("*")]:
            os.utime(path, (week_ago, week_ago))
    removed = store.clean_spool(older_than_seconds=7 * 86400, keep="current-run")
    assert removed == ["old-run"]
    assert not old.exists() and fresh.is_dir() and current.is_dir()
