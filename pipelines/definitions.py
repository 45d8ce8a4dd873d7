"""The code location: every asset, check, job, schedule and resource of the project."""

import dagster as dg

from assets.curated.assets import curated_assets
from assets.due_diligence.assets import due_diligence_assets
from assets.financing.assets import financing_assets, iati_spool_io_manager
from assets.networks.assets import networks_assets
from assets.partnerships.assets import partnerships_assets
from assets.reporting.assets import reporting_assets
from assets.reporting.publication import publication_assets, published_copy
from pipelines.console import progress_logger
from pipelines.jobs import nightly_job, nightly_schedule
from pipelines.resources import default_resources
from pipelines.sensors import drop_folder_sensor, record_failed_runs, record_succeeded_runs


def build_definitions(resources: dict | None = None) -> dg.Definitions:
    """The project's Definitions; ``resources`` replaces the environment-derived defaults (tests).
    The published copy is an asset of the graph where its place is set (PARTNERSHIP_PUBLISH_URL):
    elsewhere it would show in the UI as an asset never materialized and never fresh."""
    resources = {**default_resources(), **(resources or {})}
    copy = [published_copy] if resources["storage"].publish_url is not None else []
    return dg.Definitions(
        assets=[*financing_assets, *partnerships_assets, *networks_assets, *due_diligence_assets, *curated_assets,
                *reporting_assets, *publication_assets, *copy],
        jobs=[nightly_job],
        schedules=[nightly_schedule],
        sensors=[drop_folder_sensor, record_succeeded_runs, record_failed_runs],
        resources={"iati_spool": iati_spool_io_manager, **resources},
        # Dagster's own console logger for the UI and the daemon; the command line picks "progress"
        loggers={"console": dg.colored_console_logger, "progress": progress_logger},
    )


defs = build_definitions()
