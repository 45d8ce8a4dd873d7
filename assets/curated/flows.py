"""One fact table of money between partners and the UN (``financing_flows``).

From IATI: incoming funds (1) and incoming commitments (11) from foundations (60) and the private
sector (70-73) to UN reporting organisations (type 40), and disbursements (3) and expenditure (4)
from UN reporting organisations to private-sector receivers (70-73); also outgoing money reported by
private or foundation publishers to UN receivers. From UN revenue: every contribution, by
contributor type.

Double counting rule (``is_counted`` false, with ``double_count_reason``):

1. An incoming commitment (11) is not counted when incoming funds (1) from the same provider to the
   same activity exist: the funds are the money, the commitment announced it.
2. The same money reported by both sides: an outgoing transaction (2, 3) reported by the provider
   and incoming funds (1) reported by the UN entity, with the same provider and recipient
   organisations, the same year and USD amounts within 1 %, are counted once, from the UN entity's
   report.

Totals of the marts use counted rows only.
"""

import polars as pl

from assets.curated.matching import normalize_expr
from assets.reference import config, country_names, stable_id
from schemas.base import polars_schema
from schemas.curated import FinancingFlows
from schemas.iati_codelists import load_codelists
from schemas.vocabularies import PRIVATE_ORGANISATION_TYPES

PRIVATE_TYPES = list(PRIVATE_ORGANISATION_TYPES)
UN_TYPE = "40"
# the fact table's columns and types, from its model (snapshot_date is added by the caller's partition)
FLOW_SCHEMA = {c: t for c, t in polars_schema(FinancingFlows).items() if c != "snapshot_date"}
# names added from the organisations and code lists after the flows are built
NAME_COLUMNS = ("provider_org_name", "provider_country_iso3", "provider_country_name", "recipient_org_name",
                "provider_type_name", "transaction_type_name")


def _org_lookup(links: pl.DataFrame, table: str) -> pl.DataFrame:
    return links.filter(pl.col("source_table") == table).select("source_key", "org_id").unique("source_key")


def _same_activity_types(participating_orgs: pl.DataFrame | None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The organisation types the activity's participating organisations state, by (activity, ref)
    and by (activity, normalized name); a ref or name given two different types is left out."""
    schema = {"iati_identifier": pl.Utf8, "_match": pl.Utf8, "_type": pl.Utf8}
    if participating_orgs is None:
        return pl.DataFrame(schema=schema), pl.DataFrame(schema=schema)
    orgs = participating_orgs.filter(pl.col("org_type_code").is_not_null()).with_columns(
        normalize_expr("org_name").alias("_name"))

    def unambiguous(column: str) -> pl.DataFrame:
        return (orgs.filter(pl.col(column).is_not_null())
                .group_by("iati_identifier", pl.col(column).alias("_match"))
                .agg(pl.col("org_type_code").unique().alias("_types"))
                .filter(pl.col("_types").list.len() == 1)
                .select("iati_identifier", "_match", pl.col("_types").list.first().alias("_type")))
    return unambiguous("org_ref"), unambiguous("_name")


def _resolve_types(tx: pl.DataFrame, side: str, by_ref: pl.DataFrame, by_name: pl.DataFrame,
                   org_types: pl.DataFrame) -> pl.DataFrame:
    """``<side>_org_type_code`` completed where the transaction does not state it: from the same
    activity's participating organisation with the same ref, else the same normalized name, else the
    conformed organisation's type; ``<side>_type_method`` says which."""
    code, ref, name, org = f"{side}_org_type_code", f"{side}_org_ref", f"{side}_org_name", f"_{side}"
    tx = (tx.with_columns(normalize_expr(name).alias("_norm"))
          .join(by_ref.rename({"_match": ref, "_type": "_by_ref"}), on=["iati_identifier", ref], how="left",
                maintain_order="left")
          .join(by_name.rename({"_match": "_norm", "_type": "_by_name"}), on=["iati_identifier", "_norm"], how="left",
                maintain_order="left")
          .join(org_types.rename({"org_id": org, "_org_type": "_by_org"}), on=org, how="left", maintain_order="left"))
    return tx.with_columns(
        pl.coalesce(code, "_by_ref", "_by_name", "_by_org").alias(code),
        pl.when(pl.col(code).is_not_null()).then(pl.lit("transaction"))
        .when(pl.col("_by_ref").is_not_null()).then(pl.lit("participating-org ref"))
        .when(pl.col("_by_name").is_not_null()).then(pl.lit("participating-org name"))
        .when(pl.col("_by_org").is_not_null()).then(pl.lit("conformed organisation"))
        .otherwise(pl.lit("unknown")).alias(f"{side}_type_method"),
    ).drop("_norm", "_by_ref", "_by_name", "_by_org")


def _iati_flows(transactions: pl.DataFrame, activities: pl.DataFrame, participating_orgs: pl.DataFrame | None,
                links: pl.DataFrame, organizations: pl.DataFrame) -> pl.DataFrame:
    acts = activities.select("iati_identifier", "reporting_org_ref", "reporting_org_name", "reporting_org_type_code", "sdg_goals")
    tx = transactions.join(acts, on="iati_identifier", how="inner")
    tx = (tx.with_columns(pl.coalesce("provider_org_ref", "provider_org_name").alias("_provider_key"),
                          pl.coalesce("receiver_org_ref", "receiver_org_name").alias("_receiver_key"))
          .join(_org_lookup(links, "iati_transactions.provider_org").rename({"source_key": "_provider_key", "org_id": "_provider"}),
                on="_provider_key", how="left")
          .join(_org_lookup(links, "iati_transactions.receiver_org").rename({"source_key": "_receiver_key", "org_id": "_receiver"}),
                on="_receiver_key", how="left")
          .join(_org_lookup(links, "iati_activities").rename({"source_key": "reporting_org_ref", "org_id": "_reporter"}),
                on="reporting_org_ref", how="left"))
    by_ref, by_name = _same_activity_types(participating_orgs)
    org_types = organizations.select("org_id", pl.col("organization_type_code").alias("_org_type"))
    for side in ("provider", "receiver"):
        tx = _resolve_types(tx, side, by_ref, by_name, org_types)
    un_reports = pl.col("reporting_org_type_code") == UN_TYPE
    private_reports = pl.col("reporting_org_type_code").is_in(PRIVATE_TYPES)
    incoming = un_reports & pl.col("transaction_type_code").is_in(["1", "11"]) & pl.col("provider_org_type_code").is_in(PRIVATE_TYPES)
    outgoing = un_reports & pl.col("transaction_type_code").is_in(["3", "4"]) & pl.col("receiver_org_type_code").is_in(PRIVATE_TYPES[1:])
    private_out = (private_reports & pl.col("transaction_type_code").is_in(["2", "3"])
                   & (pl.col("receiver_org_type_code") == UN_TYPE))
    selected = tx.filter(incoming | outgoing | private_out).with_columns(
        pl.when(outgoing).then(pl.lit("from_un")).otherwise(pl.lit("to_un")).alias("direction"),
        pl.when(private_out).then(pl.lit("partner")).otherwise(pl.lit("UN entity")).alias("reported_by"),
        pl.when(outgoing).then(pl.col("_reporter")).when(private_out).then(pl.col("_reporter"))
        .otherwise(pl.col("_provider")).alias("provider_org_id"),
        pl.when(outgoing).then(pl.col("_receiver")).when(private_out).then(pl.col("_receiver"))
        .otherwise(pl.col("_reporter")).alias("recipient_org_id"),
        pl.when(outgoing | private_out).then(pl.col("reporting_org_type_code"))
        .otherwise(pl.col("provider_org_type_code")).alias("provider_type_code"),
        pl.when(outgoing | private_out).then(pl.lit("reporting-org"))
        .otherwise(pl.col("provider_type_method")).alias("provider_type_method"),
        pl.when(private_out).then(pl.col("receiver_org_name")).otherwise(pl.col("reporting_org_name")).alias("un_entity"),
    )
    return selected.select(
        pl.format("iati:{}#transaction[{}]", "iati_identifier", "transaction_index").alias("source_ref"),
        pl.lit("iati").alias("source"), "direction", "reported_by",
        pl.col("value_date").dt.year().cast(pl.Int32).alias("year"), pl.col("value_date").alias("date"),
        "provider_org_id", "recipient_org_id", "provider_type_code", "provider_type_method", "un_entity",
        pl.col("value").alias("amount_original"), "currency", pl.col("value_usd").alias("amount_usd"),
        pl.col("transaction_type_code").alias("transaction_type"), "sdg_goals", "iati_identifier",
    )


def _revenue_flows(revenue: pl.DataFrame, links: pl.DataFrame, organizations: pl.DataFrame) -> pl.DataFrame:
    """UN revenue rows as flows. The provider's type follows the source first: the row's own CEB
    contributor type (its code or label, else the same donor's type in other rows of the source, else
    the configured donor mapping), mapped to an IATI OrganisationType; only an unclassified row
    (UNG) takes the conformed organisation's type. A row the CEB classes as a government,
    multilateral, development bank, UN entity or pooled fund is never private, whatever another
    source says of the same name."""
    to_iati = config("un_revenue.yaml")["contributor_iati_types"]
    donors = _org_lookup(links, "un_revenue_by_contributor").rename({"source_key": "donor", "org_id": "provider_org_id"})
    types = organizations.select(pl.col("org_id").alias("provider_org_id"), pl.col("organization_type_code").alias("_org_type"))
    unclassified = pl.col("contributor_type_code") == "UNG"
    own = pl.col("contributor_type_code").replace_strict(to_iati, default=None, return_dtype=pl.Utf8)
    return (revenue.join(donors, on="donor", how="left").join(types, on="provider_org_id", how="left")
            .select(
                pl.format("un_revenue:{}", "source_row_ref").alias("source_ref"), pl.lit("un_revenue").alias("source"),
                pl.lit("to_un").alias("direction"), pl.lit("UN entity").alias("reported_by"), "year",
                pl.lit(None, pl.Date).alias("date"), "provider_org_id", pl.lit(None, pl.Utf8).alias("recipient_org_id"),
                pl.when(unclassified).then(pl.col("_org_type")).otherwise(own).alias("provider_type_code"),
                pl.when(unclassified & pl.col("_org_type").is_not_null()).then(pl.lit("conformed organisation"))
                .when(unclassified).then(pl.lit("unknown"))
                .otherwise(pl.format("CEB contributor type ({})", "contributor_type_method")).alias("provider_type_method"),
                pl.col("un_entity"),
                pl.col("amount_usd").alias("amount_original"), pl.lit("USD").alias("currency"), "amount_usd",
                pl.col("revenue_type_code").alias("transaction_type"),
                pl.lit(None, pl.List(pl.Int32)).alias("sdg_goals"), pl.lit(None, pl.Utf8).alias("iati_identifier"),
            ))


def financing_flows(transactions: pl.DataFrame | None, activities: pl.DataFrame | None, revenue: pl.DataFrame | None,
                    links: pl.DataFrame, organizations: pl.DataFrame, snapshot,
                    participating_orgs: pl.DataFrame | None = None) -> tuple[pl.DataFrame, dict[str, int]]:
    """(financing_flows, counts of rows excluded by each double-counting rule)."""
    parts = []
    if transactions is not None and activities is not None:
        parts.append(_iati_flows(transactions, activities, participating_orgs, links, organizations))
    if revenue is not None:
        parts.append(_revenue_flows(revenue, links, organizations))
    schema = {k: v for k, v in FLOW_SCHEMA.items() if k not in ("flow_id", "is_counted", "double_count_reason", *NAME_COLUMNS)}
    flows = pl.concat([p.select([pl.col(c).cast(t) for c, t in schema.items()]) for p in parts]) if parts else pl.DataFrame(schema=schema)
    flows = flows.with_row_index("_row")

    # rule 1: commitments superseded by funds of the same provider to the same activity
    funded = flows.filter((pl.col("transaction_type") == "1") & (pl.col("reported_by") == "UN entity")).select(
        "iati_identifier", "provider_org_id").unique().with_columns(pl.lit(True).alias("_funded"))
    flows = flows.join(funded, on=["iati_identifier", "provider_org_id"], how="left", nulls_equal=False)
    rule1 = (pl.col("transaction_type") == "11") & pl.col("_funded").fill_null(False)

    # rule 2: both sides report the same money
    provider_side = flows.filter(pl.col("reported_by") == "partner").select(
        "_row", "provider_org_id", "recipient_org_id", "year", "amount_usd")
    recipient_side = flows.filter((pl.col("reported_by") == "UN entity") & (pl.col("transaction_type") == "1")).select(
        "provider_org_id", "recipient_org_id", "year", pl.col("amount_usd").alias("_amount_r"))
    doubled = (provider_side.join(recipient_side, on=["provider_org_id", "recipient_org_id", "year"], how="inner")
               .filter((pl.col("amount_usd") - pl.col("_amount_r")).abs() <= 0.01 * pl.col("_amount_r").abs())
               .select("_row").unique())
    rule2 = pl.col("_row").is_in(doubled["_row"].implode())
    flows = flows.with_columns(
        pl.when(rule1).then(pl.lit("commitment superseded by incoming funds of the same provider to the same activity"))
        .when(rule2).then(pl.lit("also reported by the UN recipient as incoming funds (counted there)"))
        .otherwise(None).alias("double_count_reason"),
    ).with_columns(pl.col("double_count_reason").is_null().alias("is_counted"))
    counts = {"commitment_superseded": flows.filter(rule1).height, "reported_by_both_sides": flows.filter(rule2 & ~rule1).height}
    flows = flows.with_columns(
        pl.col("source_ref").map_elements(lambda r: stable_id("flow", r), return_dtype=pl.Utf8).alias("flow_id"),
        pl.lit(snapshot).alias("snapshot_date"),
    )
    return _with_names(flows, organizations).select(list(FLOW_SCHEMA) + ["snapshot_date"]).sort("flow_id"), counts


def _with_names(flows: pl.DataFrame, organizations: pl.DataFrame) -> pl.DataFrame:
    """Names beside codes: organisations' names and countries, type names, transaction or revenue
    type names (IATI TransactionType for IATI flows, the CEB revenue type for UN revenue)."""
    codelists = load_codelists()
    revenue_types = config("un_revenue.yaml")["revenue_types"]
    orgs = organizations.select("org_id", "canonical_name", "country_iso3")
    return (flows
            .join(orgs.rename({"org_id": "provider_org_id", "canonical_name": "provider_org_name",
                               "country_iso3": "provider_country_iso3"}), on="provider_org_id", how="left")
            .join(orgs.rename({"org_id": "recipient_org_id", "canonical_name": "recipient_org_name"})
                  .drop("country_iso3"), on="recipient_org_id", how="left")
            .with_columns(
                pl.col("provider_type_code").replace_strict(codelists["OrganisationType"], default=None,
                                                            return_dtype=pl.Utf8).alias("provider_type_name"),
                pl.col("provider_country_iso3").replace_strict(country_names(), default=None, return_dtype=pl.Utf8)
                .alias("provider_country_name"),
                pl.when(pl.col("source") == "iati")
                .then(pl.col("transaction_type").replace_strict(codelists["TransactionType"], default=None,
                                                                return_dtype=pl.Utf8))
                .otherwise(pl.col("transaction_type").replace_strict(revenue_types, default=None, return_dtype=pl.Utf8))
                .alias("transaction_type_name")))
