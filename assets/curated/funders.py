"""Private and foundation funders of IATI activities, including those an activity names only as a
funding participating organisation, with no transaction of its own.

Amounts follow one rule and invent nothing: a funder's amounts are the activity's incoming
commitments (type 11) and incoming funds (type 1) whose provider is that funder (same ref, or the
same normalized name); where the activity reports no such transaction, the amounts are null. No
amount is derived from budgets, from the activity's total, or from shares among funders.
"""

import polars as pl

from assets.curated.matching import normalize_expr
from schemas.iati_codelists import load_codelists
from schemas.vocabularies import PRIVATE_ORGANISATION_TYPES

FUNDING_ROLE = "1"
WITH_TRANSACTIONS = "incoming transactions of the activity from this funder (same ref or same normalized name)"
WITHOUT_TRANSACTIONS = ("no incoming transaction from this funder in the activity: amounts left null "
                        "(none inferred from budgets, totals or shares)")


def activity_funders(participating_orgs: pl.DataFrame, transactions: pl.DataFrame | None, activities: pl.DataFrame,
                     links: pl.DataFrame | None, snapshot) -> pl.DataFrame:
    funders = (participating_orgs
               .filter((pl.col("role_code") == FUNDING_ROLE) & pl.col("org_type_code").is_in(PRIVATE_ORGANISATION_TYPES))
               .select("iati_identifier", "org_index", "org_ref", "org_name", "org_type_code", "org_type_name",
                       normalize_expr("org_name").alias("_norm")))
    incoming = (transactions if transactions is not None else pl.DataFrame(schema={
        "iati_identifier": pl.Utf8, "transaction_index": pl.Int32, "transaction_type_code": pl.Utf8,
        "provider_org_ref": pl.Utf8, "provider_org_name": pl.Utf8, "value_usd": pl.Float64}))
    incoming = (incoming.filter(pl.col("transaction_type_code").is_in(["1", "11"]))
                .select("iati_identifier", "transaction_index", "transaction_type_code", "provider_org_ref",
                        normalize_expr("provider_org_name").alias("_provider_norm"), "value_usd"))
    matched = (funders.join(incoming, on="iati_identifier", how="inner")
               .filter((pl.col("org_ref").is_not_null() & (pl.col("org_ref") == pl.col("provider_org_ref")))
                       | (pl.col("_norm").is_not_null() & (pl.col("_norm") == pl.col("_provider_norm"))))
               .unique(["iati_identifier", "org_index", "transaction_index"])
               .group_by("iati_identifier", "org_index")
               .agg(pl.len().cast(pl.Int32).alias("transactions"),
                    pl.col("value_usd").filter(pl.col("transaction_type_code") == "11").sum().alias("committed_usd"),
                    pl.col("value_usd").filter(pl.col("transaction_type_code") == "1").sum().alias("received_usd"),
                    (pl.col("transaction_type_code") == "11").any().alias("_has_11"),
                    (pl.col("transaction_type_code") == "1").any().alias("_has_1")))
    org_ids = (links.filter(pl.col("source_table") == "iati_participating_orgs")
               .select(pl.col("source_key").alias("_key"), "org_id").unique("_key")
               if links is not None else pl.DataFrame(schema={"_key": pl.Utf8, "org_id": pl.Utf8}))
    reporters = activities.select("iati_identifier", "reporting_org_ref", "reporting_org_name", "reporting_org_type_code")
    type_names = load_codelists()["OrganisationType"]
    out = (funders.join(matched, on=["iati_identifier", "org_index"], how="left")
           .with_columns(pl.coalesce("org_ref", "org_name").alias("_key"))
           .join(org_ids, on="_key", how="left")
           .join(reporters, on="iati_identifier", how="left"))
    return out.select(
        "iati_identifier", "org_index", "org_id", "org_ref", "org_name", "org_type_code", "org_type_name",
        "reporting_org_ref", "reporting_org_name", "reporting_org_type_code",
        pl.col("reporting_org_type_code").replace_strict(type_names, default=None, return_dtype=pl.Utf8)
        .alias("reporting_org_type_name"),
        pl.col("transactions").fill_null(0),
        pl.when(pl.col("_has_11")).then(pl.col("committed_usd")).alias("committed_usd"),
        pl.when(pl.col("_has_1")).then(pl.col("received_usd")).alias("received_usd"),
        pl.when(pl.col("transactions").fill_null(0) > 0).then(pl.lit(WITH_TRANSACTIONS))
        .otherwise(pl.lit(WITHOUT_TRANSACTIONS)).alias("amount_rule"),
        pl.lit(snapshot).alias("snapshot_date"),
    ).sort("iati_identifier", "org_index")
