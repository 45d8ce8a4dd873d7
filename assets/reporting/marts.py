"""Marts for transparency reporting, each a function of the facts it aggregates, and the
reconciliation each one must pass (totals equal to the cent, or the check fails)."""

import polars as pl

from schemas.vocabularies import PRIVATE_ORGANISATION_TYPES

PRIVATE_TYPES = list(PRIVATE_ORGANISATION_TYPES)


def with_names(mart: pl.DataFrame, reference: pl.DataFrame | None, on: str, names: dict[str, str],
               reference_key: str) -> pl.DataFrame:
    """Names beside codes: ``names`` (reference column -> mart column) joined from a reference table."""
    if reference is None:
        return mart.with_columns(pl.lit(None, pl.Utf8).alias(c) for c in names.values())
    lookup = reference.select(pl.col(reference_key).alias(on), *[pl.col(k).alias(v) for k, v in names.items()])
    return mart.join(lookup.unique(on), on=on, how="left", maintain_order="left")


def private_contributions_by_entity_year(flows: pl.DataFrame) -> pl.DataFrame:
    """Counted money to the UN from foundations and the private sector, per UN entity and year."""
    private = private_to_un(flows)
    return (private.group_by("un_entity", "year", "contributor_group")
            .agg(pl.col("amount_usd").sum().alias("amount_usd"), pl.len().cast(pl.Int64).alias("flows"),
                 pl.col("provider_org_id").n_unique().cast(pl.Int64).alias("contributors"))
            .sort("un_entity", "year", "contributor_group"))


def private_to_un(flows: pl.DataFrame) -> pl.DataFrame:
    return (flows.filter(pl.col("is_counted") & (pl.col("direction") == "to_un")
                         & pl.col("provider_type_code").is_in(PRIVATE_TYPES) & pl.col("amount_usd").is_not_null())
            .with_columns(pl.col("un_entity").fill_null("(unknown)"), pl.col("year").fill_null(0),
                          pl.when(pl.col("provider_type_code") == "60").then(pl.lit("foundation"))
                          .otherwise(pl.lit("private sector")).alias("contributor_group")))


def reconcile_private_contributions(mart: pl.DataFrame, flows: pl.DataFrame) -> tuple[bool, dict]:
    fact = private_to_un(flows)
    cents = lambda s: round(float(s.sum() or 0) * 100)  # noqa: E731
    ok = cents(mart["amount_usd"]) == cents(fact["amount_usd"]) and int(mart["flows"].sum() or 0) == fact.height
    return ok, {"mart_total_usd": float(mart["amount_usd"].sum() or 0), "fact_total_usd": float(fact["amount_usd"].sum() or 0),
                "mart_flows": int(mart["flows"].sum() or 0), "fact_flows": fact.height}


def partnerships_by_sdg(sdg_rows: pl.DataFrame, partners: pl.DataFrame, screening: pl.DataFrame | None,
                        links: pl.DataFrame | None) -> pl.DataFrame:
    """Initiatives per SDG goal, with how many have a private-sector or foundation lead."""
    goals = sdg_rows.filter(pl.col("kind") == "goal").select("action_id", "goal").unique()
    leads = partners.filter(pl.col("role") == "lead").select("action_id", "name_as_written")
    if links is not None and screening is not None:
        lead_orgs = leads.join(links.filter(pl.col("source_table") == "partnership_partners")
                               .select(pl.col("source_key").alias("name_as_written"), "org_id").unique("name_as_written"),
                               on="name_as_written", how="left").join(
            screening.select("org_id", "organization_type_code", "risk_level"), on="org_id", how="left")
    else:
        lead_orgs = leads.with_columns(pl.lit(None, pl.Utf8).alias("organization_type_code"), pl.lit(None, pl.Utf8).alias("risk_level"))
    lead_orgs = lead_orgs.group_by("action_id").agg(
        pl.col("organization_type_code").is_in(PRIVATE_TYPES).any().alias("private_lead"),
        (pl.col("risk_level") == "high").any().alias("high_risk_lead"))
    partner_counts = partners.filter(pl.col("role") == "partner").group_by("action_id").len("partners")
    joined = goals.join(lead_orgs, on="action_id", how="left").join(partner_counts, on="action_id", how="left")
    return (joined.group_by("goal").agg(
        pl.len().cast(pl.Int64).alias("initiatives"),
        pl.col("private_lead").fill_null(False).sum().cast(pl.Int64).alias("initiatives_with_private_lead"),
        pl.col("high_risk_lead").fill_null(False).sum().cast(pl.Int64).alias("initiatives_with_high_risk_lead"),
        pl.col("partners").fill_null(0).sum().cast(pl.Int64).alias("partners"),
    ).with_columns(pl.col("goal").cast(pl.Int32)).sort("goal"))


def reconcile_partnerships_by_sdg(mart: pl.DataFrame, sdg_rows: pl.DataFrame) -> tuple[bool, dict]:
    fact = sdg_rows.filter(pl.col("kind") == "goal").select("action_id", "goal").unique().height
    total = int(mart["initiatives"].sum() or 0)
    return total == fact, {"mart_initiative_goals": total, "fact_initiative_goals": fact}


def network_coverage_by_country(coverage: pl.DataFrame, screening: pl.DataFrame | None) -> pl.DataFrame:
    out = coverage.select("country_iso3", "has_local_network", "network_stage", "participants_total", "participants_active",
                          "participants_non_communicating", "participants_delisted", "delisted_last_12_months",
                          "joined_last_12_months")
    if screening is not None:
        risky = (screening.filter(pl.col("country_iso3").is_not_null())
                 .group_by("country_iso3").agg((pl.col("risk_level") == "high").sum().cast(pl.Int64).alias("high_risk_organizations"),
                                               (pl.col("risk_level") == "review").sum().cast(pl.Int64).alias("review_organizations")))
        out = out.join(risky, on="country_iso3", how="left")
    else:
        out = out.with_columns(pl.lit(None, pl.Int64).alias("high_risk_organizations"), pl.lit(None, pl.Int64).alias("review_organizations"))
    return out.with_columns(pl.col("high_risk_organizations", "review_organizations").fill_null(0)).sort("country_iso3")


def reconcile_network_coverage(mart: pl.DataFrame, coverage: pl.DataFrame) -> tuple[bool, dict]:
    ok = (mart.height == coverage.height and int(mart["participants_total"].sum() or 0) == int(coverage["participants_total"].sum() or 0))
    return ok, {"mart_participants": int(mart["participants_total"].sum() or 0),
                "fact_participants": int(coverage["participants_total"].sum() or 0)}


def screening_summary(screening: pl.DataFrame) -> pl.DataFrame:
    flags = screening.select("org_id", "risk_level", "organization_type_code", "flags")
    counts = flags.group_by("risk_level", "organization_type_code").agg(pl.len().cast(pl.Int64).alias("organizations"))
    by_flag = (flags.explode("flags").drop_nulls("flags").group_by("risk_level", "organization_type_code")
               .agg(*[(pl.col("flags") == f).sum().cast(pl.Int64).alias(f"flag_{f}") for f in
                      ("sanctions_match", "gc_delisted", "gc_non_communicating", "excluded_sector", "exclusion_keyword")]))
    out = counts.join(by_flag, on=["risk_level", "organization_type_code"], how="left", nulls_equal=True)
    flag_cols = [c for c in out.columns if c.startswith("flag_")]
    return (out.with_columns(pl.col(flag_cols).fill_null(0), pl.col("organization_type_code").fill_null("(unknown)"))
            .sort("risk_level", "organization_type_code"))


def reconcile_screening_summary(mart: pl.DataFrame, screening: pl.DataFrame) -> tuple[bool, dict]:
    total = int(mart["organizations"].sum() or 0)
    by_risk = dict(screening.group_by("risk_level").len().iter_rows())
    mart_risk = dict(mart.group_by("risk_level").agg(pl.col("organizations").sum()).iter_rows())
    return total == screening.height and by_risk == mart_risk, {"mart_organizations": total, "fact_organizations": screening.height}
