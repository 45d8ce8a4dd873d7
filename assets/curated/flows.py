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

from assets.reference import stable_id
from schemas.base import polars_schema
from schemas.curated import FinancingFlows
from schemas.vocabularies import PRIVATE_ORGANISATION_TYPES

PRIVATE_TYPES = list(PRIVATE_ORGANISATION_TYPES)
UN_TYPE = "40"
# the fact table's columns and types, from its model (snapshot_date is added by the caller's partition)
FLOW_SCHEMA = {c: t for c, t in polars_schema(FinancingFlows).items() if c != "snapshot_date"}


def _org_lookup(links: pl.DataFrame, table: str) -> pl.DataFrame:
    return links.filter(pl.col("source_table") == table).select("source_key", "org_id").unique("source_key")


def _iati_flows(transactions: pl.DataFrame, activities: pl.DataFrame, links: pl.DataFrame) -> pl.DataFrame:
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
        pl.when(private_out).then(pl.col("receiver_org_name")).otherwise(pl.col("reporting_org_name")).alias("un_entity"),
    )
    return selected.select(
        pl.format("iati:{}#transaction[{}]", "iati_identifier", "transaction_index").alias("source_ref"),
        pl.lit("iati").alias("source"), "direction", "reported_by",
        pl.col("value_date").dt.year().cast(pl.Int32).alias("year"), pl.col("value_date").alias("date"),
        "provider_org_id", "recipient_org_id", "provider_type_code", "un_entity",
        pl.col("value").alias("amount_original"), "currency", pl.col("value_usd").alias("amount_usd"),
        pl.col("transaction_type_code").alias("transaction_type"), "sdg_goals", "iati_identifier",
    )


def _revenue_flows(revenue: pl.DataFrame, links: pl.DataFrame, organizations: pl.DataFrame) -> pl.DataFrame:
    donors = _org_lookup(links, "un_revenue_by_contributor").rename({"source_key": "donor", "org_id": "provider_org_id"})
    types = organizations.select(pl.col("org_id").alias("provider_org_id"), pl.col("organization_type_code").alias("_org_type"))
    return (revenue.join(donors, on="donor", how="left").join(types, on="provider_org_id", how="left")
            .select(
                pl.format("un_revenue:{}", "source_row_ref").alias("source_ref"), pl.lit("un_revenue").alias("source"),
                pl.lit("to_un").alias("direction"), pl.lit("UN entity").alias("reported_by"), "year",
                pl.lit(None, pl.Date).alias("date"), "provider_org_id", pl.lit(None, pl.Utf8).alias("recipient_org_id"),
                pl.col("_org_type").alias("provider_type_code"), pl.col("un_entity"),
                pl.col("amount_usd").alias("amount_original"), pl.lit("USD").alias("currency"), "amount_usd",
                pl.col("revenue_type_code").alias("transaction_type"),
                pl.lit(None, pl.List(pl.Int32)).alias("sdg_goals"), pl.lit(None, pl.Utf8).alias("iati_identifier"),
            ))


def financing_flows(transactions: pl.DataFrame | None, activities: pl.DataFrame | None, revenue: pl.DataFrame | None,
                    links: pl.DataFrame, organizations: pl.DataFrame, snapshot) -> tuple[pl.DataFrame, dict[str, int]]:
    """(financing_flows, counts of rows excluded by each double-counting rule)."""
    parts = []
    if transactions is not None and activities is not None:
        parts.append(_iati_flows(transactions, activities, links))
    if revenue is not None:
        parts.append(_revenue_flows(revenue, links, organizations))
    schema = {k: v for k, v in FLOW_SCHEMA.items() if k not in ("flow_id", "is_counted", "double_count_reason")}
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
    return flows.select(list(FLOW_SCHEMA) + ["snapshot_date"]).sort("flow_id"), counts
