"""Every curated table and its Pandera model."""

from schemas.curated import FinancingFlows, Organizations, OrganizationSourceLinks
from schemas.due_diligence import PartnerScreening, SanctionedAliases, SanctionedEntities, SanctionsChanges
from schemas.financing import CURATED_MODELS as IATI_MODELS
from schemas.financing import UnRevenueByContributor
from schemas.networks import LocalNetworks, NetworkCoverage
from schemas.partnerships import (
    GcParticipants,
    GcParticipantStatusHistory,
    PartnershipPartners,
    Partnerships,
    PartnershipSdgTargets,
)
from schemas.reporting import (
    MartNetworkCoverageByCountry,
    MartPartnershipsBySdg,
    MartPrivateContributionsByEntityYear,
    MartScreeningSummary,
)

CURATED_TABLES = {
    **IATI_MODELS,
    "un_revenue_by_contributor": UnRevenueByContributor,
    "gc_participants": GcParticipants,
    "gc_participant_status_history": GcParticipantStatusHistory,
    "local_networks": LocalNetworks,
    "network_coverage": NetworkCoverage,
    "partnerships": Partnerships,
    "partnership_partners": PartnershipPartners,
    "partnership_sdg_targets": PartnershipSdgTargets,
    "sanctioned_entities": SanctionedEntities,
    "sanctioned_aliases": SanctionedAliases,
    "sanctions_changes": SanctionsChanges,
    "partner_screening": PartnerScreening,
    "organizations": Organizations,
    "organization_source_links": OrganizationSourceLinks,
    "financing_flows": FinancingFlows,
    "mart_private_contributions_by_entity_year": MartPrivateContributionsByEntityYear,
    "mart_partnerships_by_sdg": MartPartnershipsBySdg,
    "mart_network_coverage_by_country": MartNetworkCoverageByCountry,
    "mart_screening_summary": MartScreeningSummary,
}
