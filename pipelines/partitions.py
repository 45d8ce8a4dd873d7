"""Daily snapshot partitions: one partition per snapshot date (UTC), today's included."""

import warnings

import dagster as dg

# Single-run backfill policies are marked beta by Dagster; the project relies on them knowingly
# (a backfill is one run over the range), so the warning is not repeated on every start.
warnings.filterwarnings("ignore", category=dg.BetaWarning)

# The first snapshot date. A snapshot lands the sources as they are on its day: a date before the
# platform ran has nothing of its own to show, so the partitions start here.
FIRST_SNAPSHOT = "2026-01-01"

# end_offset=1 makes today's partition available, so the 02:00 UTC run snapshots the sources of the day.
daily_snapshot_partitions = dg.DailyPartitionsDefinition(start_date=FIRST_SNAPSHOT, end_offset=1, timezone="UTC")

# One run can materialize a whole date range: every asset loops over context.partition_keys.
single_run_backfill = dg.BackfillPolicy.single_run()
