"""Shared Dagster wiring for curated tables: validation, thresholds, publication and reporting.

A source's pure builder turns the landed files of one snapshot into frames (not yet validated) and
the rows it already rejected; this module validates each frame with its Pandera model, publishes
rejects always and tables only when every table's reject share is within the threshold, and reports
asset checks and materializations the same way for every source.
"""

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import dagster as dg
import pandera.polars as pa
import polars as pl

from assets.io import SourceFileError
from assets.validation import split_valid
from pipelines.incremental import find_reusable, fingerprint, record, reuse_partition
from pipelines.landing import read_manifest
from pipelines.locks import partition_lock
from pipelines.metadata import rejects_sample, table_schema
from pipelines.partitions import daily_snapshot_partitions, single_run_backfill
from pipelines.publish import partition_dirname, publish_frame
from pipelines.resources import QualityResource, StorageResource
from schemas.quality import REJECT_SCHEMA, empty_rejects

REJECT_CHECK = "reject_share_within_threshold"


@dataclass(frozen=True)
class TableSpec:
    name: str
    model: type[pa.DataFrameModel]
    description: str
    key: Callable[[pl.DataFrame], pl.Series]  # record key of each row, for rejects


def curated_spec(table: TableSpec, group: str, deps: list, layer: str = "curated") -> dg.AssetSpec:
    return dg.AssetSpec(
        [layer, table.name], group_name=group, description=table.description, kinds={"polars", "parquet"},
        deps=deps, skippable=True,
        metadata={"dagster/column_schema": table_schema(table.model), "dagster/table_name": f"{layer}/{table.name}"},
    )


def reject_check_spec(table: str, layer: str = "curated") -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(REJECT_CHECK, asset=[layer, table], blocking=True,
                             description="Share of rejected records stays within the configured threshold; "
                                         "above it the partition is not published.")


def table_asset(name: str, tables: list[TableSpec], *, group: str, deps: list, layer: str = "curated",
                pool: str | None = None, extra_checks: tuple[dg.AssetCheckSpec, ...] = ()):
    """The decorator every table-publishing asset uses: one spec and one blocking reject check per
    table, daily snapshot partitions, single-run backfills."""
    deps = [d if isinstance(d, dg.AssetKey) else dg.AssetKey(d) for d in deps]
    return dg.multi_asset(
        name=name,
        specs=[curated_spec(t, group, deps, layer) for t in tables],
        check_specs=[reject_check_spec(t.name, layer) for t in tables] + list(extra_checks),
        partitions_def=daily_snapshot_partitions,
        backfill_policy=single_run_backfill,
        pool=pool,
    )


@dataclass
class RunTotals:
    """Counts over every snapshot date of one run, for checks and materializations."""

    tables: list[str]
    rows: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    warnings: dict[str, int] = field(default_factory=dict)
    refused: dict[str, list[str]] = field(default_factory=dict)  # date -> reasons
    samples: list[pl.DataFrame] = field(default_factory=list)
    processed: list[str] = field(default_factory=list)
    per_date: dict[str, dict] = field(default_factory=dict)  # date -> {"rows", "rejected", "warnings"}
    reused: dict[str, str] = field(default_factory=dict)  # date -> date whose identical output was reused

    def add(self, snapshot_date: str, rows: dict[str, int], rejected: dict[str, int], warnings: dict[str, int],
            sample: pl.DataFrame) -> None:
        self.processed.append(snapshot_date)
        self.per_date[snapshot_date] = {"rows": dict(rows), "rejected": dict(rejected), "warnings": dict(warnings)}
        for t in self.tables:
            self.rows[t] = self.rows.get(t, 0) + rows.get(t, 0)
            self.rejected[t] = self.rejected.get(t, 0) + rejected.get(t, 0)
            self.warnings[t] = self.warnings.get(t, 0) + warnings.get(t, 0)
        self.samples.append(sample)

    def refused_tables(self) -> set[str]:
        return {reason.split(" ")[0] for reasons in self.refused.values() for reason in reasons}


def report(totals: RunTotals, storage: StorageResource, quality: QualityResource, source: str,
           paths: dict[str, Path] | None = None, layer: str = "curated") -> Iterator:
    """Asset check results for every table, then a Failure if any date was refused, else materializations."""
    if not totals.processed:
        return
    sample = pl.concat([empty_rejects(), *totals.samples])
    refused = totals.refused_tables()
    for table in totals.tables:
        seen = totals.rows[table] + totals.rejected[table]
        yield dg.AssetCheckResult(
            asset_key=[layer, table], check_name=REJECT_CHECK,
            passed=table not in refused and not any(r.startswith("file ") for rs in totals.refused.values() for r in rs),
            metadata={"rows": totals.rows[table], "rejected_records": totals.rejected[table],
                      "warnings": totals.warnings[table], "reject_share": totals.rejected[table] / seen if seen else 0.0,
                      "threshold": quality.max_reject_share,
                      "sample": rejects_sample(sample.filter((pl.col("table") == table) & (pl.col("severity") == "error")))},
        )
    if totals.refused:
        raise dg.Failure(description=(
            "Not published: " + "; ".join(f"{d}: {', '.join(reasons)}" for d, reasons in totals.refused.items())
            + f" (threshold {quality.max_reject_share:.0%}). Rejects are in {storage.rejects}/source={source}/."))
    for table in totals.tables:
        yield dg.MaterializeResult(asset_key=[layer, table], metadata={
            "dagster/row_count": totals.rows[table],
            "rejected_records": totals.rejected[table],
            "warnings": totals.warnings[table],
            "partitions": len(totals.processed),
            "partitions_reused_unchanged_input": len(totals.reused),
            "reused_from": dg.MetadataValue.json(dict(sorted(totals.reused.items())[-10:])),
            "path": dg.MetadataValue.path(str((paths or {}).get(table, storage.root / layer / table))),
            "rejects_path": dg.MetadataValue.path(str(storage.rejects / f"source={source}")),
        })


def count_rejects(rejects: pl.DataFrame) -> tuple[dict[str, int], dict[str, int]]:
    errors = dict(rejects.filter(pl.col("severity") == "error").group_by("table")
                  .agg(pl.coalesce("record_key", "file").n_unique()).iter_rows())
    warnings = dict(rejects.filter(pl.col("severity") == "warning").group_by("table").len().iter_rows())
    return errors, warnings


def validate_and_publish(frames: dict[str, pl.DataFrame], rejects: pl.DataFrame, specs: list[TableSpec], *,
                         storage: StorageResource, quality: QualityResource, source: str, snapshot_date: str,
                         totals: RunTotals, partition: dict[str, str] | None = None,
                         layer: str = "curated") -> dict[str, pl.DataFrame]:
    """Validate each table, publish the rejects, then the tables unless a share is over the threshold.
    The writes hold the partition's lock, so two runs of one partition cannot interleave them."""
    with partition_lock(storage.root, f"{source}-{snapshot_date}"):
        return _validate_and_publish(frames, rejects, specs, storage=storage, quality=quality, source=source,
                                     snapshot_date=snapshot_date, totals=totals, partition=partition, layer=layer)


def _validate_and_publish(frames, rejects, specs, *, storage, quality, source, snapshot_date, totals, partition, layer):
    valid: dict[str, pl.DataFrame] = {}
    all_rejects = [rejects]
    for spec in specs:
        frame = frames[spec.name]
        lines = frame["source_row"] if "source_row" in frame.columns else None
        files = frame["source_file"] if "source_file" in frame.columns else pl.Series([None] * frame.height, dtype=pl.Utf8)
        good, bad, _ = split_valid(frame, spec.model, table=spec.name, record_keys=spec.key(frame), files=files, lines=lines)
        valid[spec.name] = good
        all_rejects.append(bad)
    rejects = pl.concat([empty_rejects(), *all_rejects]).select(REJECT_SCHEMA.names())
    publish_frame(rejects, storage.rejects, {"source": source, "snapshot_date": snapshot_date}, storage.staging)
    errors, warnings = count_rejects(rejects)
    rows = {t: f.height for t, f in valid.items()}
    shares = {t: errors.get(t, 0) / (rows[t] + errors.get(t, 0)) if rows[t] + errors.get(t, 0) else 0.0 for t in rows}
    over = [t for t, share in shares.items() if share > quality.max_reject_share]
    if over:
        totals.refused[snapshot_date] = [f"{t} {shares[t]:.0%} rejected" for t in over]
    else:
        for spec in specs:
            publish_frame(valid[spec.name], storage.root / layer / spec.name,
                          partition if partition is not None else {"snapshot_date": snapshot_date}, storage.staging)
    totals.add(snapshot_date, rows, errors, warnings, rejects.filter(pl.col("severity") == "error").head(50))
    return valid


def read_partition(storage: StorageResource, table: str, snapshot_date: str) -> pl.DataFrame | None:
    """One published partition of a curated table, or None where it was not published."""
    folder = storage.curated / table / f"snapshot_date={snapshot_date}"
    files = sorted(folder.glob("*.parquet"))
    return pl.concat([pl.read_parquet(f) for f in files], how="vertical_relaxed") if files else None


def read_all_partitions(storage: StorageResource, table: str) -> pl.DataFrame | None:
    """Every published partition of a curated table, with its snapshot_date."""
    folder = storage.curated / table
    if not any(folder.glob("snapshot_date=*/*.parquet")):
        return None
    return (pl.scan_parquet(folder / "**" / "*.parquet", hive_partitioning=True)
            .with_columns(pl.col("snapshot_date").cast(pl.Date)).collect())


def file_failure_rejects(exc: SourceFileError, table: str) -> pl.DataFrame:
    return pl.DataFrame([{"table": table, "file": exc.file, "line": exc.line, "record_key": None, "column": None,
                          "check": "readable_file", "value": None, "reason": f"file refused: {exc.reason}",
                          "severity": "error"}], schema=REJECT_SCHEMA)


def try_reuse(name: str, print_: str, snapshot_date: str, datasets: list[tuple[Path, dict]], storage: StorageResource,
              totals: RunTotals, context: dg.AssetExecutionContext) -> bool:
    """Publish an earlier snapshot's output for ``snapshot_date`` when its inputs were identical."""
    found = find_reusable(storage.root, name, print_, datasets)
    if found is None:
        return False
    previous, counts = found
    with partition_lock(storage.root, f"{name}-{snapshot_date}"):
        for folder, part in datasets:
            reuse_partition(folder / partition_dirname({k: v.format(date=previous) for k, v in part.items()}),
                            folder / partition_dirname({k: v.format(date=snapshot_date) for k, v in part.items()}),
                            storage.staging)
    totals.add(snapshot_date, counts["rows"], counts["rejected"], counts["warnings"], empty_rejects())
    if previous != snapshot_date:
        totals.reused[snapshot_date] = previous
    context.log.info(f"{snapshot_date}: inputs unchanged since {previous}: its published output reused, nothing parsed")
    return True


def input_fingerprint(storage: StorageResource, name: str, tables: list[str], snapshot_date: str, *extra) -> str:
    """Fingerprint of a derived table's inputs: the bytes of the input partitions of ``snapshot_date``
    (reused partitions are hard links, so unchanged inputs hash the same), plus ``extra``."""
    digests = []
    for table in tables:
        folder = storage.curated / table / f"snapshot_date={snapshot_date}"
        for file in sorted(folder.glob("*.parquet")):
            digests.append((table, file.name, hashlib.sha256(file.read_bytes()).hexdigest()))
    return fingerprint(name, digests, *extra)


def derived_datasets(storage: StorageResource, tables: list[str], source: str, layer: str = "curated") -> list[tuple[Path, dict]]:
    return [(storage.root / layer / t, {"snapshot_date": "{date}"}) for t in tables] + [
        (storage.rejects, {"source": source, "snapshot_date": "{date}"})]


def remember(name: str, print_: str, snapshot_date: str, storage: StorageResource, totals: RunTotals) -> None:
    if snapshot_date in totals.per_date and snapshot_date not in totals.refused:
        record(storage.root, name, snapshot_date, print_, totals.per_date[snapshot_date])


# (files, format, snapshot date) -> (frames by table, or the one frame of a single-table source; rejects)
Builder = Callable[[list[tuple[Path, str]], str | None, date],
                   tuple[dict[str, pl.DataFrame] | pl.DataFrame, pl.DataFrame]]


def build_source_asset(*, name: str, source: str, group: str, specs: list[TableSpec], builder: Builder) -> dg.AssetsDefinition:
    """A multi-asset publishing ``specs`` for every snapshot date of the run from ``landing/<source>``."""

    @table_asset(name, specs, group=group, deps=[["landing", source]], pool=f"curated_{source}")
    def _asset(context: dg.AssetExecutionContext, storage: StorageResource, quality: QualityResource):
        totals = RunTotals(tables=[s.name for s in specs])
        for snapshot_date in context.partition_keys:
            folder = storage.landing / source / snapshot_date
            manifest = read_manifest(folder)
            if manifest is None:
                context.log.info(f"no landed {source} files for {snapshot_date}: skipped")
                continue
            files = [(folder / f["name"], f["name"]) for f in manifest["files"]]
            print_ = fingerprint(source, [(f["name"], f["sha256"]) for f in manifest["files"]], manifest.get("format"),
                                 quality.max_reject_share)
            datasets = [(storage.curated / s.name, {"snapshot_date": "{date}"}) for s in specs] + [
                (storage.rejects, {"source": source, "snapshot_date": "{date}"})]
            if try_reuse(name, print_, snapshot_date, datasets, storage, totals, context):
                continue
            try:
                frames, rejects = builder(files, manifest.get("format"), date.fromisoformat(snapshot_date))
                if isinstance(frames, pl.DataFrame):  # a single-table source
                    frames = {specs[0].name: frames}
            except SourceFileError as exc:
                context.log.error(f"{snapshot_date}: {exc}")
                rejects = file_failure_rejects(exc, specs[0].name)
                publish_frame(rejects, storage.rejects, {"source": source, "snapshot_date": snapshot_date}, storage.staging)
                totals.refused[snapshot_date] = [f"file {exc}"]
                totals.add(snapshot_date, {}, {specs[0].name: 1}, {}, rejects)
                continue
            validate_and_publish(frames, rejects, specs, storage=storage, quality=quality, source=source,
                                 snapshot_date=snapshot_date, totals=totals)
            remember(name, print_, snapshot_date, storage, totals)
            context.log.info(f"{snapshot_date}: " + ", ".join(
                f"{t} {totals.rows[t]} rows / {totals.rejected[t]} rejected" for t in totals.tables))
        yield from report(totals, storage, quality, source)

    return _asset
