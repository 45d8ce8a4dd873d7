"""Quarantine table: every row that did not make it into a curated table, and why."""

import pandera.polars as pa
import polars as pl

from schemas.base import StrictModel, polars_schema


class Rejects(StrictModel):
    """``quality/rejects/source=<source>/snapshot_date=<date>/``: one row per failed check."""

    table: str = pa.Field(description="Curated table the row was meant for")
    file: str = pa.Field(nullable=True, description="Landed file the row came from")
    line: pl.Int64 = pa.Field(nullable=True, description="Line in the file, where known")
    record_key: str = pa.Field(nullable=True, description="Key of the record (e.g. iati-identifier, or identifier#transaction[i])")
    column: str = pa.Field(nullable=True, description="Column whose check failed; null for file- or row-level failures")
    check: str = pa.Field(description="Name of the failed check (e.g. isin, not_nullable, readable_file, fx_rate_found)")
    value: str = pa.Field(nullable=True, description="Offending value as text")
    reason: str = pa.Field(description="Why the row was quarantined or flagged")
    severity: str = pa.Field(isin=["error", "warning"], description="error: row not published; warning: row published, flagged")

    class Config:
        coerce = True


REJECT_SCHEMA = polars_schema(Rejects)


def reject_rows(frame: pl.DataFrame, *, table: str, key: pl.Expr, column: str | None, check: str, value: pl.Expr,
                reason: str | pl.Expr, severity: str = "error", file: pl.Expr | None = None,
                line: pl.Expr | None = None) -> pl.DataFrame:
    """One reject row per row of ``frame``; ``file`` and ``line`` default to the ``source_file`` and
    ``source_row`` columns every reader keeps."""
    return checked_rejects(frame.select(
        table=pl.lit(table, pl.Utf8),
        file=(pl.col("source_file") if file is None else file).cast(pl.Utf8),
        line=(pl.col("source_row") if line is None else line).cast(pl.Int64),
        record_key=key.cast(pl.Utf8),
        column=pl.lit(column, pl.Utf8),
        check=pl.lit(check, pl.Utf8),
        value=value.cast(pl.Utf8),
        reason=(pl.lit(reason) if isinstance(reason, str) else reason).cast(pl.Utf8),
        severity=pl.lit(severity, pl.Utf8),
    ))


def reject_columns(columns: dict) -> pl.DataFrame:
    """Reject rows given column-wise (a value per column, or a series of values per column)."""
    return checked_rejects(pl.DataFrame(columns, schema=REJECT_SCHEMA))


def empty_rejects() -> pl.DataFrame:
    return pl.DataFrame(schema=REJECT_SCHEMA)


def rejects_frame(rows: list[dict]) -> pl.DataFrame:
    """Reject rows given as dicts (file-level failures and other one-off rows)."""
    if not rows:
        return empty_rejects()
    return checked_rejects(pl.DataFrame(rows, schema=REJECT_SCHEMA))


def checked_rejects(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` in the rejects table's column order; a frame without the :class:`Rejects` columns
    and types is a defect of the pipeline and raises. (Cheap: called for every batch.)"""
    frame = frame.select(REJECT_SCHEMA.names())
    if frame.schema != REJECT_SCHEMA:
        raise TypeError(f"reject rows do not have the Rejects schema: {dict(frame.schema)} != {dict(REJECT_SCHEMA)}")
    return frame


def validated_rejects(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` validated against the :class:`Rejects` model (columns, types, null rules, severity
    values) before it is published; a frame that fails is a defect of the pipeline and raises."""
    return Rejects.validate(checked_rejects(frame))


def without_rejected(frame: pl.DataFrame, rejects: pl.DataFrame) -> pl.DataFrame:
    """``frame`` without the records an error reject names, matched by file and line together (two
    files of one source both have a line 2)."""
    bad = (rejects.filter(pl.col("severity") == "error")
           .select(pl.col("file").alias("source_file"), pl.col("line").alias("source_row")).unique())
    return frame.join(bad, on=["source_file", "source_row"], how="anti", nulls_equal=True, maintain_order="left")
