"""Configurable resources: where the sources are, how they are fetched, where outputs go, quality thresholds."""

import os
from pathlib import Path

import dagster as dg
from pydantic import Field

from pipelines.fetch import HttpFetcher
from pipelines.settings import PROJECT_ROOT, SourceSpec, data_dir_path, load_sources, sources_file_path


class SourcesResource(dg.ConfigurableResource):
    """The sources file (``PARTNERSHIP_SOURCES``, default ``config/sources.yaml``)."""

    sources_file: str = Field(description="Path of the sources YAML file")

    def load(self) -> dict[str, SourceSpec]:
        return load_sources(self.sources_file)

    def get(self, name: str) -> SourceSpec | None:
        """The source's spec, or None when the sources file does not name it or gives no location."""
        spec = self.load().get(name)
        return spec if spec and spec.locations else None


class StorageResource(dg.ConfigurableResource):
    """Root of every output (``PARTNERSHIP_DATA_DIR``, default ``./data``)."""

    data_dir: str = Field(description="Root folder of landing/, curated/ and quality/")

    @property
    def root(self) -> Path:
        return Path(self.data_dir).resolve()

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    @property
    def curated(self) -> Path:
        return self.root / "curated"

    @property
    def rejects(self) -> Path:
        return self.root / "quality" / "rejects"

    @property
    def staging(self) -> Path:
        """Work area for files being written; never read by consumers."""
        return self.root / ".staging"


class QualityResource(dg.ConfigurableResource):
    """Publication thresholds."""

    max_reject_share: float = Field(
        default=0.5, ge=0.0, le=1.0,
        description="A curated table is not published for a partition when more than this share of its records is rejected",
    )


class ScreeningResource(dg.ConfigurableResource):
    """Reviewed screening decisions (CSV: org_id, decision, reviewer, date, reason); they override
    the flags and carry forward to every later run, keyed by the stable org_id."""

    decisions_file: str = Field(description="Path of the reviewed-decisions CSV")


class HttpResource(dg.ConfigurableResource):
    """How http(s) locations are downloaded. The token, if any, comes from the environment
    (``PARTNERSHIP_HTTP_TOKEN``) and is sent as a bearer token; it is never logged."""

    timeout_seconds: float = Field(default=60.0, gt=0, description="Read timeout per request")
    connect_timeout_seconds: float = Field(default=10.0, gt=0, description="Connect timeout per request")
    max_attempts: int = Field(default=5, ge=1, description="Attempts per file (retries on connection errors, 5xx, 429)")
    backoff_seconds: float = Field(default=1.0, ge=0, description="First wait between attempts; doubles each time")
    max_bytes: int = Field(default=4 << 30, gt=0, description="Largest file accepted")
    bearer_token: str | None = Field(default=None, description="Sent as 'Authorization: Bearer …'")

    def fetcher(self) -> HttpFetcher:
        return HttpFetcher(timeout_seconds=self.timeout_seconds, connect_timeout_seconds=self.connect_timeout_seconds,
                           max_attempts=self.max_attempts, backoff_seconds=self.backoff_seconds, max_bytes=self.max_bytes,
                           bearer_token=self.bearer_token)


def default_resources() -> dict[str, dg.ConfigurableResource]:
    return {
        "sources": SourcesResource(sources_file=str(sources_file_path())),
        "storage": StorageResource(data_dir=str(data_dir_path())),
        "quality": QualityResource(max_reject_share=float(os.environ.get("PARTNERSHIP_MAX_REJECT_SHARE", "0.5"))),
        "screening": ScreeningResource(decisions_file=os.environ.get(
            "PARTNERSHIP_DECISIONS", str(PROJECT_ROOT / "config" / "reviewed_decisions.csv"))),
        "http": HttpResource(bearer_token=dg.EnvVar("PARTNERSHIP_HTTP_TOKEN") if os.environ.get("PARTNERSHIP_HTTP_TOKEN")
                             else None),
    }
