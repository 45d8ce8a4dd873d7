"""UN Global Compact participants: the site's export layout and the legacy database layout, and the
status history built from daily snapshots.

``export`` (default): one CSV with the columns of ``EXPORT_COLUMNS``. ``legacy``: ``R01_ORGANIZATION``
with its lookup tables ``TR01_COUNTRY``, ``TR02_ORGANIZATION_TYPE``, ``TR03_SECTOR``,
``TR09_LISTING_STATUS`` and ``TR11_REASON_FOR_REMOVAL`` as further files of the same source (matched
by those names in the file names).

``participant_id`` is derived from the normalized name and the country, so it is the same in both
layouts and across snapshots.
"""

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import polars as pl

from assets.io import (
    DEFAULT_MAX_TABLE_BYTES,
    ENCODING_FALLBACK,
    SourceFileError,
    encoding_flag,
    encoding_warnings,
    read_csv_batches,
    read_csv_strings,
    require_columns,
)
from assets.reference import config, country_iso3, is_known_non_country, normalize_name_expr, stable_id
from schemas.quality import REJECT_SCHEMA, empty_rejects, reject_rows, without_rejected

EXPORT_COLUMNS = ["Participant", "Type", "Sector", "Country", "Joined On", "Status", "Ownership", "Employees",
                  "Reporting Due On", "Delisted On", "Delisting Reason"]
LEGACY_TABLES = ("R01_ORGANIZATION", "TR01_COUNTRY", "TR02_ORGANIZATION_TYPE", "TR03_SECTOR",
                 "TR09_LISTING_STATUS", "TR11_REASON_FOR_REMOVAL")
LEGACY_COLUMNS = ["ID", "TR02_TYPE", "ORG_NAME", "SECTOR_ID", "ORG_NB_EMPLOY", "ORG_DATE_JOINING", "ORG_DATE_DELISTED",
                  "ORG_ACTIVE", "TR01_COUNTRY_ID", "ORG_STATUS_COP", "ORG_TODAY_COPDUE", "ORG_LISTED_STATUS", "TR11_REASON"]
TABLE = "gc_participants"


def _date(col: str) -> pl.Expr:
    # timestamps such as "2009-06-22 16:25:59.383000000": the date part
    return pl.col(col).str.strip_chars().str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)


def _strip(col: str) -> pl.Expr:
    text = pl.col(col).str.strip_chars()
    return pl.when(text == "").then(None).otherwise(text)


def _unquote_name() -> pl.Expr:
    """'Armavir Development Center' -> Armavir Development Center; 'Mediapro' LTD stays as it is."""
    name = pl.col("participant_name").str.strip_chars()
    wrapped = name.str.starts_with("'") & name.str.ends_with("'") & (name.str.count_matches("'") == 2)
    return pl.when(wrapped).then(name.str.slice(1, name.str.len_chars() - 2)).otherwise(name).alias("participant_name")


def read_participants(files: list[tuple[Path, str]], fmt: str | None, snapshot: date, *,
                      max_table_bytes: int = DEFAULT_MAX_TABLE_BYTES) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The participant rows of one snapshot (typed, not yet validated) and the rows already rejected:
    the batches of :func:`participant_batches` together."""
    batches = list(participant_batches(files, fmt, snapshot, max_table_bytes=max_table_bytes))
    return (pl.concat([frame for frame, _ in batches], how="vertical"),
            pl.concat([rejects for _, rejects in batches], how="vertical"))


def participant_batches(files: list[tuple[Path, str]], fmt: str | None, snapshot: date, *,
                        max_table_bytes: int = DEFAULT_MAX_TABLE_BYTES) -> Iterator[tuple[pl.DataFrame, pl.DataFrame]]:
    """The participant rows of one snapshot in batches of the files' records, each (rows typed, not
    yet validated; the rows already rejected). A participant repeated in a later batch or file is
    rejected there, as within one batch: the first row wins."""
    fmt = fmt or "export"
    if fmt == "export":
        raws = (_export_rows(frame, label, first_row) for path, label in files
                for frame, first_row in read_csv_batches(path, label, max_bytes=max_table_bytes))
    elif fmt == "legacy":
        raws = _read_legacy(files, max_table_bytes)
    else:
        raise SourceFileError(", ".join(label for _, label in files), f"unknown ungc_participants format {fmt!r} "
                                                                     "(expected export or legacy)")
    if not files:
        raise SourceFileError("ungc_participants", "no files")
    finish = _Finisher(snapshot)
    for raw in raws:
        yield finish(raw)


def _export_rows(frame: pl.DataFrame, label: str, first_row: int) -> pl.DataFrame:
    frame = frame.rename({c: c.strip() for c in frame.columns})
    require_columns(frame, EXPORT_COLUMNS, label, "UN Global Compact participant export")
    return frame.with_row_index("source_row", offset=first_row).select(
        pl.col("source_row").cast(pl.Int64),
        pl.lit(None, pl.Utf8).alias("source_participant_id"),
        _strip("Participant").alias("participant_name"),
        _strip("Type").alias("participant_type"),
        _strip("Sector").alias("sector"),
        _strip("Country").alias("country_source"),
        pl.col("Joined On").alias("joined_on_source"),
        _strip("Status").alias("status_source"),
        _strip("Ownership").alias("ownership"),
        pl.col("Employees").alias("employees_source"),
        pl.col("Reporting Due On").alias("cop_due_on_source"),
        pl.col("Delisted On").alias("delisted_on_source"),
        _strip("Delisting Reason").alias("delisting_reason"),
        pl.lit(label).alias("source_file"),
        encoding_flag(frame),
    ).with_columns(
        # the export writes statuses in several spellings
        pl.col("status_source").str.to_lowercase().str.replace_all(r"[\s_-]+", "-").replace_strict(
            {"active": "Active", "non-communicating": "Non-communicating", "noncommunicating": "Non-communicating",
             "delisted": "Delisted", "expelled": "Delisted", "withdrawn": "Delisted"}, default=None).alias("status"),
    )


def _find(files: list[tuple[Path, str]], table: str) -> tuple[Path, str] | None:
    return next(((p, label) for p, label in files if table.upper() in label.upper()), None)


def _read_legacy(files: list[tuple[Path, str]], max_bytes: int) -> Iterator[pl.DataFrame]:
    """R01_ORGANIZATION in batches, with its lookup tables (small, read whole) resolved."""
    found = {t: _find(files, t) for t in LEGACY_TABLES}
    missing = [t for t, f in found.items() if f is None]
    if missing:
        raise SourceFileError(", ".join(label for _, label in files) or "ungc_participants",
                              f"legacy layout needs files named after {', '.join(LEGACY_TABLES)}; missing {', '.join(missing)}")
    tables = {t: read_csv_strings(*found[t], max_bytes=max_bytes) for t in LEGACY_TABLES if t != "R01_ORGANIZATION"}
    label = found["R01_ORGANIZATION"][1]
    for t, cols in (("TR01_COUNTRY", ["COUNTRY_ID", "COUNTRY_NAME"]), ("TR03_SECTOR", ["SECTOR_ID", "SECTOR_NAME"]),
                    ("TR09_LISTING_STATUS", ["Listing_ID", "Listing_Name"]),
                    ("TR11_REASON_FOR_REMOVAL", ["REASON_ID", "REASON_DESCRIPTION"])):
        require_columns(tables[t], cols, found[t][1], f"legacy {t}")

    def lookup(table: str, key: str, value: str) -> dict[str, str]:
        return {k.strip(): v.strip() for k, v in tables[table].select(key, value).iter_rows() if k is not None and v}

    countries = lookup("TR01_COUNTRY", "COUNTRY_ID", "COUNTRY_NAME")
    sectors = lookup("TR03_SECTOR", "SECTOR_ID", "SECTOR_NAME")
    listing = lookup("TR09_LISTING_STATUS", "Listing_ID", "Listing_Name")
    reasons = lookup("TR11_REASON_FOR_REMOVAL", "REASON_ID", "REASON_DESCRIPTION")
    reasons.pop("0", None)  # "Not applicable"
    cop = config("ungc.yaml")["legacy_cop_status"]
    active = pl.col("ORG_ACTIVE").str.strip_chars().str.to_lowercase()
    for org, first_row in read_csv_batches(*found["R01_ORGANIZATION"], max_bytes=max_bytes):
        require_columns(org, LEGACY_COLUMNS, label, "legacy R01_ORGANIZATION")
        yield org.with_row_index("source_row", offset=first_row).select(
            pl.col("source_row").cast(pl.Int64),
            _strip("ID").alias("source_participant_id"),
            _strip("ORG_NAME").alias("participant_name"),
            _strip("TR02_TYPE").alias("participant_type"),
            _strip("SECTOR_ID").replace_strict(sectors, default=None).alias("sector"),
            # the source's own country table wins over ISO: its codes are its own (SE is Serbia, SW Sweden),
            # so a code TR01 lists is resolved through TR01's name for it; other codes are read as ISO
            pl.when(_strip("TR01_COUNTRY_ID").is_in(list(countries)))
            .then(pl.concat_str([_strip("TR01_COUNTRY_ID").replace_strict(countries, default=""), _strip("TR01_COUNTRY_ID")],
                                separator="\x1f"))
            .otherwise(_strip("TR01_COUNTRY_ID")).alias("country_source"),
            pl.col("ORG_DATE_JOINING").alias("joined_on_source"),
            pl.col("ORG_STATUS_COP").alias("status_source"),
            _strip("ORG_LISTED_STATUS").replace_strict(listing, default=None).alias("ownership"),
            pl.col("ORG_NB_EMPLOY").alias("employees_source"),
            pl.col("ORG_TODAY_COPDUE").alias("cop_due_on_source"),
            pl.col("ORG_DATE_DELISTED").alias("delisted_on_source"),
            _strip("TR11_REASON").replace_strict(reasons, default=None).alias("delisting_reason"),
            pl.lit(label).alias("source_file"),
            encoding_flag(org),
            pl.when(active == "false").then(pl.lit("Delisted"))
            .otherwise(_strip("ORG_STATUS_COP").replace_strict(cop, default=None)).alias("status"),
        )


def _resolve_country(value: str | None) -> str | None:
    """ISO alpha-3 of a country as the source gives it. ``name\x1fcode`` (a code the source's own
    table names) is resolved by that name only: reading the code as ISO would be a guess the
    source contradicts. An unresolved name is flagged, never replaced by the guess."""
    if value is None:
        return None
    return country_iso3(value.split("\x1f")[0])


class _Finisher:
    """Types one batch of raw participant rows and flags its rejects; remembers what batches share:
    the countries already resolved and the participants already seen (a repeat is rejected in
    whichever batch it comes)."""

    def __init__(self, snapshot: date):
        self.snapshot = snapshot
        self.types = config("ungc.yaml")["participant_types"]
        self.iso3: dict[str, str | None] = {}
        self.seen = pl.Series("participant_id", [], pl.Utf8)

    def __call__(self, raw: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        out, rejects, ids = _finish(raw, self.snapshot, self.types, self.iso3, self.seen)
        self.seen = pl.concat([self.seen, ids])
        return out, rejects


def _finish(raw: pl.DataFrame, snapshot: date, types: dict, iso3: dict[str, str | None],
            seen: pl.Series) -> tuple[pl.DataFrame, pl.DataFrame, pl.Series]:
    """(rows, rejects, every participant id of the batch: a later repeat of a rejected row is a
    repeat too)."""
    for value in raw["country_source"].unique().drop_nulls().to_list():
        if value not in iso3:
            iso3[value] = _resolve_country(value)
    typed = raw.with_columns(
        _unquote_name(),
        pl.col("participant_type").replace_strict(types, default=None).alias("canonical_type"),
        pl.col("country_source").replace_strict(iso3, default=None, return_dtype=pl.Utf8).alias("country_iso3"),
        _date("joined_on_source").alias("joined_on"),
        _date("delisted_on_source").alias("delisted_on"),
        _date("cop_due_on_source").alias("cop_due_on"),
        pl.col("employees_source").str.strip_chars().str.replace_all(",", "").cast(pl.Int64, strict=False).alias("employees"),
        pl.lit(snapshot).alias("snapshot_date"),
    ).with_columns(
        normalize_name_expr("participant_name").alias("_normalized"),
    ).with_columns(
        pl.struct("_normalized", "country_iso3").map_elements(
            lambda r: stable_id("gc", r["_normalized"], r["country_iso3"]), return_dtype=pl.Utf8).alias("participant_id"),
    )
    key = pl.coalesce("participant_id", pl.format("row {}", "source_row"))
    rejects = []

    def flag(mask: pl.Expr, column: str, check: str, value: pl.Expr, reason: str, severity: str) -> None:
        hit = typed.filter(mask)
        if hit.height:
            rejects.append(reject_rows(hit, table=TABLE, key=key, column=column, check=check, value=value,
                                       reason=reason, severity=severity))

    flag(pl.col("participant_name").is_null(), "participant_name", "not_nullable", pl.lit(None), "participant name is missing", "error")
    flag(pl.col("status").is_null(), "status", "isin", pl.col("status_source"), "status is not Active, Non-communicating or Delisted", "error")
    flag(pl.col("joined_on_source").is_not_null() & pl.col("joined_on").is_null(), "joined_on", "parse",
         pl.col("joined_on_source"), "joined date is not a date", "error")
    flag(pl.col("canonical_type").is_null() & pl.col("participant_type").is_not_null(), "participant_type", "isin",
         pl.col("participant_type"), "type not in config/ungc.yaml participant_types; canonical type set to other", "warning")
    unknown_country = [v for v, c in iso3.items() if c is None and not any(is_known_non_country(p) for p in v.split("\x1f"))]
    flag(pl.col("country_source").is_in(unknown_country), "country_iso3", "iso3166", pl.col("country_source").str.replace("\x1f", " "),
         "country not resolved to ISO 3166 (pycountry and config/countries.yaml)", "warning")
    flag(pl.col("employees_source").is_not_null() & pl.col("employees").is_null(), "employees", "parse",
         pl.col("employees_source"), "employees is not a whole number; left null", "warning")
    duplicate = pl.col("participant_id").is_not_null() & (
        pl.col("participant_id").is_in(seen.implode()) | (pl.int_range(pl.len()).over("participant_id") > 0))
    flag(duplicate, "participant_id", "field_uniqueness", pl.col("participant_name"),
         "same name and country as an earlier row: kept the first", "error")

    rejects.append(encoding_warnings(typed, TABLE, key))
    rejects_frame = pl.concat(rejects, how="vertical") if rejects else empty_rejects()
    out = (without_rejected(typed.with_columns(pl.col("canonical_type").fill_null("other")), rejects_frame)
           .drop("_normalized", "status_source", "joined_on_source", "delisted_on_source", "cop_due_on_source",
                 "employees_source", "country_source", ENCODING_FALLBACK))
    return out, rejects_frame.select(REJECT_SCHEMA.names()), typed["participant_id"].drop_nulls().unique()


def status_history(snapshots: pl.DataFrame) -> pl.DataFrame:
    """One row per participant per status spell, from every published snapshot in date order.

    ``valid_from`` is when the status began, as the source dates it: the delisting date for a
    delisted spell, the joining date for a participant's first spell, the first snapshot that showed
    the status for a later change. Where the source gives no date (a delisting without a delisting
    date, a first spell without a joining date), ``valid_from`` is null and ``valid_from_source``
    says ``unknown``: never the joining date for a delisting, never the run date.
    ``valid_to`` is the next spell's ``valid_from`` (null while the spell lasts, or where the next
    start is unknown)."""
    ordered = snapshots.sort("participant_id", "snapshot_date")
    changes = ordered.with_columns(
        (pl.col("status") != pl.col("status").shift(1).over("participant_id")).fill_null(True).alias("_change"),
    ).with_columns(pl.col("_change").cum_sum().over("participant_id").alias("spell"))
    latest_snapshot = snapshots["snapshot_date"].max()
    spells = changes.group_by("participant_id", "spell", maintain_order=True).agg(
        pl.col("participant_name").last(),
        pl.col("status").first(),
        pl.col("snapshot_date").min().alias("first_observed"),
        pl.col("snapshot_date").max().alias("last_observed"),
        pl.col("joined_on").drop_nulls().first(),
        pl.col("delisted_on").drop_nulls().last(),
        pl.col("delisting_reason").drop_nulls().last(),
    )
    delisted, first = pl.col("status") == "Delisted", pl.col("spell") == 1
    spells = spells.with_columns(
        pl.when(delisted).then(pl.col("delisted_on"))
        .when(first).then(pl.col("joined_on"))
        .otherwise(pl.col("first_observed")).alias("valid_from"),
        pl.when(delisted).then(pl.when(pl.col("delisted_on").is_not_null()).then(pl.lit("delisting date"))
                               .otherwise(pl.lit("unknown")))
        .when(first).then(pl.when(pl.col("joined_on").is_not_null()).then(pl.lit("joining date"))
                          .otherwise(pl.lit("unknown")))
        .otherwise(pl.lit("first snapshot")).alias("valid_from_source"),
    ).with_columns(
        pl.col("valid_from").shift(-1).over("participant_id").alias("valid_to"),
    ).with_columns(
        (pl.col("valid_to").is_null() & (pl.col("last_observed") == latest_snapshot)).alias("is_current"),
        (pl.col("valid_from") - pl.col("joined_on")).dt.total_days().cast(pl.Int32).alias("days_since_joined"),
        pl.col("spell").cast(pl.Int32).alias("spell_number"),
        pl.when(pl.col("status") == "Delisted").then(pl.col("delisting_reason")).otherwise(None).alias("delisting_reason"),
    )
    return spells.select("participant_id", "spell_number", "participant_name", "status", "valid_from",
                         "valid_from_source", "valid_to",
                         "first_observed", "last_observed", "is_current", "joined_on", "days_since_joined",
                         "delisting_reason")
