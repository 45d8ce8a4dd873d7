"""Validate a frame with its Pandera model and split it into publishable rows and reject rows."""

import re

import pandera.polars as pa
import polars as pl
from pandera.errors import SchemaErrors

from schemas.quality import REJECT_SCHEMA, empty_rejects

PARTITION_COLUMNS = ("snapshot_date",)
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


def column_order(model: type[pa.DataFrameModel]) -> list[str]:
    """The model's columns with provenance last (source_file, snapshot_date)."""
    names = list(model.to_schema().columns)
    tail = [c for c in ("source_file", "snapshot_date") if c in names]
    return [c for c in names if c not in tail] + tail


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
    rejects = pl.DataFrame({
        "table": pl.Series([table] * cases.height, dtype=pl.Utf8),
        "file": files.gather(idx).cast(pl.Utf8),
        "line": (lines.gather(idx) if lines is not None else pl.Series([None] * cases.height)).cast(pl.Int64),
        "record_key": record_keys.gather(idx).cast(pl.Utf8),
        "column": column,
        "check": check,
        "value": value,
        "reason": reason,
        "severity": pl.Series(["error"] * cases.height, dtype=pl.Utf8),
    }, schema=REJECT_SCHEMA)
    rejected = pl.Series("rejected", range(frame.height), dtype=pl.Int64).is_in(idx.unique().implode())
    return frame.filter(~rejected), rejects, rejected
