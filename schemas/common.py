"""Columns shared by every curated table."""

import pandera.polars as pa
import polars as pl


class Provenance(pa.DataFrameModel):
    source_file: str = pa.Field(description="Name of the landed file the row was read from")
    snapshot_date: pl.Date = pa.Field(description="Snapshot (partition) date; the hive partition folder")
