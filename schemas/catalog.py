"""Every published table: its model, grain, record key, layer and partitioning, declared once.

The wiring builds assets, checks and metadata from these declarations; the storage layer finds a
table's folder from its layer and partitioning; the CLI and the README describe the tables from them.
"""

import functools
from dataclasses import dataclass

import pandera.polars as pa
import polars as pl

from schemas.base import column_order
from schemas.curated import ActivityFunders, FinancingFlows, Organizations, OrganizationSourceLinks
from schemas.due_diligence import PartnerScreening, SanctionedAliases, SanctionedEntities, SanctionsChanges
from schemas.financing import (
    IatiActivities,
    IatiBudgets,
    IatiParticipatingOrgs,
    IatiTransactions,
    UnRevenueByContributor,
)
from schemas.networks import LocalNetworks, NetworkCoverage
from schemas.partnerships import (
    GcParticipants,
    GcParticipantStatusHistory,
    PartnershipPartners,
    Partnerships,
    PartnershipSdgTargets,
)
from schemas.quality import Rejects
from schemas.reference import RefCountries, RefOrganisationTypes, RefSdgTargets, RefTransactionTypes
from schemas.reporting import (
    MartNetworkCoverageByCountry,
    MartPartnershipsBySdg,
    MartPrivateContributionsByEntityYear,
    MartScreeningSummary,
)

# How a table's files are laid out under <data_dir>/<layer>/<table>/:
SNAPSHOT = "snapshot_date"  # one hive partition per run snapshot date
LIST_DATE = "list_date"  # one hive partition (snapshot_date=...) per date the source itself states
WHOLE = "whole"  # one dataset, rebuilt whole on every run, no partition folders
PARTITIONINGS = (SNAPSHOT, LIST_DATE, WHOLE)


@dataclass(frozen=True)
class TableSpec:
    name: str
    model: type[pa.DataFrameModel]
    description: str  # the grain, in one line
    key: pl.Expr  # record key of each row, for reject rows
    layer: str = "curated"
    partitioning: str = SNAPSHOT

    def __post_init__(self):
        assert self.layer in ("curated", "mart") and self.partitioning in PARTITIONINGS, self

    def record_keys(self, frame: pl.DataFrame) -> pl.Series:
        return frame.select(self.key.cast(pl.Utf8)).to_series()


def _key(*columns: str, sep: str = "#") -> pl.Expr:
    return pl.col(columns[0]) if len(columns) == 1 else pl.format(sep.join("{}" for _ in columns), *columns)


_ROW_NUMBER = pl.int_range(pl.len()).cast(pl.Utf8)

_SPECS = [
    TableSpec("iati_activities", IatiActivities,
              "One row per IATI activity: reporting org, title, status, dates, countries, sectors, SDGs.",
              _key("iati_identifier")),
    TableSpec("iati_transactions", IatiTransactions,
              "One row per IATI transaction with codelist names and value_usd at the value date.",
              _key("iati_identifier")),
    TableSpec("iati_participating_orgs", IatiParticipatingOrgs,
              "One row per participating organisation of an IATI activity, with role and type.",
              _key("iati_identifier")),
    TableSpec("iati_budgets", IatiBudgets, "One row per IATI budget period, with value_usd at the value date.",
              _key("iati_identifier")),
    TableSpec("un_revenue_by_contributor", UnRevenueByContributor,
              "One row per UN revenue line: year, entity, donor, canonical contributor type, revenue type, USD.",
              _key("source_row_ref")),
    TableSpec("gc_participants", GcParticipants,
              "One row per UN Global Compact participant per snapshot: type, country, status, dates.",
              _key("participant_id")),
    TableSpec("gc_participant_status_history", GcParticipantStatusHistory,
              "One row per participant per status spell (valid_from, valid_to), from every daily snapshot.",
              _key("participant_id", "spell_number"), partitioning=WHOLE),
    TableSpec("local_networks", LocalNetworks,
              "One row per Global Compact Local Network: stage, status, contributions in USD.", _key("country_iso3")),
    TableSpec("network_coverage", NetworkCoverage,
              "One row per country: Local Network and Global Compact participants by status and type.",
              _key("country_iso3")),
    TableSpec("partnerships", Partnerships, "One row per SDG partnership initiative: lead entity, dates, status.",
              _key("action_id")),
    TableSpec("partnership_partners", PartnershipPartners, "One row per partner of an initiative (lead included).",
              _key("action_id", "partner_index")),
    TableSpec("partnership_sdg_targets", PartnershipSdgTargets, "One row per SDG goal or target an initiative names.",
              _key("action_id", "code", sep=" ")),
    TableSpec("sanctioned_entities", SanctionedEntities,
              "One row per UN sanctions listing (individual or entity), per list snapshot (its dateGenerated).",
              _key("reference_number"), partitioning=LIST_DATE),
    TableSpec("sanctioned_aliases", SanctionedAliases, "One row per alias of a UN sanctions listing, with its quality.",
              _key("reference_number", "alias_index", "part_index"), partitioning=LIST_DATE),
    TableSpec("sanctions_changes", SanctionsChanges,
              "Listings added, removed or amended (with the fields) between consecutive list snapshots.",
              _key("reference_number", "snapshot_date", sep=" "), partitioning=WHOLE),
    TableSpec("partner_screening", PartnerScreening,
              "Every organisation screened against sanctions, Global Compact status and exclusions: flags, reasons, risk.",
              _key("org_id")),
    TableSpec("organizations", Organizations,
              "One row per real-world organisation across all sources, with a stable org_id.", _key("org_id")),
    TableSpec("organization_source_links", OrganizationSourceLinks,
              "Every source record of an organisation with match_method (identifier, exact normalized name, fuzzy) and score.",
              _key("source_table", "source_key", sep="|")),
    TableSpec("financing_flows", FinancingFlows,
              "Money between partners and the UN (IATI and UN revenue), with the double-counting rule applied.",
              _key("flow_id")),
    TableSpec("activity_funders", ActivityFunders,
              "One row per private or foundation funder named by an IATI activity, with its transactions' amounts.",
              _key("iati_identifier", "org_index")),
    TableSpec("ref_countries", RefCountries, "One row per country or territory: ISO codes, name, UN M49 region.",
              _key("country_iso3"), partitioning=WHOLE),
    TableSpec("ref_organisation_types", RefOrganisationTypes, "One row per IATI OrganisationType, with is_private.",
              _key("code"), partitioning=WHOLE),
    TableSpec("ref_transaction_types", RefTransactionTypes,
              "One row per IATI transaction type and CEB revenue type (financing_flows.transaction_type).",
              _key("source", "code"), partitioning=WHOLE),
    TableSpec("ref_sdg_targets", RefSdgTargets, "One row per SDG goal and per SDG target, with its title.",
              _key("kind", "target"), partitioning=WHOLE),
    TableSpec("mart_private_contributions_by_entity_year", MartPrivateContributionsByEntityYear,
              "Counted contributions from the private sector and foundations to each UN entity, per year.",
              _ROW_NUMBER, layer="mart"),
    TableSpec("mart_partnerships_by_sdg", MartPartnershipsBySdg,
              "SDG partnership initiatives per goal, with private-sector and high-risk leads.", _ROW_NUMBER, layer="mart"),
    TableSpec("mart_network_coverage_by_country", MartNetworkCoverageByCountry,
              "Global Compact Local Networks, participants and screening outcome per country.", _ROW_NUMBER, layer="mart"),
    TableSpec("mart_screening_summary", MartScreeningSummary,
              "Organisations by screening risk level and type, with flag counts.", _ROW_NUMBER, layer="mart"),
]

TABLES: dict[str, TableSpec] = {spec.name: spec for spec in _SPECS}
IATI_TABLES = ("iati_activities", "iati_transactions", "iati_participating_orgs", "iati_budgets")
CURATED_TABLES = {name: spec.model for name, spec in TABLES.items()}  # every published table's model


@functools.cache
def column_descriptions(table: str) -> dict[str, str]:
    """Each column's description, from the table's Pandera model (``rejects``: the reject rows'), in
    the table's column order."""
    model = Rejects if table == "rejects" else TABLES[table].model
    columns = model.to_schema().columns
    return {c: columns[c].description or "" for c in column_order(model)}


@dataclass(frozen=True)
class Join:
    """How a table joins another: ``table.columns = other.other_columns`` (and the same snapshot
    where both tables have one, and the extra condition on ``other`` where one is given)."""

    table: str
    columns: tuple[str, ...]
    other: str
    other_columns: tuple[str, ...]
    note: str = ""
    other_where: str = ""  # SQL condition on the other table, e.g. its part of a shared codelist

    def __post_init__(self):
        for name, cols in ((self.table, self.columns), (self.other, self.other_columns)):
            assert name in TABLES and set(cols) <= set(column_order(TABLES[name].model)), (name, cols)

    @property
    def same_snapshot(self) -> bool:
        # a table published per list date (sanctions) has its own dates, not the run's snapshots
        return TABLES[self.table].partitioning == SNAPSHOT and TABLES[self.other].partitioning == SNAPSHOT

    @property
    def is_codelist(self) -> bool:
        return self.other.startswith("ref_")

    def sql(self, alias: str = "a", other_alias: str = "b") -> str:
        conditions = [f"{alias}.{c} = {other_alias}.{o}" for c, o in zip(self.columns, self.other_columns, strict=True)]
        if self.same_snapshot:
            conditions.append(f"{alias}.snapshot_date = {other_alias}.snapshot_date")
        if self.other_where:
            conditions.append(self.other_where.format(b=other_alias))
        return " and ".join(conditions)


def _j(table: str, columns: str, other: str, other_columns: str, note: str = "", other_where: str = "") -> Join:
    return Join(table, tuple(columns.split()), other, tuple(other_columns.split()), note, other_where)


JOINS: tuple[Join, ...] = (
    # IATI: every child table carries the activity's identifier
    _j("iati_transactions", "iati_identifier", "iati_activities", "iati_identifier", "the activity reporting it"),
    _j("iati_participating_orgs", "iati_identifier", "iati_activities", "iati_identifier", "the activity"),
    _j("iati_budgets", "iati_identifier", "iati_activities", "iati_identifier", "the activity"),
    _j("activity_funders", "iati_identifier", "iati_activities", "iati_identifier", "the activity funded"),
    _j("financing_flows", "iati_identifier", "iati_activities", "iati_identifier", "IATI flows only"),
    # organisations: one org_id across every source
    _j("organization_source_links", "org_id", "organizations", "org_id", "the organisation of a source record"),
    _j("partner_screening", "org_id", "organizations", "org_id", "the organisation screened"),
    _j("financing_flows", "provider_org_id", "organizations", "org_id", "who gives"),
    _j("financing_flows", "recipient_org_id", "organizations", "org_id", "who receives"),
    _j("activity_funders", "org_id", "organizations", "org_id", "the funder"),
    _j("organizations", "gc_participant_id", "gc_participants", "participant_id", "Global Compact participants"),
    _j("gc_participant_status_history", "participant_id", "gc_participants", "participant_id", "status spells"),
    _j("partner_screening", "sanctions_reference_number", "sanctioned_entities", "reference_number",
       "the listing matched; the list of partner_screening's screening date"),
    _j("sanctioned_aliases", "reference_number", "sanctioned_entities", "reference_number", "aliases of a listing"),
    _j("sanctions_changes", "reference_number", "sanctioned_entities", "reference_number", "the listing changed"),
    # partnerships
    _j("partnership_partners", "action_id", "partnerships", "action_id", "the initiative"),
    _j("partnership_sdg_targets", "action_id", "partnerships", "action_id", "the initiative"),
    # codelists
    _j("iati_activities", "reporting_org_type_code", "ref_organisation_types", "code"),
    _j("iati_transactions", "transaction_type_code", "ref_transaction_types", "code", other_where="{b}.source = 'iati'"),
    _j("iati_transactions", "provider_org_type_code", "ref_organisation_types", "code"),
    _j("iati_transactions", "receiver_org_type_code", "ref_organisation_types", "code"),
    _j("iati_participating_orgs", "org_type_code", "ref_organisation_types", "code"),
    _j("activity_funders", "org_type_code", "ref_organisation_types", "code"),
    _j("financing_flows", "provider_type_code", "ref_organisation_types", "code"),
    _j("financing_flows", "source transaction_type", "ref_transaction_types", "source code"),
    _j("financing_flows", "provider_country_iso3", "ref_countries", "country_iso3"),
    _j("organizations", "organization_type_code", "ref_organisation_types", "code"),
    _j("organizations", "country_iso3", "ref_countries", "country_iso3"),
    _j("partner_screening", "country_iso3", "ref_countries", "country_iso3"),
    _j("gc_participants", "country_iso3", "ref_countries", "country_iso3"),
    _j("local_networks", "country_iso3", "ref_countries", "country_iso3"),
    _j("network_coverage", "country_iso3", "ref_countries", "country_iso3"),
    _j("partnership_sdg_targets", "goal", "ref_sdg_targets", "goal", other_where="{b}.kind = 'goal'"),
    _j("mart_partnerships_by_sdg", "goal", "ref_sdg_targets", "goal", other_where="{b}.kind = 'goal'"),
    _j("mart_network_coverage_by_country", "country_iso3", "ref_countries", "country_iso3"),
    _j("mart_screening_summary", "organization_type_code", "ref_organisation_types", "code"),
)
