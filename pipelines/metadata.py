"""Dagster metadata built from Pandera models and published datasets."""

import dagster as dg
import pandera.polars as pa
import polars as pl

from schemas.base import column_order

_PARTITION_NOTE = " (hive partition folder, not stored in the files)"


def table_schema(model: type[pa.DataFrameModel]) -> dg.TableSchema:
    columns = model.to_schema().columns
    return dg.TableSchema(columns=[
        dg.TableColumn(
            name=name,
            type=str(columns[name].dtype),
            description=(columns[name].description or "") + (_PARTITION_NOTE if name == "snapshot_date" else ""),
            constraints=dg.TableColumnConstraints(nullable=columns[name].nullable, unique=columns[name].unique),
        )
        for name in column_order(model)
    ])


def rejects_sample(rejects: pl.DataFrame, limit: int = 10) -> dg.MarkdownMetadataValue:
    if rejects.height == 0:
        return dg.MetadataValue.md("no rejects")
    sample = rejects.select("file", "record_key", "column", "check", "value", "reason").head(limit)
    lines = ["| file | record | column | check | value | reason |", "|---|---|---|---|---|---|"]
    for row in sample.iter_rows():
        lines.append("| " + " | ".join(str(v if v is not None else "").replace("|", "\\|")[:120] for v in row) + " |")
    return dg.MetadataValue.md("\n".join(lines))
