"""The nightly job over every asset (daily snapshot partitions) and its 02:00 UTC schedule."""

import os

import dagster as dg

from pipelines.partitions import NIGHTLY_HOUR_UTC


def nightly_executor() -> dg.ExecutorDefinition:
    """In-process (below), or with ``PARTNERSHIP_EXECUTOR=celery`` Dagster's Celery executor: each
    step is a task on the broker ``PARTNERSHIP_CELERY_BROKER`` (results on
    ``PARTNERSHIP_CELERY_BACKEND``, the broker by default), run by whichever worker takes it
    (``make test-distributed``; README "Scaling out"). Workers load this same module, so they and
    the process launching the run must see the same environment."""
    choice = os.environ.get("PARTNERSHIP_EXECUTOR", "in_process")
    if choice == "in_process":
        return dg.in_process_executor
    if choice != "celery":
        raise ValueError(f"PARTNERSHIP_EXECUTOR must be in_process or celery, not {choice!r}")
    from dagster_celery import celery_executor

    broker = os.environ.get("PARTNERSHIP_CELERY_BROKER", "redis://127.0.0.1:6379/0")
    return celery_executor.configured({"broker": broker, "backend": os.environ.get("PARTNERSHIP_CELERY_BACKEND", broker)},
                                      name="celery")


# In-process: every step of a run in the run's one process. Dagster's default (a subprocess per
# step) spent most of a nightly run starting Python and importing the project 27 times: measured on
# the sample, `dagster job execute` took 124 s with it, 52 s with a forkserver that preloads the
# definitions, 25 s in-process (the command line: 20 s). Steps mostly wait on each other, so one
# process loses little; the work that can use both cores parallelises inside its step.
nightly_job = dg.define_asset_job(
    name="nightly_snapshot",
    selection=dg.AssetSelection.all(),
    description="Land every configured source and rebuild every curated table for one snapshot date.",
    executor_def=nightly_executor(),
)

# Runs at 02:00 UTC for the partition of that day (today's partition exists: end_offset=1).
nightly_schedule = dg.build_schedule_from_partitioned_job(
    nightly_job, hour_of_day=NIGHTLY_HOUR_UTC, minute_of_hour=0, name="nightly_snapshot_0200_utc",
    description="Every day at 02:00 UTC: land every configured source for the day's snapshot and rebuild every "
                "table, the catalog and the report. Curated tables and marts are expected fresh by 04:00 UTC.",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
