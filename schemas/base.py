"""Base classes every table model shares: the strict configuration and the provenance columns.

Columns inherited from these bases come first in a model's schema; :func:`column_order` puts the
provenance columns (``source_file``, ``snapshot_date``) last, which is the order of the Parquet files.
"""

import pandera.polars as pa
import polars as pl

PROVENANCE_COLUMNS = ("source_file", "snapshot_date")


class StrictModel(pa.DataFrameModel):
    """A curated table: exactly the declared columns, no coercion."""

    class Config:
        strict = True


class Snapshot(StrictModel):
    """A table published once per snapshot date."""

    snapshot_date: pl.Date = pa.Field(description="Snapshot (partition) date; the hive partition folder")


class SourceSnapshot(Snapshot):
    """A table read from landed files, once per snapshot date."""

    source_file: str = pa.Field(description="Name of the landed file the row was read from")


def column_order(model: type[pa.DataFrameModel]) -> list[str]:
    """The model's columns with provenance last (source_file, snapshot_date)."""
    names = list(model.to_schema().columns)
    tail = [c for c in PROVENANCE_COLUMNS if c in names]
    return [c for c in names if c not in tail] + tail


def polars_schema(model: type[pa.DataFrameModel]) -> pl.Schema:
    """The model's columns and polars types, in :func:`column_order`."""
    columns = model.to_schema().columns
    return pl.Schema({name: columns[name].dtype.type for name in column_order(model)})


def empty_frame(model: type[pa.DataFrameModel]) -> pl.DataFrame:
    """A frame with no rows and the model's columns: what a table holds when nothing was read."""
    return pl.DataFrame(schema=polars_schema(model))
