"""UN system revenue by contributor (CEB statistics CSV: amount, _currency, entity, calendar_year,
rev_type, donor, contrib_type).

Contributor types are normalized to the code list in ``config/un_revenue.yaml``; how each row got
its type is kept in ``contributor_type_method``:

* ``code``: the row carries a code of the list;
* ``label``: a legacy label (``Private Sector``, ``Foundation``, ...) mapped through the config;
* ``donor history``: the bare "not a government" number, replaced by the most frequent code of the
  same donor in the rows that carry one (ties: the alphabetically first code);
* ``donor mapping``: the same, from the config's ``donor_types`` where the donor has no history;
* ``unclassified``: none of the above; code ``UNG`` (unclassified non-government).

Rows are never dropped for their contributor type. Amounts that are not numbers go to the rejects.
"""

from datetime import date
from pathlib import Path

import polars as pl

from assets.io import (
    DEFAULT_MAX_TABLE_BYTES,
    ENCODING_FALLBACK,
    SourceFileError,
    encoding_flag,
    encoding_warnings,
    finite_number,
    read_csv_strings,
    require_columns,
)
from assets.reference import config
from schemas.quality import empty_rejects, reject_rows, without_rejected

COLUMNS = ["amount", "_currency", "entity", "calendar_year", "rev_type", "donor", "contrib_type"]
TABLE = "un_revenue_by_contributor"


def read_revenue(files: list[tuple[Path, str]], fmt: str | None, snapshot: date, *,
                 max_table_bytes: int = DEFAULT_MAX_TABLE_BYTES) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The revenue rows (typed, not yet validated) and the rows rejected; ``fmt``: only the CEB CSV."""
    if fmt not in (None, "csv", "ceb"):
        raise SourceFileError(", ".join(label for _, label in files), f"unknown un_revenue format {fmt!r} (expected csv)")
    settings = config("un_revenue.yaml")
    codes = settings["contributor_types"]
    labels = {k.casefold(): v for k, v in settings["contributor_labels"].items()}
    not_government = set(settings["not_government_codes"])
    revenue_codes = settings["revenue_types"]
    revenue_labels = {k.casefold(): v for k, v in settings["revenue_labels"].items()}

    frames = []
    for path, label in files:
        raw = read_csv_strings(path, label, max_bytes=max_table_bytes)
        raw = raw.rename({c: c.strip().lstrip("\ufeff") for c in raw.columns})
        require_columns(raw, COLUMNS, label, "UN CEB revenue by contributor")
        frames.append(raw.with_row_index("source_row", offset=2).with_columns(
            pl.col("source_row").cast(pl.Int64), pl.lit(label).alias("source_file"), encoding_flag(raw)))
    raw = pl.concat(frames)

    contrib = pl.col("contrib_type").str.strip_chars()
    rev = pl.col("rev_type").str.strip_chars()
    typed = raw.with_columns(
        pl.col("donor").str.strip_chars().alias("donor"),
        pl.col("entity").str.strip_chars().alias("un_entity"),
        pl.col("calendar_year").str.strip_chars().cast(pl.Int32, strict=False).alias("year"),
        finite_number(pl.col("amount").str.strip_chars().str.replace_all(",", "")).alias("amount_usd"),
        pl.col("_currency").str.strip_chars().str.to_uppercase().alias("currency"),
        contrib.alias("contributor_type_source"),
        rev.alias("revenue_type_source"),
        pl.when(contrib.str.to_uppercase().is_in(list(codes))).then(contrib.str.to_uppercase())
        .otherwise(contrib.str.to_lowercase().replace_strict(labels, default=None)).alias("_direct"),
        pl.when(rev.str.to_uppercase().is_in(list(revenue_codes))).then(rev.str.to_uppercase())
        .otherwise(rev.str.to_lowercase().replace_strict(revenue_labels, default=None)).alias("revenue_type_code"),
    )
    # the same donor's most frequent directly coded type
    history = (typed.filter(pl.col("_direct").is_not_null() & pl.col("donor").is_not_null())
               .group_by("donor", "_direct").len()
               .sort(["donor", "len", "_direct"], descending=[False, True, False])
               .group_by("donor", maintain_order=True).agg(pl.col("_direct").first().alias("_history")))
    typed = typed.join(history, on="donor", how="left", maintain_order="left").with_columns(
        pl.col("donor").replace_strict(settings["donor_types"], default=None).alias("_mapped"))
    is_code = contrib.str.to_uppercase().is_in(list(codes))
    ng = contrib.is_in(sorted(not_government)) | contrib.is_null()
    typed = typed.with_columns(
        pl.when(pl.col("_direct").is_not_null() & ~ng).then(pl.col("_direct"))
        .when(pl.col("_history").is_not_null()).then(pl.col("_history"))
        .when(pl.col("_mapped").is_not_null()).then(pl.col("_mapped"))
        .otherwise(pl.lit("UNG")).alias("contributor_type_code"),
        pl.when(pl.col("_direct").is_not_null() & ~ng).then(pl.when(is_code).then(pl.lit("code")).otherwise(pl.lit("label")))
        .when(pl.col("_history").is_not_null()).then(pl.lit("donor history"))
        .when(pl.col("_mapped").is_not_null()).then(pl.lit("donor mapping"))
        .otherwise(pl.lit("unclassified")).alias("contributor_type_method"),
    ).with_columns(
        pl.col("contributor_type_code").replace_strict(codes, default=None).alias("contributor_type_name"),
        pl.col("revenue_type_code").replace_strict(revenue_codes, default=None).alias("revenue_type_name"),
        pl.format("{}:{}", "source_file", "source_row").alias("source_row_ref"),
        pl.lit(snapshot).alias("snapshot_date"),
    )

    def reject(mask: pl.Expr, column: str, check: str, value: str, reason: str) -> pl.DataFrame:
        return reject_rows(typed.filter(mask), table=TABLE, key=pl.col("source_row_ref"), column=column, check=check,
                           value=pl.col(value), reason=reason)

    rejects = pl.concat([
        empty_rejects(),
        reject(pl.col("amount_usd").is_null(), "amount_usd", "parse", "amount", "amount is not a number"),
        reject(pl.col("amount_usd").is_not_null() & (pl.col("currency") != "USD"), "currency", "isin", "_currency",
               "amount is not in USD"),
        reject(pl.col("year").is_null(), "year", "parse", "calendar_year", "calendar year is not a year"),
        reject(pl.col("revenue_type_code").is_null(), "revenue_type_code", "isin", "rev_type",
               "revenue type not in config/un_revenue.yaml"),
        encoding_warnings(typed, TABLE, pl.col("source_row_ref")),
    ])
    out = without_rejected(typed, rejects).drop(
        "_direct", "_history", "_mapped", "amount", "_currency", "entity", "calendar_year", "rev_type", "contrib_type", "currency", ENCODING_FALLBACK)
    return out, rejects
