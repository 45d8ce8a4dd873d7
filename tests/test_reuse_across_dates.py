"""A date whose inputs hold the same bytes as an earlier date's reuses the earlier output for the
tables whose rows do not depend on the date; what it publishes is what a fresh build would."""

import shutil

import polars as pl
import pytest

from pipelines.storage.store import DataStore
from schemas.catalog import TABLES, WHOLE
from tests.test_end_to_end import SAMPLE_SOURCES, run

pytestmark = pytest.mark.slow
NEXT_DAY = "2026-11-21"


def test_a_reused_date_publishes_exactly_what_a_fresh_build_of_it_would(sample, tmp_path):
    reused_dir, fresh_dir = tmp_path / "reused", tmp_path / "fresh"
    shutil.copytree(sample, reused_dir, symlinks=True)
    reused = run(reused_dir, SAMPLE_SOURCES, partition=NEXT_DAY)
    assert reused.success and run(fresh_dir, SAMPLE_SOURCES, partition=NEXT_DAY).success
    said = [e.materialization.metadata.get("partitions_reused_unchanged_input") for e in reused.get_asset_materialization_events()
            if e.asset_key.path[-1] in ("organizations", "financing_flows", "partner_screening")]
    assert [m.value for m in said] == [1, 1, 1]  # these were reused, not rebuilt
    a, b = DataStore(reused_dir), DataStore(fresh_dir)
    for table, spec in TABLES.items():
        if spec.partitioning == WHOLE or table.startswith("sanction"):
            continue
        left, right = a.read_partition(table, NEXT_DAY), b.read_partition(table, NEXT_DAY)
        assert left is not None and right is not None, table
        key = [c for c in left.columns if left[c].dtype != pl.List(pl.Utf8) and not isinstance(left[c].dtype, (pl.List, pl.Struct))]
        assert left.sort(key).equals(right.sort(key)), table


def test_reference_tables_are_kept_until_a_package_they_come_from_changes(tmp_path, monkeypatch):
    """The reference tables hold the data of pycountry and country_converter: a run keeps the
    published files while the packages' versions (and the code) are the same, and builds them again,
    to the same rows, when a version changes."""
    import dagster as dg

    import assets.curated.assets as curated
    from pipelines.resources import QualityResource, StorageResource

    resources = {"storage": StorageResource(data_dir=str(tmp_path)), "quality": QualityResource()}
    store = DataStore(tmp_path)

    def materialize() -> dict[str, tuple[list[int], pl.DataFrame]]:
        assert dg.materialize([curated.reference_tables_asset], resources=resources).success
        return {t: ([f.stat().st_ino for f in sorted(store.table_dir(t).glob("*.parquet"))], store.read_partition(t, None))
                for t in curated.REFERENCE_TABLES}

    first = materialize()
    assert first["ref_countries"][1].height >= 249  # ISO 3166-1 has 249 codes
    kept = materialize()
    assert {t: inodes for t, (inodes, _) in kept.items()} == {t: inodes for t, (inodes, _) in first.items()}
    versions = curated.data_versions()
    monkeypatch.setattr(curated, "data_versions", lambda: {**versions, "pycountry": versions["pycountry"] + ".post1"})
    rebuilt = materialize()
    for table in curated.REFERENCE_TABLES:
        assert rebuilt[table][0] != first[table][0], f"{table} was not built again"
        assert rebuilt[table][1].equals(first[table][1]), table
