"""Daily snapshot partitions: one partition per snapshot date (UTC), today's included."""

import dagster as dg

# end_offset=1 makes today's partition available, so the 02:00 UTC run snapshots the sources of the day.
daily_snapshot_partitions = dg.DailyPartitionsDefinition(start_date="2020-01-01", end_offset=1, timezone="UTC")

# One run can materialize a whole date range: every asset loops over context.partition_keys.
single_run_backfill = dg.BackfillPolicy.single_run()
