"""The code location loads, and every asset, check, job and schedule can be built."""

from datetime import UTC, datetime

import dagster as dg

from assets.reporting.publication import CATALOG_KEY, COOKBOOK_CHECK, COPY_KEY, REPORT_KEY
from pipelines.definitions import defs
from pipelines.storage.settings import KNOWN_SOURCES
from schemas.catalog import CURATED_TABLES as CURATED_MODELS
from schemas.catalog import SNAPSHOT, TABLES, WHOLE


def test_definitions_load_and_every_job_and_schedule_resolves():
    repo = defs.get_repository_def()  # resolves every asset, check, job and schedule
    assert {j.name for j in repo.get_all_jobs()} >= {"nightly_snapshot"}
    keys = {k.to_user_string() for k in repo.asset_graph.get_all_asset_keys()}
    # one landing asset per source, one asset per catalogued table, the catalog and the report
    assert keys == ({f"landing/{s}" for s in KNOWN_SOURCES} | {f"{spec.layer}/{name}" for name, spec in TABLES.items()}
                    | {CATALOG_KEY.to_user_string(), REPORT_KEY.to_user_string()})
    checks = {c.name for c in repo.asset_graph.asset_check_keys}
    assert checks == {"reject_share_within_threshold", "reconciles_with_facts", COOKBOOK_CHECK}
    # both run after every table they read: the catalog after all of them
    assert repo.asset_graph.get(CATALOG_KEY).parent_keys == {dg.AssetKey([s.layer, n]) for n, s in TABLES.items()}


def test_every_asset_has_a_description_a_group_and_curated_ones_a_column_schema():
    graph = defs.get_repository_def().asset_graph
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.description, key
        assert node.group_name in {"financing", "partnerships", "networks", "due_diligence", "curated", "reporting"}, key
        assert key.path[0] in {"landing", "raw", "curated", "mart"}, key
        if key.path[0] in ("curated", "mart") and key not in (CATALOG_KEY, REPORT_KEY, COPY_KEY):
            schema = node.metadata["dagster/column_schema"]
            names = [c.name for c in schema.columns]
            # a partitioned table ends with its partition column (a whole table may carry dates as data)
            assert names[-1] == "snapshot_date" or TABLES[key.path[1]].partitioning == WHOLE, key
            assert all(c.description for c in schema.columns), key
            assert len(schema.columns) == len(CURATED_MODELS[key.path[1]].to_schema().columns)
            assert {"polars", "parquet"} <= set(node.kinds)


def test_the_published_copy_is_in_the_graph_where_its_place_is_set(tmp_path):
    from pipelines.definitions import build_definitions
    from pipelines.resources import StorageResource

    assert COPY_KEY not in defs.get_repository_def().asset_graph.get_all_asset_keys()
    repo = build_definitions({"storage": StorageResource(data_dir=str(tmp_path), publish_url="s3://bucket/p")}
                             ).get_repository_def()
    node = repo.asset_graph.get(COPY_KEY)
    assert node.parent_keys == {CATALOG_KEY, REPORT_KEY} and node.freshness_policy.deadline_cron == "0 4 * * *"
    assert COPY_KEY in repo.get_job("nightly_snapshot").asset_layer.asset_graph.get_all_asset_keys()


def test_nightly_schedule_runs_at_0200_utc_for_the_day_partition():
    schedule = defs.get_repository_def().get_schedule_def("nightly_snapshot_0200_utc")
    assert schedule.cron_schedule == "0 2 * * *" and (schedule.execution_timezone or "UTC") == "UTC"
    context = dg.build_schedule_context(scheduled_execution_time=datetime(2026, 11, 25, 2, 0, tzinfo=UTC))
    [request] = list(schedule.evaluate_tick(context).run_requests)
    assert request.partition_key == "2026-11-25"


def test_every_partitioned_asset_backfills_a_range_in_one_run_and_one_dataset_tables_are_unpartitioned():
    graph = defs.get_repository_def().asset_graph
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if key.path[0] != "landing" and key.path[1] in TABLES and TABLES[key.path[1]].partitioning != SNAPSHOT:
            assert node.partitions_def is None, key  # one dataset: whole, or under the source's own dates
            continue
        assert node.partitions_def is not None, key
        assert node.backfill_policy is not None and node.backfill_policy.max_partitions_per_run is None, key


def test_curated_tables_and_marts_promise_the_nightly_freshness_and_the_schedule_says_what_it_does():
    repo = defs.get_repository_def()
    for key in repo.asset_graph.get_all_asset_keys():
        policy = repo.asset_graph.get(key).freshness_policy
        if key.path[0] in ("curated", "mart"):
            assert policy is not None and policy.deadline_cron == "0 4 * * *", key
    schedule = repo.get_schedule_def("nightly_snapshot_0200_utc")
    assert schedule.cron_schedule == "0 2 * * *" and "02:00 UTC" in schedule.description
    partitions = repo.get_job("nightly_snapshot").partitions_def
    first = partitions.get_partition_keys(current_time=datetime(2026, 11, 30, tzinfo=UTC))[0]
    assert first == "2026-01-01"  # no partition before the first snapshot
