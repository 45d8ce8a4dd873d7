"""Shared Dagster wiring for published tables: the asset decorator, validation and the publication
gate, run totals, checks and materializations, and the factory for tables read from landed files.

A source's pure builder turns the landed files of one snapshot into frames (not yet validated) and
the rows it already rejected; :func:`validate_and_publish` validates each frame with its Pandera
model, publishes rejects always and tables only when every table passes the gate, and
:func:`report` reports checks and materializations the same way for every table.
"""

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date

import dagster as dg
import polars as pl

from assets.io import SourceFileError
from assets.validation import Refusal, count_rejects, gate_counts, over_threshold, reject_share, split_valid
from pipelines.metadata import rejects_sample, table_schema
from pipelines.partitions import daily_snapshot_partitions, nightly_freshness, single_run_backfill
from pipelines.resources import QualityResource, SourcesResource, StorageResource
from pipelines.storage.publish import PartitionWriter
from pipelines.storage.reuse import fingerprint
from pipelines.storage.store import DataStore
from schemas.catalog import TABLES, TableSpec
from schemas.quality import REJECT_SCHEMA, empty_rejects, rejects_frame, validated_rejects

REJECT_CHECK = "reject_share_within_threshold"
# materialization metadata: the asset keys whose data the asset read in this run
INPUTS_READ = "inputs_read"


def detail(context, message: str) -> None:
    """A message about one date: INFO in a run of one date, DEBUG in a run over several (a backfill's
    INFO output stays a progress log: one line per step, what it published, and every warning)."""
    if len(context.partition_keys if context.has_partition_key_range or context.has_partition_key else []) > 1:
        context.log.debug(message)
    else:
        context.log.info(message)


def asset_key(table: str) -> dg.AssetKey:
    return dg.AssetKey([TABLES[table].layer, table])


def _table_attributes(table: TableSpec, group: str) -> dict:
    return {"key": [table.layer, table.name], "group_name": group, "description": table.description,
            "kinds": {"polars", "parquet"}, "freshness_policy": nightly_freshness,
            "metadata": {"dagster/column_schema": table_schema(table.model),
                         "dagster/table_name": f"{table.layer}/{table.name}", "partitioning": table.partitioning}}


def table_spec(table: TableSpec, group: str, deps: list[dg.AssetKey]) -> dg.AssetSpec:
    return dg.AssetSpec(**_table_attributes(table, group), deps=deps, skippable=True)


def table_out(table: TableSpec, group: str) -> dg.AssetOut:
    """The same table as an output of a graph of steps (:func:`table_spec`: deps are the graph's
    inputs); give the graph's asset :func:`graph_tables` for the freshness policy."""
    attributes = {k: v for k, v in _table_attributes(table, group).items() if k != "freshness_policy"}
    return dg.AssetOut(**attributes, is_required=False, dagster_type=dg.Nothing)


def graph_tables(assets: dg.AssetsDefinition) -> dg.AssetsDefinition:
    """A graph of steps' tables with the freshness policy of every table (a graph's asset takes none
    from its outputs)."""
    return assets.map_asset_specs(lambda spec: spec.replace_attributes(freshness_policy=nightly_freshness))


def reject_check_spec(table: TableSpec) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(REJECT_CHECK, asset=[table.layer, table.name], blocking=True,
                             description="Share of rejected records stays within the configured threshold; "
                                         "above it the partition is not published.")


def table_asset(name: str, tables: list[str], *, group: str, deps: list[dg.AssetKey], partitioned: bool = True,
                pool: str | None = None, extra_checks: tuple[dg.AssetCheckSpec, ...] = (),
                required_resource_keys: set[str] | None = None):
    """The decorator every table-publishing asset uses: one spec and one blocking reject check per
    table; daily snapshot partitions with single-run backfills, or none for a table that is one
    dataset (a whole table, or one published under the source's own dates)."""
    specs = [TABLES[t] for t in tables]
    return dg.multi_asset(
        name=name,
        specs=[table_spec(t, group, deps) for t in specs],
        check_specs=[reject_check_spec(t) for t in specs] + list(extra_checks),
        partitions_def=daily_snapshot_partitions if partitioned else None,
        backfill_policy=single_run_backfill if partitioned else None,
        pool=pool,
        required_resource_keys=required_resource_keys,
    )


@dataclass
class RunTotals:
    """Counts over every date one run published, for checks and materializations."""

    tables: list[str]
    rows: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    warnings: dict[str, int] = field(default_factory=dict)
    gated: dict[str, int] = field(default_factory=dict)  # rejected records as the gate weighs them
    refusals: list[Refusal] = field(default_factory=list)
    samples: list[pl.DataFrame] = field(default_factory=list)
    processed: list[str] = field(default_factory=list)
    per_date: dict[str, dict] = field(default_factory=dict)  # date -> {"rows", "rejected", "warnings"}
    reused: dict[str, str] = field(default_factory=dict)  # date -> date whose identical output was reused

    def add(self, snapshot_date: str, rows: dict[str, int], rejected: dict[str, int], warnings: dict[str, int],
            sample: pl.DataFrame | None = None, gated: dict[str, int] | None = None) -> None:
        self.processed.append(snapshot_date)
        self.per_date[snapshot_date] = {"rows": dict(rows), "rejected": dict(rejected), "warnings": dict(warnings),
                                        "gated": dict(gated if gated is not None else rejected)}
        for t in self.tables:
            self.rows[t] = self.rows.get(t, 0) + rows.get(t, 0)
            self.rejected[t] = self.rejected.get(t, 0) + rejected.get(t, 0)
            self.warnings[t] = self.warnings.get(t, 0) + warnings.get(t, 0)
            self.gated[t] = self.gated.get(t, 0) + (gated if gated is not None else rejected).get(t, 0)
        if sample is not None:
            self.samples.append(sample)

    def refuse(self, refusals: list[Refusal]) -> None:
        self.refusals.extend(refusals)

    def refused(self, snapshot_date: str) -> bool:
        return any(r.snapshot_date == snapshot_date for r in self.refusals)

    def passed(self, table: str) -> bool:
        """A table's check passes when no date refused it and no file of its source was refused."""
        return not any(r.table == table or r.file_error is not None for r in self.refusals)


def inputs_read(keys) -> dict:
    return {INPUTS_READ: dg.MetadataValue.json(sorted(set(keys)))}


def report(totals: RunTotals, store: DataStore, quality: QualityResource, source: str,
           extra_metadata: dict | None = None) -> Iterator:
    """Asset check results for every table, then a Failure if any date was refused, else materializations."""
    if not totals.processed:
        return
    refused_dates = sorted({r.snapshot_date for r in totals.refusals})
    published_dates = sorted(set(totals.processed) - set(refused_dates))
    # a run over several dates publishes the dates that passed: one bad day fails alone (its check
    # fails as a warning, so the tables built on this one still run for the other dates); a run
    # whose every date was refused fails
    fail_step = bool(totals.refusals) and not published_dates
    sample = pl.concat([empty_rejects(), *totals.samples])
    for table in totals.tables:
        yield dg.AssetCheckResult(
            asset_key=asset_key(table), check_name=REJECT_CHECK, passed=totals.passed(table),
            severity=dg.AssetCheckSeverity.ERROR if fail_step or totals.passed(table) else dg.AssetCheckSeverity.WARN,
            metadata={"rows": totals.rows[table], "rejected_records": totals.rejected[table],
                      "warnings": totals.warnings[table],
                      "rejected_with_their_parent": totals.rejected[table] - totals.gated[table],
                      "reject_share": reject_share(totals.rows[table], totals.gated[table]),
                      "threshold": quality.max_reject_share,
                      "refused_dates": dg.MetadataValue.json(refused_dates),
                      "refusals": dg.MetadataValue.json([str(r) for r in totals.refusals][:20]),
                      "sample": rejects_sample(sample.filter((pl.col("table") == table) & (pl.col("severity") == "error")))},
        )
    if fail_step:
        by_date: dict[str, list[str]] = {}
        for refusal in totals.refusals:
            by_date.setdefault(refusal.snapshot_date, []).append(str(refusal))
        raise dg.Failure(
            description="Not published: " + "; ".join(f"{d}: {', '.join(r)}" for d, r in by_date.items())
            + f". Rejects are in {store.rejects_dir(source)}/.",
            metadata={"refusals": dg.MetadataValue.json([r.__dict__ for r in totals.refusals])})
    for table in totals.tables:
        yield dg.MaterializeResult(asset_key=asset_key(table), metadata={
            "dagster/row_count": totals.rows[table],
            "rejected_records": totals.rejected[table],
            "warnings": totals.warnings[table],
            "partitions": len(published_dates),
            "refused_dates": dg.MetadataValue.json(refused_dates),
            "partitions_reused_unchanged_input": len(totals.reused),
            "reused_from": dg.MetadataValue.json(dict(sorted(totals.reused.items())[-10:])),
            "path": dg.MetadataValue.path(str(store.table_dir(table))),
            "rejects_path": dg.MetadataValue.path(str(store.rejects_dir(source))),
            **(extra_metadata or {}),
        })


def validate_and_publish(frames: dict[str, pl.DataFrame], rejects: pl.DataFrame, tables: list[str], *,
                         store: DataStore, quality: QualityResource, source: str, snapshot_date: str,
                         totals: RunTotals) -> dict[str, int]:
    """:func:`validate_and_publish_batches` for frames built whole."""
    return validate_and_publish_batches([(frames, rejects)], tables, store=store, quality=quality, source=source,
                                        snapshot_date=snapshot_date, totals=totals)


# a batch of a source: its frames by table (or the one frame of a single-table source) and the rows
# the builder already rejected
Batch = tuple[dict[str, pl.DataFrame] | pl.DataFrame, pl.DataFrame]


def validate_and_publish_batches(batches: Iterable[Batch], tables: list[str], *, store: DataStore,
                                 quality: QualityResource, source: str, snapshot_date: str,
                                 totals: RunTotals) -> dict[str, int]:
    """Validate each batch's tables, write their valid rows and all rejects as part files as the
    batches come (memory follows one batch), then publish the rejects always and the tables, as one
    set, unless the gate refuses one. Returns the rows published (or refused) per table. An error
    while building a batch (a file cut short in its last batch) publishes nothing and is raised.
    The writes hold the partition's lock, so two runs of one partition cannot interleave them."""
    with store.lock(f"{source}-{snapshot_date}"):
        writers = {t: store.table_writer(t, snapshot_date) for t in tables}
        reject_writer = store.rejects_writer(source, snapshot_date)
        rows, errors, warnings, gated = Counter(), Counter(), Counter(), Counter()
        schemas: dict[str, pl.Schema] = {}
        sample = empty_rejects()
        try:
            for number, (frames, rejects) in enumerate(batches):
                if isinstance(frames, pl.DataFrame):
                    frames = {tables[0]: frames}
                part = f"part-{number:05d}-00000"
                found = [rejects]
                for spec in (TABLES[t] for t in tables):
                    frame = frames[spec.name]
                    lines = frame["source_row"] if "source_row" in frame.columns else None
                    files = (frame["source_file"] if "source_file" in frame.columns
                             else pl.Series([None] * frame.height, dtype=pl.Utf8))
                    good, bad, _ = split_valid(frame, spec.model, table=spec.name, record_keys=spec.record_keys(frame),
                                               files=files, lines=lines)
                    writers[spec.name].write(good, part)
                    schemas[spec.name] = good.schema
                    rows[spec.name] += good.height
                    found.append(bad)
                batch_rejects = validated_rejects(pl.concat([empty_rejects(), *found]))
                reject_writer.write(batch_rejects, part)
                batch_errors, batch_warnings = count_rejects(batch_rejects)
                errors.update(batch_errors)
                warnings.update(batch_warnings)
                gated.update(gate_counts(batch_rejects))
                if sample.height < 50:
                    sample = pl.concat([sample, batch_rejects.filter(pl.col("severity") == "error")]).head(50)
            reject_writer.commit(empty_schema=REJECT_SCHEMA)  # rejects are published even when tables are not
        except BaseException:
            for writer in [*writers.values(), reject_writer]:
                writer.abort()
            raise
        settle(writers, schemas, dict(rows), dict(gated), store=store, quality=quality, snapshot_date=snapshot_date,
               totals=totals)
        totals.add(snapshot_date, {t: rows[t] for t in tables}, dict(errors), dict(warnings), sample, gated=dict(gated))
        return {t: rows[t] for t in tables}


def settle(writers: dict[str, PartitionWriter], schemas: dict, rows: dict[str, int], gated: dict[str, int], *,
           store: DataStore, quality: QualityResource, snapshot_date: str, totals: RunTotals) -> list[Refusal]:
    """The publication gate over written partitions: publish them as one set (the tables of one date
    become visible together) or, when a table's reject share is over the threshold, abort them all
    and record why. Returns the refusals."""
    refusals = over_threshold(snapshot_date, rows, gated, quality.max_reject_share)
    totals.refuse(refusals)
    if not refusals:
        store.publish_writers(writers, schemas)
        for table in writers:
            store.clear_refused(table, snapshot_date)
    else:
        for writer in writers.values():
            writer.abort()
        for table in writers:
            store.mark_refused(table, snapshot_date, "; ".join(str(r) for r in refusals))
    return refusals


def refuse_file(exc: SourceFileError, table: str, *, store: DataStore, source: str, snapshot_date: str,
                totals: RunTotals, context: dg.AssetExecutionContext, tables: list[str] | None = None) -> None:
    """A source file that cannot be read at all: one reject row names it; nothing is published."""
    context.log.error(f"{snapshot_date}: {exc}")
    for name in tables or [table]:
        store.mark_refused(name, snapshot_date, f"file {exc}")
    rejects = rejects_frame([{"table": table, "file": exc.file, "line": exc.line, "record_key": None, "column": None,
                              "check": "readable_file", "value": None, "reason": f"file refused: {exc.reason}",
                              "severity": "error"}])
    store.publish_rejects(source, snapshot_date, rejects)
    totals.refuse([Refusal(snapshot_date, table, file_error=str(exc))])
    totals.add(snapshot_date, {}, {table: 1}, {}, rejects)


def try_reuse(name: str, print_: str, snapshot_date: str, tables: list[str], reject_sources: list[str],
              store: DataStore, totals: RunTotals, context: dg.AssetExecutionContext) -> bool:
    """Publish an earlier date's output for ``snapshot_date`` when its inputs were identical."""
    found = store.reuse(name, print_, snapshot_date, tables, reject_sources)
    if found is None:
        return False
    previous, counts = found
    for table in tables:
        store.clear_refused(table, snapshot_date)
    totals.add(snapshot_date, counts["rows"], counts["rejected"], counts["warnings"], gated=counts.get("gated"))
    if previous != snapshot_date:
        totals.reused[snapshot_date] = previous
    detail(context, f"{snapshot_date}: inputs unchanged since {previous}: its published output reused, nothing parsed")
    return True


def remember(name: str, print_: str, snapshot_date: str, store: DataStore, totals: RunTotals) -> None:
    if snapshot_date in totals.per_date and not totals.refused(snapshot_date):
        store.remember(name, snapshot_date, print_, totals.per_date[snapshot_date])


# (files, format, snapshot date, max_table_bytes=...) -> one Batch, or an iterable of them (a source
# read in batches)
Builder = Callable[..., Batch | Iterable[Batch]]


def build_source_asset(*, name: str, source: str, group: str, tables: list[str], builder: Builder) -> dg.AssetsDefinition:
    """A multi-asset publishing ``tables`` for every snapshot date of the run from ``landing/<source>``.
    ``builder(files, fmt, snapshot, max_table_bytes=...)`` returns the frames by table and the rejects."""

    @table_asset(name, tables, group=group, deps=[dg.AssetKey(["landing", source])], pool=f"curated_{source}")
    def _asset(context: dg.AssetExecutionContext, storage: StorageResource, quality: QualityResource,
               sources: SourcesResource):
        store = storage.store()
        totals = RunTotals(tables=list(tables))
        read: set[str] = set()
        for snapshot_date in context.partition_keys:
            landed = store.landed(source, snapshot_date)
            if landed is None:
                detail(context, f"no landed {source} files for {snapshot_date}: skipped")
                continue
            read.add(f"landing/{source}")
            print_ = fingerprint(source, landed.digests, landed.format, quality.max_reject_share, sources.max_table_mb)
            if try_reuse(name, print_, snapshot_date, list(tables), [source], store, totals, context):
                continue
            try:
                built = builder(landed.files, landed.format, date.fromisoformat(snapshot_date),
                                max_table_bytes=sources.max_table_bytes)
                validate_and_publish_batches([built] if isinstance(built, tuple) else built, list(tables),
                                             store=store, quality=quality, source=source,
                                             snapshot_date=snapshot_date, totals=totals)
            except SourceFileError as exc:
                refuse_file(exc, tables[0], store=store, source=source, snapshot_date=snapshot_date, totals=totals,
                            context=context, tables=list(tables))
                continue
            remember(name, print_, snapshot_date, store, totals)
            detail(context, f"{snapshot_date}: " + ", ".join(
                f"{t} {totals.rows[t]} rows / {totals.rejected[t]} rejected" for t in totals.tables))
        yield from report(totals, store, quality, source, extra_metadata=inputs_read(read))

    return _asset
