"""The code location: every asset, check, job, schedule and resource of the project."""

import dagster as dg

from assets.financing.assets import financing_assets
from pipelines.jobs import nightly_job, nightly_schedule
from pipelines.resources import default_resources

defs = dg.Definitions(
    assets=[*financing_assets],
    jobs=[nightly_job],
    schedules=[nightly_schedule],
    resources=default_resources(),
)
