"""Validate a frame with its Pandera model and split it into publishable rows and reject rows;
count rejected records the one way every table counts them; decide what is refused publication."""

import re
from dataclasses import dataclass

import pandera.polars as pa
import polars as pl
from pandera.errors import SchemaErrors

from schemas.base import column_order
from schemas.quality import empty_rejects, reject_columns

_REASONS = {
    "isin": "not a known code",
    "not_nullable": "required value is missing",
    "field_uniqueness": "duplicate key",
    "greater_than_or_equal_to": "below the allowed minimum",
    "greater_than": "not above the allowed minimum",
    "str_length": "empty text",
}


class SchemaMismatchError(RuntimeError):
    """The frame does not have the model's columns or types: a defect of the pipeline, not of the data."""


def _check_name(check: str) -> str:
    return re.split(r"[(\[]", check, maxsplit=1)[0]


def split_valid(frame: pl.DataFrame, model: type[pa.DataFrameModel], *, table: str, record_keys: pl.Series,
                files: pl.Series, lines: pl.Series | None = None) -> tuple[pl.DataFrame, pl.DataFrame, pl.Series]:
    """Validate eagerly (lazy=True collects every failure); return (valid rows, rejects, rejected mask).

    ``record_keys``, ``files`` and ``lines`` are aligned with ``frame`` and say which record each
    failure belongs to. Failures without a row index (missing column, wrong dtype) mean the pipeline
    built the frame wrongly and raise :class:`SchemaMismatchError`.
    """
    frame = frame.select(column_order(model))
    try:
        model.validate(frame, lazy=True)
        return frame, empty_rejects(), pl.Series("rejected", [False] * frame.height, dtype=pl.Boolean)
    except SchemaErrors as exc:
        cases = exc.failure_cases
    structural = cases.filter(pl.col("index").is_null())
    if structural.height:
        raise SchemaMismatchError(f"{table}: frame does not match {model.__name__}: {structural.to_dicts()[:5]}")
    cases = cases.with_columns(pl.col("index").cast(pl.Int64))
    idx = cases["index"]
    check = cases["check"].cast(pl.Utf8).map_elements(_check_name, return_dtype=pl.Utf8)
    column = cases["column"].cast(pl.Utf8)
    value = cases["failure_case"].cast(pl.Utf8)
    reason = pl.DataFrame({"check": check, "column": column, "value": value}).select(
        pl.format("{}: {} ({})", pl.col("column").fill_null("row"),
                  pl.col("check").replace_strict(_REASONS, default=pl.col("check")),
                  pl.col("value").fill_null("null"))
    ).to_series()
    rejects = reject_columns({
        "table": pl.Series([table] * cases.height, dtype=pl.Utf8),
        "file": files.gather(idx).cast(pl.Utf8),
        "line": (lines.gather(idx) if lines is not None else pl.Series([None] * cases.height)).cast(pl.Int64),
        "record_key": record_keys.gather(idx).cast(pl.Utf8),
        "column": column,
        "check": check,
        "value": value,
        "reason": reason,
        "severity": pl.Series(["error"] * cases.height, dtype=pl.Utf8),
    })
    rejected = pl.Series("rejected", range(frame.height), dtype=pl.Int64).is_in(idx.unique().implode())
    return frame.filter(~rejected), rejects, rejected


def count_rejects(rejects: pl.DataFrame) -> tuple[dict[str, int], dict[str, int]]:
    """(rejected records, warning rows) per table. A rejected record is one distinct (file, line,
    record key) among the error rows: a record that fails three checks counts once, and two records
    that share a key (duplicates) count twice where their lines differ. A file refused whole
    counts as one record here; readers that know how many records it held add them."""
    errors = dict(rejects.filter(pl.col("severity") == "error").group_by("table")
                  .agg(pl.struct("file", "line", "record_key").n_unique()).iter_rows())
    warnings = dict(rejects.filter(pl.col("severity") == "warning").group_by("table").len().iter_rows())
    return errors, warnings


PARENT_REJECTED = "parent_rejected"


def gate_counts(rejects: pl.DataFrame) -> dict[str, int]:
    """Rejected records per table as the publication gate weighs them: a child rejected only because
    its parent was (``parent_rejected``) is accounted for, but its parent's failure is weighed once,
    in the parent's table; otherwise one unsupported file would refuse every table of the snapshot."""
    return count_rejects(rejects.filter(pl.col("check") != PARENT_REJECTED))[0]


@dataclass(frozen=True)
class Refusal:
    """Why a table was not published for a date: a reject share over the threshold, a file that
    could not be read, or another reason (a mart that does not reconcile)."""

    snapshot_date: str
    table: str
    share: float | None = None
    threshold: float | None = None
    file_error: str | None = None
    reason: str | None = None

    def __str__(self) -> str:
        if self.file_error is not None:
            return f"{self.table}: file {self.file_error}"
        if self.share is not None:
            return f"{self.table} {self.share:.0%} rejected (threshold {self.threshold:.0%})"
        return f"{self.table}: {self.reason}"


def reject_share(rows: int, rejected: int) -> float:
    return rejected / (rows + rejected) if rows + rejected else 0.0


def over_threshold(snapshot_date: str, rows: dict[str, int], rejected: dict[str, int],
                   max_share: float) -> list[Refusal]:
    """The publication gate every table passes: a table whose share of rejected records is above
    ``max_share`` is refused (and with it the other tables built from the same files)."""
    refusals = []
    for table in rows:
        share = reject_share(rows[table], rejected.get(table, 0))
        if share > max_share:
            refusals.append(Refusal(snapshot_date, table, share=share, threshold=max_share))
    return refusals
