"""Every published table: its model, grain, record key, layer and partitioning, declared once.

The wiring builds assets, checks and metadata from these declarations; the storage layer finds a
table's folder from its layer and partitioning; the CLI and the README describe the tables from them.
"""

from dataclasses import dataclass

import pandera.polars as pa
import polars as pl

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
