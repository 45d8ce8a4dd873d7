"""Sensors: one starts a run when files appear or change in a drop folder (for sources delivered by
hand: point the sources file at ``<drop folder>/...`` and drop the files there); two record how
each run of the nightly job started by the daemon or the UI ended, for ``partnership summary``."""

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from assets.reporting.publication import catalog_materialized, publish_after_run
from pipelines.calendar import PARTITION_RANGE_END, PARTITION_RANGE_START, date_range
from pipelines.console import root_cause
from pipelines.jobs import nightly_job
from pipelines.resources import StorageResource
from pipelines.storage.store import DataStore

PARTITION_TAG = "dagster/partition"


def run_dates(tags: dict) -> list[str]:
    """The snapshot dates a run covered, from its partition tags ([] for a run without)."""
    start = tags.get(PARTITION_RANGE_START) or tags.get(PARTITION_TAG)
    end = tags.get(PARTITION_RANGE_END) or start
    if not start:
        return []
    return date_range(start, end)


def failure_lines(failure_events) -> list[str]:
    """One line per step that failed: the step and the root cause, once."""
    return sorted({f"{e.step_key}: {root_cause(e.event_specific_data.error)}" for e in failure_events})


def not_published_lines(evaluations) -> list[str]:
    """What a run that succeeded as a whole still refused (a date of a backfill that failed alone),
    one line per asset check that did not pass."""
    lines = []
    for evaluation in evaluations:
        if not evaluation.passed:
            refusals, dates = evaluation.metadata.get("refusals"), evaluation.metadata.get("refused_dates")
            what = "; ".join(refusals.value) if refusals is not None else evaluation.check_name
            when = ", ".join(dates.value) if dates is not None and dates.value else "?"
            lines.append(f"{evaluation.asset_key.to_user_string()} {when}: {what}")
    return sorted(set(lines))


def record_outcome(store: DataStore, dates: list[str], run_id: str, succeeded: bool, failed: list[str],
                   not_published: list[str]) -> str:
    status = "succeeded" if succeeded and not failed and not not_published else "failed"
    for day in dates:
        store.record_run(day, {"status": status, "run_id": run_id, "dates": [dates[0], dates[-1]],
                               "failed_steps": failed, "not_published": not_published})
    return status


def _record_from_instance(context: dg.RunStatusSensorContext, storage: StorageResource, succeeded: bool) -> None:
    run = context.dagster_run
    dates = run_dates(run.tags)
    if not dates:
        return
    records = context.instance.get_records_for_run(
        run.run_id, of_type={dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.ASSET_CHECK_EVALUATION,
                             dg.DagsterEventType.ASSET_MATERIALIZATION}).records
    events = [r.event_log_entry.dagster_event for r in records if r.event_log_entry.dagster_event is not None]
    failed = failure_lines(e for e in events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    checks = [e.event_specific_data for e in events if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION]
    store = storage.store()
    record_outcome(store, dates, run.run_id, succeeded, failed, not_published_lines(checks))
    materialized = (e.asset_key for e in events if e.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION)
    if not catalog_materialized(materialized):
        # the catalog step was skipped (a table it follows was not built): the tables that were
        # published still get their catalog and dictionary, as after a command-line run
        publish_after_run(store, context.repository_def.asset_graph if context.repository_def else None,
                          storage.publish_url, context.log.info)


@dg.run_status_sensor(run_status=dg.DagsterRunStatus.SUCCESS, monitored_jobs=[nightly_job],
                      default_status=dg.DefaultSensorStatus.RUNNING,
                      description="Records how a nightly run ended (state/runs/<date>.json), for partnership summary.")
def record_succeeded_runs(context: dg.RunStatusSensorContext, storage: StorageResource):
    _record_from_instance(context, storage, succeeded=True)


@dg.run_status_sensor(run_status=dg.DagsterRunStatus.FAILURE, monitored_jobs=[nightly_job],
                      default_status=dg.DefaultSensorStatus.RUNNING,
                      description="Records that a nightly run failed and why (state/runs/<date>.json).")
def record_failed_runs(context: dg.RunStatusSensorContext, storage: StorageResource):
    _record_from_instance(context, storage, succeeded=False)


def listing_fingerprint(folder: Path) -> tuple[str, int]:
    """A digest of every file's path, size and modification time under ``folder``; hidden and
    partial files (``.*``, ``*.part``, ``*.tmp``) are ignored until they are renamed into place."""
    digest = hashlib.sha256()
    count = 0
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.name.startswith(".") or path.suffix in (".part", ".tmp"):
            continue
        stat = path.stat()
        digest.update(f"{path.relative_to(folder)}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
        count += 1
    return digest.hexdigest(), count


@dg.sensor(job=nightly_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Runs today's partition when files in the drop folder (the storage resource's drop_folder, "
                       "PARTNERSHIP_DROP_FOLDER) appear or change.")
def drop_folder_sensor(context: dg.SensorEvaluationContext, storage: StorageResource):
    folder = storage.drop_path()
    if not folder.is_dir():
        return dg.SkipReason(f"drop folder {folder} does not exist")
    fingerprint, count = listing_fingerprint(folder)
    if count == 0:
        return dg.SkipReason(f"drop folder {folder} is empty")
    if fingerprint == context.cursor:
        return dg.SkipReason(f"no new or changed files in {folder}")
    context.update_cursor(fingerprint)
    today = datetime.now(UTC).date().isoformat()
    return dg.RunRequest(run_key=f"drop-{fingerprint[:16]}", partition_key=today,
                         tags={"partnership/trigger": "drop_folder", "partnership/files": str(count)})
