"""Quarantine table: every row that did not make it into a curated table, and why."""

import pandera.polars as pa
import polars as pl


class Rejects(pa.DataFrameModel):
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
        strict = True
        coerce = True


REJECT_SCHEMA = pl.Schema({
    "table": pl.Utf8, "file": pl.Utf8, "line": pl.Int64, "record_key": pl.Utf8, "column": pl.Utf8,
    "check": pl.Utf8, "value": pl.Utf8, "reason": pl.Utf8, "severity": pl.Utf8,
})


def reject_rows(frame: pl.DataFrame, *, table: str, key: pl.Expr, column: str | None, check: str, value: pl.Expr,
                reason: str | pl.Expr, severity: str = "error", file: pl.Expr | None = None,
                line: pl.Expr | None = None) -> pl.DataFrame:
    """One reject row per row of ``frame``; ``file`` and ``line`` default to the ``source_file`` and
    ``source_row`` columns every reader keeps."""
    return frame.select(
        table=pl.lit(table, pl.Utf8),
        file=(pl.col("source_file") if file is None else file).cast(pl.Utf8),
        line=(pl.col("source_row") if line is None else line).cast(pl.Int64),
        record_key=key.cast(pl.Utf8),
        column=pl.lit(column, pl.Utf8),
        check=pl.lit(check, pl.Utf8),
        value=value.cast(pl.Utf8),
        reason=(pl.lit(reason) if isinstance(reason, str) else reason).cast(pl.Utf8),
        severity=pl.lit(severity, pl.Utf8),
    )


def empty_rejects() -> pl.DataFrame:
    return pl.DataFrame(schema=REJECT_SCHEMA)


def rejects_frame(rows: list[dict]) -> pl.DataFrame:
    if not rows:
        return empty_rejects()
    return pl.DataFrame(rows, schema=REJECT_SCHEMA)
