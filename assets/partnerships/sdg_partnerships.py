"""SDG Actions platform partnership initiatives, from JSON, CSV or XLSX.

Two shapes are understood, whatever the container:

* records: ``id, title, description, lead_entity, lead_entity_type, partners, sdgs, targets,
  start_date, end_date, resources, progress_status`` (lists as JSON arrays or ``;``-separated text);
* the one-hot layout of the Ocean Conference commitments workbook: ``ocean_action_id, title,
  description, entity`` with one column per goal (``sdg_1``..``sdg_17``) and target
  (``target_14.1``...), 1 where the initiative names it; these become one row per goal or target.

The container is recognised from the file's first bytes, not its extension.
"""

import json
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import polars as pl

from assets.io import (
    DEFAULT_MAX_TABLE_BYTES,
    SourceFileError,
    read_csv_batches,
    read_json_records,
    read_xlsx_strings,
    require_columns,
    sniff_format,
)
from assets.reference import config, normalize_name_expr
from schemas.quality import empty_rejects, reject_rows, without_rejected

RECORD_COLUMNS = ["id", "title", "lead_entity"]
ONE_HOT_COLUMNS = ["ocean_action_id", "title", "entity"]
_ACTION_ID = r"^#?(SDGAction|OceanAction)\s*(\d+)$"
_TRUE = ["true", "1", "yes"]


def sdg_target_codes() -> set[str]:
    return {f"{goal}.{t}" for goal, targets in config("sdg_targets.yaml")["targets"].items() for t in targets}


# JSON and XLSX files are read whole by their engines; their rows are then typed and validated in
# slices of this many rows, as CSV records are in batches.
ROWS_PER_BATCH = 100_000


def _raw_batches(path: Path, label: str, fmt: str | None, max_bytes: int) -> Iterator[tuple[pl.DataFrame, int]]:
    """(raw rows, the row number of the first: the header is row 1)."""
    fmt = fmt or sniff_format(path)
    if fmt == "csv":
        yield from read_csv_batches(path, label, max_bytes=max_bytes)
        return
    if fmt == "xlsx":
        whole = read_xlsx_strings(path, label, max_bytes=max_bytes)
    elif fmt == "json":
        whole = read_json_records(path, label, max_bytes=max_bytes)
    else:
        raise SourceFileError(label, f"unknown sdg_partnerships format {fmt!r} (expected json, csv or xlsx)")
    for offset in range(0, max(whole.height, 1), ROWS_PER_BATCH):
        yield whole.slice(offset, ROWS_PER_BATCH), offset + 2


def _as_list(text: str | None) -> list[str]:
    """JSON array text, or ';'- or ','-separated text, as a list of trimmed strings."""
    if text is None:
        return []
    text = text.strip()
    if text.startswith("["):
        try:
            values = json.loads(text)
        except json.JSONDecodeError:
            values = [text]
        items = [str(v) for v in values if v is not None] if isinstance(values, list) else [text]
    else:
        items = re.split(r"[;,]", text)
    return [i.strip() for i in items if i.strip()]


def _split_lists(frame: pl.DataFrame, columns: dict[str, str]) -> pl.DataFrame:
    """Each ``source -> target`` column parsed as :func:`_as_list` does: vectorized for ';'/','-separated
    text, and through :func:`_as_list` only for the rows holding a JSON array."""
    out = frame.with_row_index("_split_row")
    for source, target in columns.items():
        text = pl.col(source).str.strip_chars()
        out = out.with_columns(
            pl.when(text.is_null()).then(pl.lit([], pl.List(pl.Utf8)))
            .otherwise(text.str.replace_all(",", ";").str.split(";")
                       .list.eval(pl.element().str.strip_chars()).list.eval(pl.element().filter(pl.element() != "")))
            .alias(target))
        json_rows = out.filter(text.str.starts_with("[")).select(
            "_split_row", pl.col(source).map_elements(_as_list, return_dtype=pl.List(pl.Utf8)).alias(f"{target}_json"))
        if json_rows.height:
            out = (out.join(json_rows, on="_split_row", how="left", maintain_order="left")
                   .with_columns(pl.coalesce(f"{target}_json", target).alias(target)).drop(f"{target}_json"))
    return out.drop("_split_row")


def read_partnerships(files: list[tuple[Path, str]], fmt: str | None, snapshot: date, *,
                      max_table_bytes: int = DEFAULT_MAX_TABLE_BYTES):
    """Returns (partnerships, partners, sdg rows, rejects), typed, not yet validated: the batches of
    :func:`partnership_batches` together."""
    batches = list(partnership_batches(files, fmt, snapshot, max_table_bytes=max_table_bytes))
    return (*(pl.concat([frames[t] for frames, _ in batches], how="diagonal_relaxed") for t in TABLES),
            pl.concat([empty_rejects(), *(rejects for _, rejects in batches)]))


TABLES = ("partnerships", "partnership_partners", "partnership_sdg_targets")


def partnership_batches(files: list[tuple[Path, str]], fmt: str | None, snapshot: date, *,
                        max_table_bytes: int = DEFAULT_MAX_TABLE_BYTES) -> Iterator[tuple[dict[str, pl.DataFrame], pl.DataFrame]]:
    """The initiatives, their partners and their SDG rows, typed and not yet validated, in batches of
    the files' records: each ({table: rows}, rejects). An action id seen in an earlier row (of this
    batch, an earlier batch or an earlier file) is rejected with its partners and SDG rows: the
    first row wins."""
    seen = pl.Series("action_id", [], pl.Utf8)
    for path, label in files:
        for raw, first_row in _raw_batches(path, label, fmt, max_table_bytes):
            raw = raw.rename({c: c.strip() for c in raw.columns})
            if all(c in raw.columns for c in ONE_HOT_COLUMNS):
                initiatives, partners, sdgs, rejects = _from_one_hot(raw, label, first_row)
            else:
                require_columns(raw, RECORD_COLUMNS, label, "SDG Actions records (or Ocean commitments one-hot)")
                initiatives, partners, sdgs, rejects = _from_records(raw, label, first_row)
            dup = initiatives.filter(pl.col("action_id").is_not_null() & (
                pl.col("action_id").is_in(seen.implode()) | (pl.int_range(pl.len()).over("action_id") > 0)))
            if dup.height:
                rejects = pl.concat([rejects, reject_rows(
                    dup, table="partnerships", key=pl.col("action_id"), column="action_id", check="field_uniqueness",
                    value=pl.col("action_id"), reason="duplicate action id: the first row was kept")])
            seen = pl.concat([seen, initiatives["action_id"].drop_nulls().unique()])
            initiative_rejects = rejects.filter(pl.col("table") == "partnerships")
            frames = zip(TABLES, (initiatives, partners, sdgs), strict=True)
            yield ({table: without_rejected(frame, initiative_rejects).with_columns(pl.lit(snapshot).alias("snapshot_date"))
                    for table, frame in frames}, pl.concat([empty_rejects(), rejects]))


def _action_ids(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    text = pl.col(column).str.strip_chars()
    return frame.with_columns(
        pl.when(text.str.contains(_ACTION_ID)).then(pl.format("#{}{}", text.str.extract(_ACTION_ID, 1), text.str.extract(_ACTION_ID, 2)))
        .alias("action_id"),
        text.str.extract(_ACTION_ID, 1).alias("platform"),
        text.str.extract(_ACTION_ID, 2).cast(pl.Int64, strict=False).alias("action_number"),
        text.alias("_raw_id"),
    )


def _id_rejects(frame: pl.DataFrame) -> pl.DataFrame:
    return reject_rows(frame.filter(pl.col("action_id").is_null()), table="partnerships",
                       key=pl.format("row {}", "source_row"), column="action_id", check="pattern", value=pl.col("_raw_id"),
                       reason="action id is not like #SDGAction12345 or #OceanAction41142")


def _partner_rows(frame: pl.DataFrame) -> pl.DataFrame:
    lead = frame.select("action_id", "source_file", "source_row", pl.lit("lead").alias("role"),
                        pl.col("lead_entity").alias("name"), pl.col("lead_entity_type").alias("entity_type"))
    if "_partners" in frame.columns:
        others = frame.select("action_id", "source_file", "source_row", pl.lit("partner").alias("role"),
                              pl.col("_partners").alias("name"), pl.lit(None, pl.Utf8).alias("entity_type")).explode("name")
        lead = pl.concat([lead, others])
    return (lead.filter(pl.col("name").is_not_null() & (pl.col("name").str.strip_chars() != ""))
            .with_columns(pl.col("name").str.strip_chars().alias("name_as_written"))
            .with_columns(normalize_name_expr("name_as_written").alias("name_normalized"))
            .drop("name")
            # numbered within the row: a repeated action id (rejected) does not shift the first row's numbers
            .with_columns(pl.int_range(pl.len()).over("action_id", "source_file", "source_row").cast(pl.Int32).alias("partner_index")))


def _sdg_rejects(rows: pl.DataFrame, valid_targets: set[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    ok = (pl.when(pl.col("kind") == "goal").then(pl.col("goal").is_between(1, 17))
          .otherwise(pl.col("code").is_in(sorted(valid_targets)))).fill_null(False)
    bad = reject_rows(rows.filter(~ok), table="partnership_sdg_targets", key=pl.format("{} {}", "action_id", "code"),
                      column="code", check="isin", value=pl.col("code"),
                      reason="not a UN SDG goal (1-17) or target (config/sdg_targets.yaml)")
    return rows.filter(ok), bad


def _from_one_hot(raw: pl.DataFrame, label: str, first_row: int):
    frame = _action_ids(raw.with_row_index("source_row", offset=first_row).with_columns(pl.col("source_row").cast(pl.Int64)),
                        "ocean_action_id").with_columns(pl.lit(label).alias("source_file"))
    goal_cols = [c for c in frame.columns if re.fullmatch(r"sdg_\d+", c)]
    target_cols = [c for c in frame.columns if c.startswith("target_")]
    if not goal_cols and not target_cols:
        raise SourceFileError(label, "the one-hot layout (ocean_action_id) needs sdg_<n> or target_<code> columns; "
                                     f"found {', '.join(frame.columns[:20])}")
    one = lambda c: pl.col(c).str.strip_chars().is_in(["1", "1.0", "True", "true"])  # noqa: E731
    initiatives = frame.select(
        "action_id", "platform", "action_number",
        pl.col("title").str.strip_chars(), pl.col("description").str.strip_chars() if "description" in frame.columns else pl.lit(None, pl.Utf8).alias("description"),
        pl.col("entity").str.strip_chars().alias("lead_entity"), pl.lit(None, pl.Utf8).alias("lead_entity_type"),
        pl.lit(None, pl.Date).alias("start_date"), pl.lit(None, pl.Date).alias("end_date"),
        pl.lit(None, pl.Utf8).alias("resources_mobilized"), pl.lit(None, pl.Utf8).alias("progress_status"),
        (pl.col("url").str.strip_chars() if "url" in frame.columns else pl.lit(None, pl.Utf8)).alias("url"),
        *[(pl.col(c).str.strip_chars().str.to_lowercase().is_in(_TRUE) if c in frame.columns else pl.lit(None, pl.Boolean)).alias(c)
          for c in ("has_duplicate_title", "has_duplicate_description")],
        "source_file", "source_row",
    )
    long = frame.select("action_id", "source_file", "source_row",
                        *[one(c).alias(c) for c in goal_cols + target_cols]).unpivot(
        index=["action_id", "source_file", "source_row"], variable_name="column", value_name="flag").filter(pl.col("flag"))
    sdg = long.select(
        "action_id", "source_file", "source_row",
        pl.when(pl.col("column").str.starts_with("sdg_")).then(pl.lit("goal")).otherwise(pl.lit("target")).alias("kind"),
        pl.col("column").str.replace(r"^(sdg_|target_)", "").alias("code"),
    ).with_columns(pl.col("code").str.extract(r"^(\d+)", 1).cast(pl.Int32, strict=False).alias("goal"))
    sdg, bad_sdg = _sdg_rejects(sdg, sdg_target_codes())
    partners = _partner_rows(initiatives.filter(pl.col("action_id").is_not_null()))
    return initiatives, partners, sdg.filter(pl.col("action_id").is_not_null()), pl.concat([_id_rejects(frame), bad_sdg])


def _from_records(raw: pl.DataFrame, label: str, first_row: int):
    def col(name: str) -> pl.Expr:
        return (pl.col(name).str.strip_chars() if name in raw.columns else pl.lit(None, pl.Utf8)).alias(name)

    frame = _action_ids(raw.with_row_index("source_row", offset=first_row).with_columns(pl.col("source_row").cast(pl.Int64)),
                        "id").with_columns(pl.lit(label).alias("source_file"))
    frame = frame.with_columns(*[col(c) for c in ("description", "lead_entity_type", "resources", "progress_status", "url",
                                                  "partners", "sdgs", "targets", "start_date", "end_date")])
    frame = _split_lists(frame, {"partners": "_partners", "sdgs": "_sdgs", "targets": "_targets"}).with_columns(
        pl.col("start_date").str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False).alias("_start"),
        pl.col("end_date").str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False).alias("_end"),
    )
    date_rejects = []
    for source, parsed in (("start_date", "_start"), ("end_date", "_end")):
        date_rejects.append(reject_rows(
            frame.filter(pl.col(source).is_not_null() & pl.col(parsed).is_null()), table="partnerships",
            key=pl.coalesce("action_id", pl.format("row {}", "source_row")), column=source, check="parse",
            value=pl.col(source), reason="not an ISO date (YYYY-MM-DD); left null", severity="warning"))
    initiatives = frame.select(
        "action_id", "platform", "action_number", pl.col("title").str.strip_chars(), "description",
        pl.col("lead_entity").str.strip_chars(), "lead_entity_type", pl.col("_start").alias("start_date"),
        pl.col("_end").alias("end_date"), pl.col("resources").alias("resources_mobilized"), "progress_status", "url",
        pl.lit(None, pl.Boolean).alias("has_duplicate_title"), pl.lit(None, pl.Boolean).alias("has_duplicate_description"),
        "source_file", "source_row",
    )
    goals = frame.select("action_id", "source_file", "source_row", pl.col("_sdgs").alias("code")).explode("code").drop_nulls("code")
    goals = goals.with_columns(pl.col("code").str.replace(r"(?i)^(sdg|goal)\s*", ""), pl.lit("goal").alias("kind"))
    targets = frame.select("action_id", "source_file", "source_row", pl.col("_targets").alias("code")).explode("code").drop_nulls("code")
    targets = targets.with_columns(pl.col("code").str.to_lowercase(), pl.lit("target").alias("kind"))
    sdg = pl.concat([goals, targets]).with_columns(
        pl.col("code").str.extract(r"^(\d+)", 1).cast(pl.Int32, strict=False).alias("goal"))
    sdg, bad_sdg = _sdg_rejects(sdg.filter(pl.col("action_id").is_not_null()), sdg_target_codes())
    # a valid target implies its goal
    implied = sdg.filter(pl.col("kind") == "target").select(
        "action_id", "source_file", "source_row", pl.col("goal").cast(pl.Utf8).alias("code"), pl.lit("goal").alias("kind"), "goal")
    sdg = pl.concat([sdg, implied]).unique(subset=["action_id", "kind", "code"], keep="first", maintain_order=True)
    partners = _partner_rows(frame.filter(pl.col("action_id").is_not_null()).select(
        "action_id", "source_file", "source_row", "lead_entity", "lead_entity_type", "_partners"))
    return initiatives, partners, sdg, pl.concat([_id_rejects(frame), bad_sdg, *date_rejects])


