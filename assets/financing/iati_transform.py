"""Typed, labelled, converted IATI tables from the reader's string columns.

``transform_batch`` turns one :class:`~assets.financing.iati_reader.IatiBatch` into the four curated
frames plus reject rows: values that do not parse (dates, numbers) and Pandera failures are
quarantined with their reason; children of a rejected activity are quarantined with it; rows
without an exchange rate are published with a null ``value_usd`` and flagged as warnings.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import polars as pl

from assets.financing.fx import FxRates, convert_to_usd
from assets.financing.iati_reader import IatiBatch
from assets.io import finite_number
from assets.validation import split_valid
from schemas.catalog import IATI_TABLES
from schemas.financing import SECTOR, IatiActivities, IatiBudgets, IatiParticipatingOrgs, IatiTransactions
from schemas.iati_codelists import load_codelists
from schemas.quality import empty_rejects, reject_columns, rejects_frame
from schemas.vocabularies import ALPHA2_TO_ALPHA3

_ISO_DATE = "an ISO date (YYYY-MM-DD)"
_TARGET_PATTERN = r"^([1-9]|1[0-7])\.([0-9]{1,2}|[a-z])$"
TABLES = IATI_TABLES


@dataclass
class TransformedBatch:
    tables: dict[str, pl.DataFrame]
    rejects: pl.DataFrame


def _names(code_col: str, codelist: str, name_col: str) -> pl.Expr:
    return pl.col(code_col).replace_strict(load_codelists()[codelist], default=None, return_dtype=pl.Utf8).alias(name_col)


def _normalize_codes(raw: pl.DataFrame, columns: dict[str, str], *, table: str,
                     keys: pl.Series) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Codes that differ from a codelist code only in case or surrounding whitespace (``usd``,
    `` 11 ``) take the codelist's spelling, with a warning reject; other values stay as published
    (the model's codelist check rejects them)."""
    out = raw.with_columns(
        pl.col(col).str.strip_chars().str.to_lowercase()
        .replace_strict({code.lower(): code for code in load_codelists()[codelist]}, default=None, return_dtype=pl.Utf8)
        .fill_null(pl.col(col)).alias(col)
        for col, codelist in columns.items())
    warnings = []
    for col in columns:
        changed = (raw[col] != out[col]).fill_null(False)
        if changed.any():
            pair = pl.DataFrame({"before": raw[col].filter(changed), "after": out[col].filter(changed)})
            warnings.append(reject_columns({
                "table": table, "file": raw["source_file"].filter(changed), "line": raw["source_line"].filter(changed),
                "record_key": keys.filter(changed), "column": col, "check": "code_normalized", "value": pair["before"],
                "reason": pair.select(pl.format(f"{col}: '{{}}' read as the codelist code '{{}}'", "before", "after"))
                .to_series(),
                "severity": "warning"}))
    return out, pl.concat(warnings) if warnings else empty_rejects()


def _provenance(snapshot: date) -> tuple[pl.Expr]:
    return (pl.lit(snapshot).alias("snapshot_date"),)


def _files(batch: IatiBatch, label: str, height: int) -> pl.Series:
    """The file of each activity row: the batch's own label per row where it merges several small
    files, else ``label``."""
    if batch.labels is not None:
        return pl.Series("source_file", batch.labels, dtype=pl.Utf8)
    return pl.Series("source_file", [label] * height, dtype=pl.Utf8)


def _with_files(raw: pl.DataFrame, activities: pl.DataFrame) -> pl.DataFrame:
    """A child table's rows with the file of their activity."""
    return raw.join(activities.select("activity_seq", "source_file"), on="activity_seq", how="left",
                    maintain_order="left")


def _date(col: str) -> pl.Expr:
    # IATI dates are xsd:date; some publishers send a datetime. The date part is what counts.
    return pl.col(col).str.strip_chars().str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)


def _flag_bool(col: str) -> pl.Expr:
    text = pl.col(col).str.strip_chars().str.to_lowercase()
    return (pl.when(text.is_in(["1", "true"])).then(True)
            .when(text.is_in(["0", "false"])).then(False)
            .otherwise(None).alias(col))


def _parse_failures(raw: pl.DataFrame, parsed: pl.DataFrame, columns: dict[str, str], *, table: str,
                    keys: pl.Series, severity: str = "error") -> pl.DataFrame:
    """Rows where a value was present but did not parse as its type."""
    frames = []
    for column, expected in columns.items():
        failed = raw[column].is_not_null() & parsed[column].is_null()
        if not failed.any():
            continue
        frames.append(reject_columns({
            "table": table, "file": raw["source_file"].filter(failed), "line": raw["source_line"].filter(failed),
            "record_key": keys.filter(failed),
            "column": column, "check": "parse", "value": raw[column].filter(failed),
            "reason": f"{column}: not {expected}", "severity": severity,
        }))
    return pl.concat(frames) if frames else empty_rejects()


def _activities(batch: IatiBatch, label: str, snapshot: date) -> tuple[pl.DataFrame, pl.DataFrame]:
    raw = pl.DataFrame(batch.activities, schema={c: pl.Utf8 for c in batch.activities} |
                       {"source_line": pl.Int64, "activity_seq": pl.Int64})
    raw = raw.with_columns(_files(batch, label, raw.height))
    raw, normalized = _normalize_codes(raw, {
        "reporting_org_type_code": "OrganisationType", "activity_status_code": "ActivityStatus",
        "default_currency": "Currency", "default_flow_type_code": "FlowType", "default_finance_type_code": "FinanceType",
        "default_aid_type_code": "AidType"}, table="iati_activities", keys=raw["iati_identifier"])
    date_cols = ["planned_start_date", "actual_start_date", "planned_end_date", "actual_end_date"]
    typed = raw.with_columns(
        *[_date(c) for c in date_cols],
        _flag_bool("humanitarian"),
        pl.col("hierarchy").str.strip_chars().cast(pl.Int32, strict=False),
        _names("reporting_org_type_code", "OrganisationType", "reporting_org_type_name"),
        _names("activity_status_code", "ActivityStatus", "activity_status_name"),
        *_provenance(snapshot),
    )
    keys = raw["iati_identifier"]
    rejects = [_parse_failures(raw, typed, {**{c: _ISO_DATE for c in date_cols},
                                            "hierarchy": "an integer", "humanitarian": "a boolean (0/1/true/false)"},
                               table="iati_activities", keys=keys)]
    # hierarchy and humanitarian flags that do not parse are kept as null, flagged as warnings
    rejects[0] = rejects[0].with_columns(
        pl.when(pl.col("column").is_in(["hierarchy", "humanitarian"])).then(pl.lit("warning"))
        .otherwise(pl.col("severity")).alias("severity"))
    rejects.append(normalized)

    classified = (pl.DataFrame(batch.classifications, schema={c: pl.Utf8 for c in batch.classifications} |
                               {"activity_seq": pl.Int64})
                  .filter(pl.col("code").is_not_null())
                  .with_columns(pl.col("code").str.strip_chars(), pl.col("vocabulary").str.strip_chars()))
    of = {name: classified.filter(pl.col("element") == name)
          for name in ("recipient-country", "recipient-region", "sector", "tag")}

    countries = of["recipient-country"].with_columns(pl.col("code").str.to_uppercase()).with_columns(
        pl.col("code").replace_strict(ALPHA2_TO_ALPHA3, default=None).alias("iso3"))
    unknown = countries.filter(pl.col("iso3").is_null()).join(
        typed.select("activity_seq", "iati_identifier", "source_file", "source_line"), on="activity_seq", how="left",
        maintain_order="left")
    if unknown.height:
        rejects.append(reject_columns({
            "table": "iati_activities", "file": unknown["source_file"], "line": unknown["source_line"],
            "record_key": unknown["iati_identifier"],
            "column": "recipient_country_codes", "check": "iso3166", "value": unknown["code"],
            "reason": "recipient country code is not an ISO 3166-1 alpha-2 code; left out of recipient_countries_iso3",
            "severity": "warning"}))
    lists = [
        countries.group_by("activity_seq", maintain_order=True).agg(
            pl.col("code").alias("recipient_country_codes"),
            pl.col("iso3").drop_nulls().unique(maintain_order=True).alias("recipient_countries_iso3")),
        of["recipient-region"].group_by("activity_seq", maintain_order=True).agg(
            pl.col("code").alias("recipient_region_codes"), pl.col("vocabulary").alias("recipient_region_vocabularies")),
        of["sector"].group_by("activity_seq", maintain_order=True).agg(pl.struct(
            vocabulary=pl.col("vocabulary"), code=pl.col("code"),
            percentage=finite_number(pl.col("percentage").str.strip_chars())).alias("sectors")),
    ]

    sdg = pl.concat([
        of["tag"].with_columns(kind=pl.col("vocabulary").replace_strict({"2": "goal", "3": "target"}, default=None)),
        of["sector"].with_columns(kind=pl.col("vocabulary").replace_strict({"7": "goal", "8": "target"}, default=None)),
    ]).drop_nulls("kind").with_columns(pl.col("code").str.to_lowercase())
    targets = sdg.filter((pl.col("kind") == "target") & pl.col("code").str.contains(_TARGET_PATTERN))
    goals = pl.concat([
        sdg.filter(pl.col("kind") == "goal").select("activity_seq", goal=pl.col("code").cast(pl.Int32, strict=False)),
        targets.select("activity_seq", goal=pl.col("code").str.extract(r"^(\d+)", 1).cast(pl.Int32)),
    ])
    lists += [
        goals.filter(pl.col("goal").is_between(1, 17)).unique(maintain_order=True).sort("activity_seq", "goal")
        .group_by("activity_seq", maintain_order=True).agg(pl.col("goal").alias("sdg_goals")),
        targets.unique(subset=["activity_seq", "code"], maintain_order=True)
        .group_by("activity_seq", maintain_order=True).agg(pl.col("code").alias("sdg_targets")),
    ]

    out = typed
    for part in lists:
        out = out.join(part, on="activity_seq", how="left", maintain_order="left")
    empty_lists = {"recipient_country_codes": pl.Utf8, "recipient_countries_iso3": pl.Utf8,
                   "recipient_region_codes": pl.Utf8, "recipient_region_vocabularies": pl.Utf8,
                   "sectors": SECTOR, "sdg_goals": pl.Int32, "sdg_targets": pl.Utf8}
    out = out.with_columns(pl.col(c).fill_null(pl.lit([], dtype=pl.List(inner))) for c, inner in empty_lists.items())
    return out, pl.concat(rejects)


def _transactions(batch: IatiBatch, activities: pl.DataFrame, snapshot: date,
                  rates: FxRates) -> tuple[pl.DataFrame, pl.DataFrame]:
    raw = _with_files(pl.DataFrame(batch.transactions, schema={c: pl.Utf8 for c in batch.transactions} |
                                   {"activity_seq": pl.Int64, "transaction_index": pl.Int32, "source_line": pl.Int64}),
                      activities)
    keys = _child_keys(raw, "transaction", "transaction_index")
    raw, normalized = _normalize_codes(raw, {
        "transaction_type_code": "TransactionType", "value_currency": "Currency",
        "provider_org_type_code": "OrganisationType", "receiver_org_type_code": "OrganisationType",
        "flow_type_code": "FlowType", "finance_type_code": "FinanceType", "aid_type_code": "AidType"},
        table="iati_transactions", keys=keys)
    defaults = activities.select("activity_seq", "default_currency", "default_flow_type_code",
                                 "default_finance_type_code", "default_aid_type_code",
                                 pl.col("humanitarian").alias("activity_humanitarian"))
    typed = raw.join(defaults, on="activity_seq", how="left", maintain_order="left").with_columns(
        _date("transaction_date"),
        _date("value_date"),
        finite_number(pl.col("value").str.strip_chars()),
        _flag_bool("humanitarian"),
        _names("transaction_type_code", "TransactionType", "transaction_type_name"),
        _names("provider_org_type_code", "OrganisationType", "provider_org_type_name"),
        _names("receiver_org_type_code", "OrganisationType", "receiver_org_type_name"),
    ).with_columns(
        pl.coalesce("value_currency", "default_currency").alias("currency"),
        pl.col("value_currency").is_null().alias("currency_from_default"),
        pl.coalesce("value_date", "transaction_date").alias("value_date"),
        pl.coalesce("humanitarian", "activity_humanitarian").alias("humanitarian"),
        pl.coalesce("flow_type_code", "default_flow_type_code").alias("flow_type_code"),
        pl.coalesce("finance_type_code", "default_finance_type_code").alias("finance_type_code"),
        pl.coalesce("aid_type_code", "default_aid_type_code").alias("aid_type_code"),
        *_provenance(snapshot),
    )
    rejects = _parse_failures(raw, typed, {"transaction_date": _ISO_DATE, "value_date": _ISO_DATE,
                                           "value": "a number"}, table="iati_transactions", keys=keys)
    return convert_to_usd(typed, rates), pl.concat([rejects, normalized, _no_currency(typed, "iati_transactions", keys)])


def _child_keys(raw: pl.DataFrame, element: str, index_col: str) -> pl.Series:
    return raw.select(pl.format("{}#{}[{}]", "iati_identifier", pl.lit(element), index_col)).to_series()


def _participating_orgs(batch: IatiBatch, activities: pl.DataFrame,
                        snapshot: date) -> tuple[pl.DataFrame, pl.DataFrame]:
    raw = _with_files(pl.DataFrame(batch.participating_orgs, schema={c: pl.Utf8 for c in batch.participating_orgs} |
                                   {"activity_seq": pl.Int64, "org_index": pl.Int32, "source_line": pl.Int64}),
                      activities)
    raw, normalized = _normalize_codes(raw, {"role_code": "OrganisationRole", "org_type_code": "OrganisationType"},
                                       table="iati_participating_orgs",
                                       keys=_child_keys(raw, "participating-org", "org_index"))
    return raw.with_columns(
        _names("role_code", "OrganisationRole", "role_name"),
        _names("org_type_code", "OrganisationType", "org_type_name"),
        *_provenance(snapshot),
    ), normalized


def _budgets(batch: IatiBatch, activities: pl.DataFrame, snapshot: date,
             rates: FxRates) -> tuple[pl.DataFrame, pl.DataFrame]:
    raw = _with_files(pl.DataFrame(batch.budgets, schema={c: pl.Utf8 for c in batch.budgets} |
                                   {"activity_seq": pl.Int64, "budget_index": pl.Int32, "source_line": pl.Int64}),
                      activities)
    keys = _child_keys(raw, "budget", "budget_index")
    raw, normalized = _normalize_codes(raw, {"budget_type_code": "BudgetType", "budget_status_code": "BudgetStatus",
                                             "value_currency": "Currency"}, table="iati_budgets", keys=keys)
    typed = raw.join(activities.select("activity_seq", "default_currency"), on="activity_seq", how="left",
                     maintain_order="left").with_columns(
        _date("period_start"), _date("period_end"), _date("value_date"),
        finite_number(pl.col("value").str.strip_chars()),
        _names("budget_type_code", "BudgetType", "budget_type_name"),
        _names("budget_status_code", "BudgetStatus", "budget_status_name"),
    ).with_columns(
        pl.coalesce("value_currency", "default_currency").alias("currency"),
        pl.coalesce("value_date", "period_start").alias("value_date"),
        *_provenance(snapshot),
    )
    rejects = _parse_failures(raw, typed, {"period_start": _ISO_DATE, "period_end": _ISO_DATE,
                                           "value_date": _ISO_DATE, "value": "a number"},
                              table="iati_budgets", keys=keys)
    return convert_to_usd(typed, rates), pl.concat([rejects, normalized, _no_currency(typed, "iati_budgets", keys),
                                                    _negative_budgets(typed, keys)])


def _negative_budgets(typed: pl.DataFrame, keys: pl.Series) -> pl.DataFrame:
    """Negative budgets are valid IATI (the schema and rules allow them) and are published; publishers
    mostly use them to correct an earlier budget, so each is flagged for a reader to check."""
    negative = (typed["value"] < 0).fill_null(False)
    if not negative.any():
        return empty_rejects()
    sub = typed.filter(negative)
    return reject_columns({
        "table": "iati_budgets", "file": sub["source_file"], "line": sub["source_line"], "record_key": keys.filter(negative),
        "column": "value",
        "check": "negative_budget", "value": sub["value"].cast(pl.Utf8),
        "reason": sub.select(pl.format("negative budget ({} budget): published as it is; often a correction of an "
                                       "earlier budget of the same period",
                                       pl.when(pl.col("budget_type_code") == "2").then(pl.lit("revised"))
                                       .otherwise(pl.lit("original")))).to_series(),
        "severity": "warning"})


def _no_currency(typed: pl.DataFrame, table: str, keys: pl.Series) -> pl.DataFrame:
    """Values with no currency left (neither value/@currency nor the activity's default-currency,
    or both empty): published with a null currency and value_usd, flagged as a warning."""
    missing = typed["currency"].is_null() & typed["value"].is_not_null()
    if not missing.any():
        return empty_rejects()
    return reject_columns({
        "table": table, "file": typed["source_file"].filter(missing), "line": typed["source_line"].filter(missing),
        "record_key": keys.filter(missing), "column": "currency",
        "check": "currency_present", "value": typed["value"].filter(missing).cast(pl.Utf8),
        "reason": "no currency: value/@currency and the activity's default-currency are missing or empty; "
                  "currency and value_usd left null", "severity": "warning"})


def _fx_warnings(frame: pl.DataFrame, table: str, keys: pl.Series) -> pl.DataFrame:
    missing = frame["fx_rate"].is_null() & frame["value"].is_not_null() & frame["currency"].is_not_null() & frame["value_date"].is_not_null()
    if not missing.any():
        return empty_rejects()
    sub = frame.filter(missing)
    return reject_columns({
        "table": table, "file": sub["source_file"], "line": None, "record_key": keys.filter(missing), "column": "value_usd",
        "check": "fx_rate_found",
        "value": sub.select(pl.format("{} {} on {}", "value", "currency", "value_date")).to_series(),
        "reason": "no exchange rate within the window (ECB: 7 days before the value date; IMF: same year); value_usd left null",
        "severity": "warning"})


def _cascade(children: pl.DataFrame, keys: pl.Series, reasons: pl.DataFrame,
             table: str) -> tuple[pl.DataFrame, pl.Series, pl.DataFrame]:
    """Remove the children of rejected activities, with a reject row saying so."""
    hit = children["activity_seq"].is_in(reasons["activity_seq"].implode())
    if not hit.any():
        return children, keys, empty_rejects()
    dropped = children.filter(hit).select("activity_seq", "source_file", "source_line").with_columns(
        key=keys.filter(hit)).join(reasons, on="activity_seq", how="left", maintain_order="left")
    rejects = reject_columns({
        "table": table, "file": dropped["source_file"], "line": dropped["source_line"], "record_key": dropped["key"],
        "column": None,
        "check": "parent_rejected", "value": dropped["iati_identifier"],
        "reason": dropped.select(pl.format("activity rejected: {}", pl.col("reason"))).to_series(),
        "severity": "error"})
    return children.filter(~hit), keys.filter(~hit), rejects


def _without_parse_errors(frame: pl.DataFrame, keys: pl.Series, parse_rejects: pl.DataFrame):
    bad = keys.is_in(parse_rejects.filter(pl.col("severity") == "error")["record_key"].implode())
    return frame.filter(~bad), keys.filter(~bad)


def transform_batch(batch: IatiBatch, label: str, snapshot: date, rates: FxRates,
                    duplicate_seqs: set[int] | None = None, first_seen: Mapping[str, str] | None = None) -> TransformedBatch:
    """Type, label, convert and validate one batch.

    ``duplicate_seqs`` are activities whose identifier was already taken by an earlier activity
    (the first one read wins, published or not; ``first_seen`` says from which file); they are
    rejected with their children.
    """
    reader_rejects = rejects_frame(batch.rejects)
    activities, act_parse = _activities(batch, label, snapshot)
    transactions, tr_parse = _transactions(batch, activities, snapshot, rates)
    orgs, org_parse = _participating_orgs(batch, activities, snapshot)
    budgets, bu_parse = _budgets(batch, activities, snapshot, rates)

    dup = activities["activity_seq"].is_in(sorted(duplicate_seqs or ()))
    dups = activities.filter(dup)
    dup_rejects = reject_columns({
        "table": "iati_activities", "file": dups["source_file"], "line": dups["source_line"],
        "record_key": dups["iati_identifier"],
        "column": "iati_identifier", "check": "field_uniqueness", "value": dups["iati_identifier"],
        "reason": [f"duplicate iati-identifier; first read from {(first_seen or {}).get(k, 'an earlier activity')}"
                   for k in dups["iati_identifier"]],
        "severity": "error"})
    candidates, candidate_keys = _without_parse_errors(activities.filter(~dup), activities.filter(~dup)["iati_identifier"], act_parse)
    valid_acts, val_rejects, bad = split_valid(candidates, IatiActivities, table="iati_activities",
                                               record_keys=candidate_keys, files=candidates["source_file"],
                                               lines=candidates["source_line"])
    valid_seqs = candidates.filter(~bad)["activity_seq"]

    # why each rejected activity was rejected, for its children's reject rows
    first_reason = (pl.concat([act_parse.filter(pl.col("severity") == "error"), val_rejects])
                    .group_by("record_key", maintain_order=True).agg(pl.col("reason").first()))
    reasons = (activities.filter(~pl.col("activity_seq").is_in(valid_seqs.implode()))
               .select("activity_seq", "iati_identifier")
               .join(first_reason, left_on="iati_identifier", right_on="record_key", how="left", maintain_order="left")
               .with_columns(pl.when(pl.col("activity_seq").is_in(dups["activity_seq"].implode()))
                             .then(pl.lit("duplicate iati-identifier")).otherwise(pl.col("reason")).alias("reason")))

    out_rejects = [reader_rejects, act_parse, dup_rejects, val_rejects]
    outputs = {"iati_activities": valid_acts}
    for table, frame, element, index_col, model, parse_rejects in (
        ("iati_transactions", transactions, "transaction", "transaction_index", IatiTransactions, tr_parse),
        ("iati_participating_orgs", orgs, "participating-org", "org_index", IatiParticipatingOrgs, org_parse),
        ("iati_budgets", budgets, "budget", "budget_index", IatiBudgets, bu_parse),
    ):
        keys = _child_keys(frame, element, index_col)
        frame, keys, cascade = _cascade(frame, keys, reasons, table)
        parse_rejects = parse_rejects.filter(pl.col("record_key").is_in(keys.implode()))
        frame, keys = _without_parse_errors(frame, keys, parse_rejects)
        valid, rejected, bad = split_valid(frame, model, table=table, record_keys=keys, files=frame["source_file"],
                                           lines=frame["source_line"])
        out_rejects += [parse_rejects, cascade, rejected]
        if "fx_rate" in valid.columns:
            out_rejects.append(_fx_warnings(valid, table, keys.filter(~bad)))
        outputs[table] = valid
    return TransformedBatch(tables=outputs, rejects=pl.concat(out_rejects))
