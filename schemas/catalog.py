"""Every curated table and its Pandera model."""

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
}
