"""Daily snapshot partitions: one partition per snapshot date (UTC), today's included."""

import warnings
from datetime import timedelta

import dagster as dg

from pipelines.calendar import FIRST_SNAPSHOT, NIGHTLY_HOUR_UTC, date_range

__all__ = ["FIRST_SNAPSHOT", "NIGHTLY_HOUR_UTC", "date_range", "daily_snapshot_partitions", "nightly_freshness",
           "single_run_backfill"]

# Single-run backfill policies are marked beta by Dagster; the project relies on them knowingly
# (a backfill is one run over the range), so the warning is not repeated on every start.
warnings.filterwarnings("ignore", category=dg.BetaWarning)

# end_offset=1 makes today's partition available, so the 02:00 UTC run snapshots the sources of the day.
daily_snapshot_partitions = dg.DailyPartitionsDefinition(start_date=FIRST_SNAPSHOT, end_offset=1, timezone="UTC")

# One run can materialize a whole date range: every asset loops over context.partition_keys.
single_run_backfill = dg.BackfillPolicy.single_run()

# The nightly schedule starts at 02:00 UTC; a run of the real sources takes minutes. Curated tables
# and marts are expected fresh by 04:00 UTC every day, from a run started after 02:00: a missed or
# failed nightly run shows in the UI as an asset that is not fresh.
nightly_freshness = dg.FreshnessPolicy.cron(deadline_cron="0 4 * * *", lower_bound_delta=timedelta(hours=2),
                                            timezone="UTC")
