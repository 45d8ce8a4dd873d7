"""The snapshot calendar without Dagster: the first snapshot date, the nightly hour, date ranges and
the run tags of a range. The command line reads these before (or without) loading Dagster."""

from datetime import date

# The first snapshot date. A snapshot lands the sources as they are on its day: a date before the
# platform ran has nothing of its own to show, so the partitions start here.
FIRST_SNAPSHOT = "2026-01-01"

# The nightly schedule starts at 02:00 UTC.
NIGHTLY_HOUR_UTC = 2

# Dagster's run tags of a run over a range of partitions (one run for a backfill).
PARTITION_RANGE_START = "dagster/asset_partition_range_start"
PARTITION_RANGE_END = "dagster/asset_partition_range_end"


def date_range(start: str, end: str) -> list[str]:
    """Every snapshot date from ``start`` to ``end`` included, as YYYY-MM-DD."""
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    return [date.fromordinal(d).isoformat() for d in range(first.toordinal(), last.toordinal() + 1)]
