"""Configurable resources: where the sources are, where outputs go, limits, thresholds, downloads.

Every setting the pipeline has is a field of one of these resources. :func:`default_resources` is the
one place that reads the environment: a variable that is set becomes a ``dg.EnvVar`` (so the UI shows
where the value comes from and secrets are never written into run config); an unset one leaves the
default. Assets, the sensor and the CLI all read these resources.
"""

import os
from pathlib import Path

import dagster as dg
from pydantic import Field

from pipelines.storage.fetch import HttpFetcher
from pipelines.storage.locks import DEFAULT_LOCK_TIMEOUT_SECONDS
from pipelines.storage.settings import DEFAULT_DATA_DIR, DEFAULT_SOURCES_FILE, SourceSpec, load_sources
from pipelines.storage.store import DataStore
from schemas.paths import CONFIG_DIR

DEFAULT_MAX_TABLE_MB = 256
DEFAULT_IATI_UNIT_MB = 256


class SourcesResource(dg.ConfigurableResource):
    """The sources file (``PARTNERSHIP_SOURCES``, default ``config/sources.yaml``) and how much of a
    source file is read."""

    sources_file: str = Field(default=str(DEFAULT_SOURCES_FILE), description="Path of the sources YAML file")
    # no gt=0 here: a dg.EnvVar field is checked as 0 before it is resolved; max_table_bytes checks it
    max_table_mb: int = Field(default=DEFAULT_MAX_TABLE_MB,
                              description="Largest CSV/JSON/XLSX source file read whole, in MB (PARTNERSHIP_MAX_TABLE_MB)")
    iati_unit_mb: int = Field(default=DEFAULT_IATI_UNIT_MB,
                              description="IATI files of a snapshot are built in units of about this many MB, each a "
                                          "step of its own that any worker can take; 0: a unit per file "
                                          "(PARTNERSHIP_IATI_UNIT_MB)")
    reuse_landed_only: bool = Field(
        default=False, description="A past date is built only from files landed for it before; nothing is fetched "
                                   "for it (partnership backfill --reuse-landed-only)")

    @property
    def max_table_bytes(self) -> int:
        if self.max_table_mb <= 0:
            raise ValueError(f"max_table_mb (PARTNERSHIP_MAX_TABLE_MB) must be a positive number of MB, not {self.max_table_mb}")
        return self.max_table_mb << 20

    @property
    def iati_unit_bytes(self) -> int:
        if self.iati_unit_mb < 0:
            raise ValueError(f"iati_unit_mb (PARTNERSHIP_IATI_UNIT_MB) must be a number of MB (0: a unit per file), "
                             f"not {self.iati_unit_mb}")
        return self.iati_unit_mb << 20

    def load(self) -> dict[str, SourceSpec]:
        return load_sources(self.sources_file)

    def get(self, name: str) -> SourceSpec | None:
        """The source's spec, or None when the sources file does not name it or gives no location."""
        spec = self.load().get(name)
        return spec if spec and spec.locations else None


class StorageResource(dg.ConfigurableResource):
    """Root of every output (``PARTNERSHIP_DATA_DIR``, default ``./data``); its layout is
    :class:`pipelines.storage.store.DataStore`'s."""

    data_dir: str = Field(default=str(DEFAULT_DATA_DIR), description="Root folder of landing/, curated/, mart/ and quality/")
    lock_timeout_seconds: int = Field(default=int(DEFAULT_LOCK_TIMEOUT_SECONDS), ge=0,
                                      description="Seconds a run waits for another run writing the same partition "
                                                  "(PARTNERSHIP_LOCK_TIMEOUT)")
    drop_folder: str | None = Field(default=None, description="Folder watched by the drop-folder sensor "
                                                              "(PARTNERSHIP_DROP_FOLDER; default <data_dir>/drop)")
    publish_url: str | None = Field(default=None, description="Object storage (s3://bucket/prefix, gs://, file://) "
                                                              "that each run's tables, rejects and pages are copied to, "
                                                              "behind one manifest (PARTNERSHIP_PUBLISH_URL)")

    def store(self) -> DataStore:
        return DataStore(self.data_dir, lock_timeout_seconds=self.lock_timeout_seconds)

    def drop_path(self) -> Path:
        return Path(self.drop_folder) if self.drop_folder else Path(self.data_dir).resolve() / "drop"


class QualityResource(dg.ConfigurableResource):
    """Publication thresholds."""

    max_reject_share: float = Field(
        default=0.5, ge=0.0, le=1.0,
        description="A curated table is not published for a partition when more than this share of its records is "
                    "rejected (PARTNERSHIP_MAX_REJECT_SHARE)",
    )


class ScreeningResource(dg.ConfigurableResource):
    """Reviewed screening decisions (CSV: org_id, decision, reviewer, date, reason); they override
    the flags and carry forward to every later run, keyed by the stable org_id."""

    decisions_file: str = Field(default=str(CONFIG_DIR / "reviewed_decisions.csv"),
                                description="Path of the reviewed-decisions CSV (PARTNERSHIP_DECISIONS)")


class HttpResource(dg.ConfigurableResource):
    """How http(s) locations are downloaded. The token, if any, comes from the environment
    (``PARTNERSHIP_HTTP_TOKEN``) and is sent as a bearer token; it is never logged."""

    timeout_seconds: float = Field(default=60.0, gt=0, description="Read timeout per request")
    connect_timeout_seconds: float = Field(default=10.0, gt=0, description="Connect timeout per request")
    max_attempts: int = Field(default=5, ge=1, description="Attempts per file (retries on connection errors, 5xx, 429)")
    backoff_seconds: float = Field(default=1.0, ge=0, description="First wait between attempts; doubles each time")
    max_bytes: int = Field(default=4 << 30, gt=0, description="Largest file accepted")
    bearer_token: str | None = Field(default=None, description="Sent as 'Authorization: Bearer …' (not to URLs that "
                                                                  "carry their own user:password@)")
    attempt_deadline_seconds: float = Field(default=900.0, gt=0, description="One attempt gives up after this long")
    min_bytes_per_second: float = Field(default=1024.0, ge=0, description="One attempt gives up when, after the read "
                                                                          "timeout, it averages less than this")

    def fetcher(self, on_retry=None) -> HttpFetcher:
        """``on_retry(url, attempt, attempts, wait, reason)`` is told of each retry before its wait."""
        return HttpFetcher(timeout_seconds=self.timeout_seconds, connect_timeout_seconds=self.connect_timeout_seconds,
                           max_attempts=self.max_attempts, backoff_seconds=self.backoff_seconds, max_bytes=self.max_bytes,
                           bearer_token=self.bearer_token, attempt_deadline_seconds=self.attempt_deadline_seconds,
                           min_bytes_per_second=self.min_bytes_per_second, on_retry=on_retry)


def default_resources(*, resolve: bool = False) -> dict[str, dg.ConfigurableResource]:
    """Every resource, each setting a ``dg.EnvVar`` where its variable is set (resolved by Dagster
    when a run starts), or with ``resolve`` the variable's value itself, for code outside a run."""
    def _env(name: str, default, kind=str):
        if not os.environ.get(name):
            return default
        if resolve:
            return kind(os.environ[name])
        return dg.EnvVar.int(name) if kind is int else dg.EnvVar(name)

    share = os.environ.get("PARTNERSHIP_MAX_REJECT_SHARE")  # a float: dg.EnvVar carries only str and int
    return {
        "sources": SourcesResource(sources_file=_env("PARTNERSHIP_SOURCES", str(DEFAULT_SOURCES_FILE)),
                                   max_table_mb=_env("PARTNERSHIP_MAX_TABLE_MB", DEFAULT_MAX_TABLE_MB, int),
                                   iati_unit_mb=_env("PARTNERSHIP_IATI_UNIT_MB", DEFAULT_IATI_UNIT_MB, int)),
        "storage": StorageResource(data_dir=_env("PARTNERSHIP_DATA_DIR", str(DEFAULT_DATA_DIR)),
                                   lock_timeout_seconds=_env("PARTNERSHIP_LOCK_TIMEOUT", int(DEFAULT_LOCK_TIMEOUT_SECONDS), int),
                                   drop_folder=_env("PARTNERSHIP_DROP_FOLDER", None),
                                   publish_url=_env("PARTNERSHIP_PUBLISH_URL", None)),
        "quality": QualityResource(max_reject_share=float(share) if share else 0.5),
        "screening": ScreeningResource(decisions_file=_env("PARTNERSHIP_DECISIONS", str(CONFIG_DIR / "reviewed_decisions.csv"))),
        "http": HttpResource(bearer_token=_env("PARTNERSHIP_HTTP_TOKEN", None)),
    }


def resolved_resources(overrides: dict | None = None) -> dict[str, dg.ConfigurableResource]:
    """The resources with environment variables resolved, for code outside a run (the CLI); built
    from the values directly, without Dagster's per-resource initialisation (an instance each)."""
    return {**default_resources(resolve=True), **(overrides or {})}
