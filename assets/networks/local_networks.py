"""Global Compact Local Networks (the Local Networks sheet exported to CSV) and network coverage.

The sheet's column headers carry their period ("Nov 2017 Development Stage", "2016 total
contributions to GCO"), so columns are found by what they hold, not by exact name; a sheet with
another layout fails listing the columns it expected and the ones it found.
"""

import re
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
)
from assets.reference import is_known_non_country, iso3_expr
from schemas.quality import REJECT_SCHEMA, empty_rejects, reject_rows, without_rejected

TABLE = "local_networks"
# role -> pattern that finds the column in the sheet's header
COLUMN_PATTERNS = {
    "country_name": r"^country( name)?$",
    "region": r"^region$",
    "development_stage": r"development stage",
    "status": r"status",
    "contribution_gco_usd": r"contributions to gco",
    "contribution_ln_usd": r"contributions to ln",
    "contribution_total_usd": r"combined contributions",
}
_MONTHS = {m: i for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1)}


def _match_columns(columns: list[str], label: str) -> dict[str, str]:
    found, missing = {}, []
    for role, pattern in COLUMN_PATTERNS.items():
        match = next((c for c in columns if c and re.search(pattern, c.strip(), re.I)), None)
        if match is None:
            missing.append(f"{role} (/{pattern}/)")
        else:
            found[role] = match
    if missing:
        raise SourceFileError(label, "not the Local Networks sheet layout: expected columns for "
                                     f"{', '.join(COLUMN_PATTERNS)}; missing {', '.join(missing)}; "
                                     f"found {', '.join(repr(c) for c in columns)}")
    return found


def _as_of(header: str, fallback: date) -> date:
    """'Nov 2017 Development Stage' -> 2017-11-01."""
    m = re.search(r"\b([A-Za-z]{3})[a-z]*\.? (\d{4})\b", header)
    if m and m.group(1).lower() in _MONTHS:
        return date(int(m.group(2)), _MONTHS[m.group(1).lower()], 1)
    return fallback


def money(column: str) -> pl.Expr:
    """'$5,000 ' -> 5000.0; '$0 ' -> 0.0; '' -> null; anything else -> null (flagged by the caller)."""
    text = pl.col(column).str.strip_chars()
    cleaned = text.str.replace_all(r"[$,\s]", "").str.replace(r"^\((.*)\)$", "-$1")
    return pl.when(text.is_null() | (text == "")).then(None).otherwise(finite_number(cleaned))


def read_local_networks(files: list[tuple[Path, str]], fmt: str | None, snapshot: date, *,
                        max_table_bytes: int = DEFAULT_MAX_TABLE_BYTES) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The networks (typed, not yet validated) and the rows rejected; ``fmt``: only the sheet's CSV."""
    if fmt not in (None, "csv"):
        raise SourceFileError(", ".join(label for _, label in files), f"unknown ungc_local_networks format {fmt!r} (expected csv)")
    frames, rejects = [], []
    for path, label in files:
        raw = read_csv_strings(path, label, max_bytes=max_table_bytes)
        roles = _match_columns(raw.columns, label)
        as_of = _as_of(roles["development_stage"], snapshot)
        picked = raw.with_row_index("source_row", offset=2).select(
            pl.col("source_row").cast(pl.Int64),
            *[pl.col(source).alias(f"{role}_source") for role, source in roles.items()],
            encoding_flag(raw),
        )
        # rows with nothing in them are spacers; a row with data but no country is a reject
        blank = pl.all_horizontal([pl.col(f"{role}_source").str.strip_chars().fill_null("") == "" for role in roles])
        picked = picked.filter(~blank)
        typed = picked.with_columns(
            pl.col("country_name_source").str.strip_chars().alias("country_name"),
            iso3_expr("country_name_source").alias("country_iso3"),
            pl.col("region_source").str.strip_chars().alias("region"),
            pl.col("development_stage_source").str.strip_chars().alias("development_stage"),
            pl.col("status_source").str.strip_chars().alias("status"),
            *[money(f"{c}_source").alias(c) for c in ("contribution_gco_usd", "contribution_ln_usd", "contribution_total_usd")],
            pl.lit(as_of).alias("as_of"),
            pl.lit(label).alias("source_file"),
            pl.lit(snapshot).alias("snapshot_date"),
        ).with_columns(
            pl.format("UN Global Compact Network {}", "country_name").alias("network_name"),
        )
        for column in ("contribution_gco_usd", "contribution_ln_usd", "contribution_total_usd"):
            bad = typed.filter(pl.col(f"{column}_source").str.strip_chars().fill_null("") != "").filter(pl.col(column).is_null())
            rejects.append(reject_rows(bad, table=TABLE, key=pl.col("country_name"), column=column, check="parse",
                                       value=pl.col(f"{column}_source"), reason="amount is not a number"))
        missing = typed.filter(pl.col("country_name").fill_null("") == "")
        rejects.append(reject_rows(missing, table=TABLE, key=pl.format("row {}", "source_row"), column="country_name",
                                   check="not_nullable", value=pl.lit(None, pl.Utf8),
                                   reason="country is missing in a row that holds other data"))
        unknown = typed.filter(pl.col("country_iso3").is_null() & (pl.col("country_name").fill_null("") != ""))
        unknown = unknown.filter(~pl.col("country_name").map_elements(is_known_non_country, return_dtype=pl.Boolean))
        rejects.append(reject_rows(unknown, table=TABLE, key=pl.col("country_name"), column="country_iso3",
                                   check="iso3166", value=pl.col("country_name"),
                                   reason="country not resolved to ISO 3166 (pycountry and config/countries.yaml)"))
        rejects.append(encoding_warnings(typed, TABLE, pl.col("country_name")))
        frames.append(typed.drop([c for c in typed.columns if c.endswith("_source")] + [ENCODING_FALLBACK]))
    out = pl.concat(frames) if frames else pl.DataFrame()
    rejects_frame = pl.concat([empty_rejects(), *[r.select(REJECT_SCHEMA.names()) for r in rejects]])
    if out.height:
        out = without_rejected(out, rejects_frame)
    return out, rejects_frame


COVERAGE_TYPES = ("company", "SME", "NGO", "academic", "city", "business association", "foundation", "public sector", "other")
STATUSES = ("Active", "Non-communicating", "Delisted")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def network_coverage(participants: pl.DataFrame, networks: pl.DataFrame, snapshot: date) -> pl.DataFrame:
    """One row per country seen in either table: its Local Network and its participants."""
    year_ago = date(snapshot.year - 1, snapshot.month, min(snapshot.day, 28))
    people = participants.filter(pl.col("country_iso3").is_not_null())
    counts = people.group_by("country_iso3").agg(
        pl.len().cast(pl.Int64).alias("participants_total"),
        *[(pl.col("status") == s).sum().cast(pl.Int64).alias(f"participants_{_slug(s)}") for s in STATUSES],
        *[(pl.col("canonical_type") == t).sum().cast(pl.Int64).alias(f"participants_{_slug(t)}") for t in COVERAGE_TYPES],
        ((pl.col("status") == "Delisted") & (pl.col("delisted_on") > year_ago) & (pl.col("delisted_on") <= snapshot))
        .sum().cast(pl.Int64).alias("delisted_last_12_months"),
        ((pl.col("joined_on") > year_ago) & (pl.col("joined_on") <= snapshot)).sum().cast(pl.Int64).alias("joined_last_12_months"),
    )
    nets = networks.filter(pl.col("country_iso3").is_not_null()).group_by("country_iso3").agg(
        pl.col("network_name").first(), pl.col("development_stage").first().alias("network_stage"),
        pl.col("status").first().alias("network_status"))
    countries = pl.concat([counts.select("country_iso3"), nets.select("country_iso3")]).unique()
    out = (countries.join(nets, on="country_iso3", how="left").join(counts, on="country_iso3", how="left")
           .with_columns(pl.col("network_name").is_not_null().alias("has_local_network"),
                         pl.lit(snapshot).alias("snapshot_date")))
    count_cols = [c for c in out.columns if c.startswith("participants_") or c.endswith("_12_months")]
    return out.with_columns(pl.col(count_cols).fill_null(0)).sort("country_iso3")
