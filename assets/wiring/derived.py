"""The factory for derived tables: tables built from other published tables.

A derived asset is a declaration: the tables it publishes, the tables it reads (each with how much of
it: the run date's partition, the latest partition on or before that date, or every partition), and a
pure build function. From that one list of inputs come the Dagster dependencies (so lineage and
subset runs are right), the fingerprint of the inputs (so unchanged inputs reuse the earlier output)
and the reads: the build function is handed exactly the declared inputs and nothing else, and the
materialization records what it read, so a test can hold the two equal.
"""

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date

import dagster as dg
import polars as pl

from assets.validation import Refusal
from assets.wiring.tables import (
    INPUTS_READ,
    RunTotals,
    asset_key,
    detail,
    remember,
    report,
    table_asset,
    try_reuse,
    validate_and_publish,
)
from pipelines.storage.reuse import fingerprint
from pipelines.storage.store import DataStore
from schemas.catalog import TABLES, WHOLE
from schemas.quality import empty_rejects

PARTITION = "partition"  # the run date's partition (a DataFrame, or None where it was not published)
AS_OF = "as_of"  # the latest partition on or before the run date (a DataFrame, or None)
ALL = "all"  # every published partition, with snapshot_date (a LazyFrame, or None)


@dataclass(frozen=True)
class Input:
    table: str
    scope: str = PARTITION

    def __post_init__(self):
        assert self.table in TABLES and self.scope in (PARTITION, AS_OF, ALL), self


@dataclass
class Built:
    """What a build function returns for one date."""

    frames: dict[str, pl.DataFrame]
    rejects: pl.DataFrame = field(default_factory=empty_rejects)
    counters: dict[str, int] = field(default_factory=dict)  # summed over the run's dates into the metadata
    checks: dict[str, tuple[bool, dict]] = field(default_factory=dict)  # extra check -> (passed, metadata)
    refusal: str | None = None  # a reason not to publish this date
    log: str | None = None
    warning: str | None = None


class Inputs(Mapping):
    """The declared inputs of one date, read when first asked for; asking for anything else fails."""

    def __init__(self, store: DataStore, declared: list[Input], snapshot_date: str | None):
        self._store, self._snapshot_date = store, snapshot_date
        self._declared = {i.table: i for i in declared}
        self._values: dict[str, object] = {}
        self.read: list[str] = []
        self.dates = {i.table: self._resolve(i) for i in declared}  # table -> partition date(s) read

    def _resolve(self, spec: Input) -> list[str | None]:
        if TABLES[spec.table].partitioning == WHOLE:
            return [None]
        dates = self._store.partition_dates(spec.table)
        if spec.scope == ALL:
            return dates
        if spec.scope == PARTITION:
            return [self._snapshot_date] if self._snapshot_date in dates else []
        earlier = [d for d in dates if self._snapshot_date is None or d <= self._snapshot_date]
        return earlier[-1:]

    def as_of(self, table: str) -> str | None:
        """The partition date an AS_OF input resolved to."""
        return (self.dates[table] or [None])[0]

    def present(self, table: str) -> bool:
        return bool(self.dates[table]) and (self.dates[table] != [None] or self._store.has_partition(table, None))

    def digest(self, *, with_run_date: bool = True) -> list:
        """What the inputs hold: the sha256 of every file of every partition read, with its date;
        without ``with_run_date``, a partition of the run's own date is named by its content only
        (the same bytes on another date fingerprint the same)."""
        def named(t: str, d: str | None) -> str | None:
            same_day = self._declared[t].scope == PARTITION and d == self._snapshot_date
            return "<run date>" if same_day and not with_run_date else d

        return [(t, named(t, d), self._store.digest(t, d)) for t, dates in self.dates.items() for d in dates]

    def latest_date(self) -> str | None:
        dates = [d for ds in self.dates.values() for d in ds if d]
        return max(dates) if dates else None

    def __getitem__(self, table: str):
        if table not in self._declared:
            raise KeyError(f"{table} is not a declared input (declared: {', '.join(self._declared)})")
        if table not in self._values:
            self.read.append(table)
            spec = self._declared[table]
            if not self.present(table):
                value = None
            elif spec.scope == ALL and TABLES[table].partitioning != WHOLE:
                value = self._store.scan_table(table)
            else:
                value = self._store.read_partition(table, self.dates[table][0])
            self._values[table] = value
        return self._values[table]

    def __iter__(self):
        return iter(self._declared)

    def __len__(self) -> int:
        return len(self._declared)


# build(inputs, snapshot date or None for a whole table, **settings) -> Built, or None to skip the date
Build = Callable[..., Built | None]
# settings(context) -> (fingerprint parts, keyword arguments for build)
Settings = Callable[[dg.AssetExecutionContext], tuple[tuple, dict]]


@dataclass(frozen=True)
class DerivedTable:
    """The declaration of a derived asset."""

    name: str  # the Dagster op name
    outputs: list[str]
    inputs: list[Input]
    build: Build
    group: str
    required: tuple[str, ...] | str = ()  # inputs that must be present, or "any"
    settings: Settings | None = None
    resource_keys: frozenset[str] = frozenset()
    extra_checks: tuple[dg.AssetCheckSpec, ...] = ()
    pool: str | None = None
    # Whether the rows depend on the run date itself (beyond the snapshot_date partition column):
    # a table counting "the last 12 months" does; one that only conforms its inputs does not, and
    # then a date whose inputs hold the same bytes as an earlier date's reuses that date's output.
    uses_run_date: bool = True

    @property
    def partitioned(self) -> bool:
        return TABLES[self.outputs[0]].partitioning != WHOLE

    @property
    def deps(self) -> list[dg.AssetKey]:
        return [asset_key(i.table) for i in self.inputs]

    def ready(self, inputs: Inputs) -> bool:
        if self.required == "any":
            return any(inputs.present(t) for t in inputs)
        return all(inputs.present(t) for t in self.required)


DERIVED: dict[str, DerivedTable] = {}  # every declared derived asset, by op name


def derived_asset(table: DerivedTable) -> dg.AssetsDefinition:
    """A multi-asset for ``table``: for each date of the run (once for a whole table), the declared
    inputs are fingerprinted; an unchanged fingerprint reuses the earlier output; otherwise the
    build runs on the inputs and its frames are validated and published like any table's."""
    source = table.outputs[0]
    DERIVED[table.name] = table

    @table_asset(table.name, table.outputs, group=table.group, deps=table.deps, partitioned=table.partitioned,
                 pool=table.pool, extra_checks=table.extra_checks,
                 required_resource_keys={"storage", "quality", *table.resource_keys})
    def _asset(context: dg.AssetExecutionContext) -> Iterator:
        store: DataStore = context.resources.storage.store()
        quality = context.resources.quality
        totals = RunTotals(tables=list(table.outputs))
        parts, kwargs = table.settings(context) if table.settings else ((), {})
        counters: dict[str, int] = {}
        checks: dict[str, list[tuple[str, bool, dict]]] = {c.name: [] for c in table.extra_checks}
        read: set[str] = set()
        for snapshot_date in (context.partition_keys if table.partitioned else [None]):
            inputs = Inputs(store, table.inputs, snapshot_date)
            label = snapshot_date or inputs.latest_date()
            refused = [(i.table, why) for i in table.inputs if snapshot_date and (why := store.refusal(i.table, snapshot_date))]
            if refused:
                # an input's latest version for this date was refused: building from the rest would
                # publish a table that silently lacks it
                reason = f"input refused for this date: {', '.join(t for t, _ in refused)} ({refused[0][1]})"
                context.log.error(f"{snapshot_date}: {source} not built: {reason}")
                totals.refuse([Refusal(snapshot_date, source, reason=reason)])
                totals.add(snapshot_date, {}, {}, {})
                for name in table.outputs:
                    store.mark_refused(name, snapshot_date, refused[0][1])  # the first cause, for what is built on it
                continue
            if not table.ready(inputs):
                detail(context, f"{snapshot_date or source}: {', '.join(i.table for i in table.inputs)}: "
                                 "required inputs not published: skipped")
                continue
            print_ = fingerprint(table.name, inputs.digest(with_run_date=table.uses_run_date), parts,
                                 quality.max_reject_share)
            if try_reuse(table.name, print_, label, list(table.outputs), [source], store, totals, context):
                for name in checks:
                    checks[name].append((label, True, {"reused": True}))
                continue
            day = date.fromisoformat(snapshot_date) if snapshot_date else None
            built = table.build(inputs, day, **kwargs)
            read.update(asset_key(t).to_user_string() for t in inputs.read)
            if built is None:
                detail(context, f"{label}: nothing to build: skipped")
                continue
            for name, (ok, meta) in built.checks.items():
                checks[name].append((label, ok, meta))
            for counter, n in built.counters.items():
                counters[counter] = counters.get(counter, 0) + n
            if built.refusal:
                totals.refuse([Refusal(label, source, reason=built.refusal)])
                totals.add(label, {}, {}, {})
                continue
            validate_and_publish(built.frames, built.rejects, list(table.outputs), store=store, quality=quality,
                                 source=source, snapshot_date=label, totals=totals)
            remember(table.name, print_, label, store, totals)
            if built.log:
                detail(context, f"{label}: {built.log}")
            if built.warning:
                context.log.warning(f"{label}: {built.warning}")
        if not totals.processed:
            return
        for name, results in checks.items():
            yield dg.AssetCheckResult(asset_key=asset_key(source), check_name=name,
                                      passed=all(ok for _, ok, _ in results),
                                      metadata={d: dg.MetadataValue.json(m) for d, _, m in results[-5:]})
        yield from report(totals, store, quality, source, extra_metadata={
            INPUTS_READ: dg.MetadataValue.json(sorted(read)), **counters})

    return _asset
