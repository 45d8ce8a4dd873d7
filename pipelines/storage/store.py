"""The on-disk layout of ``<data_dir>``, in one place.

```
landing/<source>/<snapshot_date>/        files as fetched, with _manifest.json
curated/<table>/snapshot_date=<date>/    a table published per snapshot date (or per list date)
curated/<table>/                         a table published whole (no partition folders)
mart/<table>/snapshot_date=<date>/       marts
quality/rejects/source=<source>/snapshot_date=<date>/
partnership.duckdb                       the catalog: a view per table (pipelines/storage/catalog.py)
.catalog/<build>/                        hard links of the files a catalog build reads (two builds kept)
docs/index.html                          the data dictionary
report/<snapshot_date>.html, index.html  the transparency report (index: the latest snapshot)
state/<name>.json                        fingerprints of published outputs, for reuse
state/refused/<table>/<date>.json        why the latest run of a table's date refused it (gone once published)
state/runs/<date>.json                   how the latest command-line run of a date ended
.staging/  .locks/  .cache/              work areas, never read by consumers
.spool/<run id>/                         parts written by one step of a run for a later step of it
```

:class:`DataStore` is the only code that builds these paths: asset bodies and the CLI ask it for a
source's landed files, a table's partition, a lazy scan of a table, and to publish tables and rejects.
"""

import hashlib
import json
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipelines.storage import reuse
from pipelines.storage.catalog import CATALOG_FILE, latest_pins, write_catalog
from pipelines.storage.fetch import HttpFetcher
from pipelines.storage.landed import LandingResult, land_source, read_manifest
from pipelines.storage.locks import DEFAULT_LOCK_TIMEOUT_SECONDS, partition_lock
from pipelines.storage.publish import (
    Descriptions,
    PartFolder,
    PartitionWriter,
    partition_dirname,
    publish_frame,
    publish_set,
    recover_sets,
    write_json_atomic,
    write_text_atomic,
)
from pipelines.storage.settings import SourceSpec
from schemas.catalog import SNAPSHOT, TABLES, WHOLE, column_descriptions
from schemas.quality import REJECT_SCHEMA, empty_rejects, validated_rejects

PARTITION_COLUMN = "snapshot_date"


@dataclass(frozen=True)
class LandedSnapshot:
    """The files of one source landed for one snapshot date, as the manifest lists them."""

    source: str
    snapshot_date: str
    folder: Path
    manifest: dict

    @property
    def files(self) -> list[tuple[Path, str]]:
        """(path, name) of every landed file, in landing order."""
        return [(self.folder / f["name"], f["name"]) for f in self.manifest["files"]]

    @property
    def format(self) -> str | None:
        return self.manifest.get("format")

    @property
    def digests(self) -> list[tuple[str, str]]:
        """(name, sha256) of every file: what the content of this landing is."""
        return [(f["name"], f["sha256"]) for f in self.manifest["files"]]


class DataStore:
    def __init__(self, root: str | Path, *, lock_timeout_seconds: float = DEFAULT_LOCK_TIMEOUT_SECONDS):
        self.root = Path(root).resolve()
        self.lock_timeout_seconds = lock_timeout_seconds
        # a set of tables a killed run began to publish is completed before anything reads them
        recover_sets(self.staging)

    # --- folders -------------------------------------------------------------------------------
    @property
    def landing(self) -> Path:
        return self.root / "landing"

    @property
    def rejects(self) -> Path:
        return self.root / "quality" / "rejects"

    @property
    def staging(self) -> Path:
        """Work area for files being written; never read by consumers."""
        return self.root / ".staging"

    def layer_dir(self, layer: str) -> Path:
        return self.root / layer

    def table_dir(self, table: str) -> Path:
        return self.root / TABLES[table].layer / table

    def partition(self, table: str, snapshot_date: str | None) -> dict[str, str]:
        """The hive partition a table's rows of ``snapshot_date`` go to ({} for a whole table)."""
        return {} if TABLES[table].partitioning == WHOLE else {PARTITION_COLUMN: str(snapshot_date)}

    def partition_dir(self, table: str, snapshot_date: str | None) -> Path:
        return self.table_dir(table) / partition_dirname(self.partition(table, snapshot_date))

    def rejects_partition(self, source: str, snapshot_date: str) -> dict[str, str]:
        return {"source": source, PARTITION_COLUMN: snapshot_date}

    def rejects_dir(self, source: str, snapshot_date: str | None = None) -> Path:
        folder = self.rejects / f"source={source}"
        return folder if snapshot_date is None else folder / f"{PARTITION_COLUMN}={snapshot_date}"

    # --- landed files --------------------------------------------------------------------------
    def landing_dir(self, source: str, snapshot_date: str | None = None) -> Path:
        folder = self.landing / source
        return folder if snapshot_date is None else folder / snapshot_date

    def landed(self, source: str, snapshot_date: str) -> LandedSnapshot | None:
        """The files landed for ``source`` on ``snapshot_date``, or None where nothing was landed."""
        folder = self.landing_dir(source, snapshot_date)
        manifest = read_manifest(folder)
        return None if manifest is None else LandedSnapshot(source, snapshot_date, folder, manifest)

    def land(self, spec: SourceSpec, snapshot_date: str, *, reuse_existing: bool,
             fetcher: HttpFetcher) -> LandingResult:
        """Copy or download ``spec``'s files into its landing folder for ``snapshot_date``."""
        with self.lock(f"landing-{spec.name}-{snapshot_date}"):
            return land_source(spec, self.landing, snapshot_date, reuse_existing=reuse_existing, fetcher=fetcher)

    def landed_dates(self, source: str) -> list[str]:
        """Every snapshot date with a landing of ``source``, in date order."""
        folder = self.landing_dir(source)
        return sorted(p.parent.name for p in folder.glob("*/_manifest.json")) if folder.is_dir() else []

    # --- reading tables ------------------------------------------------------------------------
    def _files(self, table: str, snapshot_date: str | None) -> list[Path]:
        return sorted(self.partition_dir(table, snapshot_date).glob("*.parquet"))

    def has_partition(self, table: str, snapshot_date: str | None) -> bool:
        return self.partition_dir(table, snapshot_date).is_dir()

    def read_partition(self, table: str, snapshot_date: str | None = None) -> pl.DataFrame | None:
        """One published partition of a table (the whole table where it has none), or None."""
        files = self._files(table, snapshot_date)
        return pl.concat([pl.read_parquet(f) for f in files], how="vertical_relaxed") if files else None

    def partition_dates(self, table: str) -> list[str]:
        """The dates a table is published for, in date order ([] for a whole table)."""
        if TABLES[table].partitioning == WHOLE:
            return []
        prefix = f"{PARTITION_COLUMN}="
        folder = self.table_dir(table)
        return sorted(p.name[len(prefix):] for p in folder.glob(f"{prefix}*") if any(p.glob("*.parquet"))) \
            if folder.is_dir() else []

    def scan_table(self, table: str) -> pl.LazyFrame | None:
        """Every published partition of a table, with ``snapshot_date`` as a date; None where none is."""
        folder = self.table_dir(table)
        if TABLES[table].partitioning == WHOLE:
            return pl.scan_parquet(folder / "*.parquet") if any(folder.glob("*.parquet")) else None
        if not self.partition_dates(table):
            return None
        return (pl.scan_parquet(folder / "**" / "*.parquet", hive_partitioning=True)
                .with_columns(pl.col(PARTITION_COLUMN).cast(pl.Date)))

    def count_rows(self, table: str, snapshot_date: str | None) -> int:
        files = self._files(table, snapshot_date)
        return sum(pl.scan_parquet(f).select(pl.len()).collect().item() for f in files)

    def read_rejects(self, snapshot_dates: list[str], columns: list[str] | None = None) -> pl.DataFrame:
        """Every reject row of every source for the given snapshot dates."""
        columns = columns or REJECT_SCHEMA.names()
        files = [p for d in snapshot_dates for p in self.rejects.glob(f"source=*/{PARTITION_COLUMN}={d}/*.parquet")]
        if not files:
            return empty_rejects().select(columns)
        return pl.concat([pl.read_parquet(f, columns=columns) for f in files])

    def digest(self, table: str, snapshot_date: str | None) -> list[tuple[str, str, str]]:
        """(table, file, sha256) of a partition's files: what it holds, for fingerprints. Reused
        partitions are hard links of identical files, so unchanged inputs give the same digest."""
        return [(table, f.name, hashlib.sha256(f.read_bytes()).hexdigest()) for f in self._files(table, snapshot_date)]

    # --- writing -------------------------------------------------------------------------------
    @contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """Held while a run writes the outputs called ``name``; another run waits for it."""
        with partition_lock(self.root, name, timeout=self.lock_timeout_seconds):
            yield

    @staticmethod
    def descriptions(table: str) -> Descriptions:
        """What ``table`` (a published table, or ``rejects``) and its columns mean, for its files."""
        grain = TABLES[table].description if table in TABLES else "One row per quarantined record and failed check."
        return Descriptions(table, grain, column_descriptions(table))

    def publish_table(self, table: str, frame: pl.DataFrame, snapshot_date: str | None) -> Path:
        return publish_frame(frame, self.table_dir(table), self.partition(table, snapshot_date), self.staging,
                             self.descriptions(table))

    def publish_tables(self, frames: dict[str, pl.DataFrame], snapshot_date: str | None) -> None:
        """Publish several tables' partitions of one date as one set (see :func:`publish_set`)."""
        writers = {}
        try:
            for table, frame in frames.items():
                writer = self.table_writer(table, snapshot_date)
                writers[table] = writer
                writer.write(frame, "part-00000-00000")
            self.publish_writers(writers, {t: f.schema for t, f in frames.items()})
        except BaseException:
            for writer in writers.values():
                writer.abort()
            raise

    def publish_writers(self, writers: dict[str, PartitionWriter], schemas: dict) -> None:
        """Publish the finished partitions of several writers as one set."""
        publish_set([writer.finish(empty_schema=schemas.get(table)) for table, writer in writers.items()], self.staging)

    def table_writer(self, table: str, snapshot_date: str) -> PartitionWriter:
        """A writer for a table partition written in parts (streamed sources)."""
        return PartitionWriter(self.table_dir(table), self.partition(table, snapshot_date), self.staging,
                               self.descriptions(table))

    def table_spool(self, table: str, snapshot_date: str, folder: Path) -> PartFolder:
        """Parts of a table partition written into ``folder`` (in :meth:`spool_dir`) ahead of the
        step that publishes them (:meth:`PartitionWriter.adopt`)."""
        return PartFolder(folder, self.partition(table, snapshot_date), self.descriptions(table))

    def rejects_spool(self, source: str, snapshot_date: str, folder: Path) -> PartFolder:
        return PartFolder(folder, self.rejects_partition(source, snapshot_date), self.descriptions("rejects"))

    def spool_dir(self, run_id: str) -> Path:
        """Where the steps of run ``run_id`` leave parts for a later step of the same run."""
        assert run_id and "/" not in run_id and not run_id.startswith("."), run_id
        return self.root / ".spool" / run_id

    def clean_spool(self, *, older_than_seconds: float, keep: str | None = None) -> list[str]:
        """Remove the spool folders of runs untouched for ``older_than_seconds`` (a run that failed
        part-way leaves its folder for a re-execution to use), but ``keep``; returns the runs removed."""
        folder, removed = self.root / ".spool", []
        if not folder.is_dir():
            return removed
        now = time.time()
        for entry in folder.iterdir():
            try:
                idle = now - max(p.stat().st_mtime for p in [entry, *entry.rglob("*")])
            except (OSError, ValueError):  # removed meanwhile
                continue
            if entry.name != keep and idle > older_than_seconds:
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry.name)
        return removed

    def publish_rejects(self, source: str, snapshot_date: str, rejects: pl.DataFrame) -> Path:
        return publish_frame(validated_rejects(rejects), self.rejects, self.rejects_partition(source, snapshot_date),
                             self.staging, self.descriptions("rejects"))

    def rejects_writer(self, source: str, snapshot_date: str) -> PartitionWriter:
        return PartitionWriter(self.rejects, self.rejects_partition(source, snapshot_date), self.staging,
                               self.descriptions("rejects"))

    # --- the analyst's surface: catalog, dictionary, report -------------------------------------
    @property
    def catalog_path(self) -> Path:
        return self.root / CATALOG_FILE

    def write_catalog(self) -> dict[str, dict]:
        """Rebuild ``partnership.duckdb`` over what is published now; returns per table its latest
        partition and rows (see :func:`pipelines.storage.catalog.build_catalog`)."""
        with self.lock("catalog"):
            def relative(path: Path) -> str:
                return str(path.relative_to(self.root))

            folders = {t: ([relative(self.table_dir(t))] if self.table_dir(t).is_dir() else [])
                       if TABLES[t].partitioning == WHOLE
                       else [relative(self.partition_dir(t, d)) for d in self.partition_dates(t)] for t in TABLES}
            rejects = [relative(p) for p in sorted(self.rejects.glob(f"source=*/{PARTITION_COLUMN}=*"))]
            return write_catalog(self.root, folders, rejects, self.staging)[1]

    def publish_copy(self, url: str):
        """Copy the catalog's newest set (every table's partitions and the rejects, as of the end of
        one run) and the pages to object storage at ``url``, behind one manifest: see
        :mod:`pipelines.storage.objects`. Returns its :class:`~pipelines.storage.objects.CopyResult`."""
        from pipelines.storage import objects

        with self.lock("catalog"):  # no catalog build removes the pinned files while they are copied
            pins = latest_pins(self.root)
            if pins is None:
                raise objects.PublishedCopyError(f"no catalog was built in {self.root}: nothing to copy")
            pages = [self.page_path("docs", "index.html"), *(self.page_path("report", n) for n in self.pages("report"))]
            return objects.publish_copy(self.root, pins, url, [p for p in pages if p.is_file()], self.landed_all())

    def landed_all(self) -> list[LandedSnapshot]:
        """Every landed snapshot of every source, by source and date."""
        sources = sorted(p.name for p in self.landing.iterdir() if p.is_dir() and not p.name.startswith(".")) \
            if self.landing.is_dir() else []
        return [snapshot for source in sources for day in self.landed_dates(source)
                if (snapshot := self.landed(source, day)) is not None]

    def page_path(self, site: str, name: str) -> Path:
        assert site in ("docs", "report") and "/" not in name, (site, name)
        return self.root / site / name

    def publish_page(self, site: str, name: str, text: str) -> Path:
        path = self.page_path(site, name)
        write_text_atomic(path, text)
        return path

    def cached_text(self, name: str, produce) -> str:
        """``<data_dir>/.cache/<name>``, made by ``produce()`` the first time (derived, never data:
        deleting the folder costs only the time to make it again)."""
        path = self.root / ".cache" / name
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            text = produce()
            write_text_atomic(path, text)
            return text

    def pages(self, site: str) -> list[str]:
        folder = self.root / site
        return sorted(p.name for p in folder.glob("*.html")) if folder.is_dir() else []

    # --- reuse of outputs whose inputs did not change ------------------------------------------
    def _datasets(self, tables: list[str], reject_sources: list[str]) -> list[tuple[Path, dict]]:
        datasets = []
        for table in tables:
            part = {PARTITION_COLUMN: "{date}"} if TABLES[table].partitioning == SNAPSHOT else {}
            datasets.append((self.table_dir(table), part))
        return datasets + [(self.rejects, {"source": s, PARTITION_COLUMN: "{date}"}) for s in reject_sources]

    def reusable(self, name: str, fingerprint: str, tables: list[str], reject_sources: list[str]) -> bool:
        """Whether :meth:`reuse` would find an earlier date to reuse (it may no longer when it runs)."""
        return reuse.find_reusable(self.root, name, fingerprint, self._datasets(tables, reject_sources)) is not None

    def reuse(self, name: str, fingerprint: str, snapshot_date: str, tables: list[str],
              reject_sources: list[str]) -> tuple[str, dict] | None:
        """Publish, for ``snapshot_date``, the outputs of the latest earlier date recorded under
        ``name`` with the same ``fingerprint``; returns (that date, its counts), or None."""
        datasets = self._datasets(tables, reject_sources)
        found = reuse.find_reusable(self.root, name, fingerprint, datasets)
        if found is None:
            return None
        previous, _ = found
        with self.lock(f"{name}-{snapshot_date}"):
            for folder, part in datasets:
                reuse.reuse_partition(folder / partition_dirname({k: v.format(date=previous) for k, v in part.items()}),
                                      folder / partition_dirname({k: v.format(date=snapshot_date) for k, v in part.items()}),
                                      self.staging)
        return found

    def remember(self, name: str, snapshot_date: str, fingerprint: str, counts: dict) -> None:
        reuse.record(self.root, name, snapshot_date, fingerprint, counts)

    def recorded(self, name: str) -> dict:
        return reuse.load_state(self.root, name)

    # --- how the latest run of a date ended ----------------------------------------------------
    def record_run(self, snapshot_date: str, outcome: dict) -> None:
        from datetime import UTC, datetime

        document = {**outcome, "snapshot_date": snapshot_date,
                    "finished_at": datetime.now(UTC).replace(microsecond=0).isoformat()}
        write_json_atomic(self.root / "state" / "runs" / f"{snapshot_date}.json", document)

    def run_record(self, snapshot_date: str) -> dict | None:
        try:
            return json.loads((self.root / "state" / "runs" / f"{snapshot_date}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    # --- refusals: a date whose latest run refused a table -------------------------------------
    def _refusal_path(self, table: str, snapshot_date: str) -> Path:
        return self.root / "state" / "refused" / table / f"{snapshot_date}.json"

    def mark_refused(self, table: str, snapshot_date: str, reason: str) -> None:
        """Tables built on ``table`` skip ``snapshot_date`` while this mark stands: they are not
        rebuilt from an input whose latest version was refused."""
        path = self._refusal_path(table, snapshot_date)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, {"table": table, "snapshot_date": snapshot_date, "reason": reason})

    def clear_refused(self, table: str, snapshot_date: str) -> None:
        self._refusal_path(table, snapshot_date).unlink(missing_ok=True)

    def refusal(self, table: str, snapshot_date: str) -> str | None:
        path = self._refusal_path(table, snapshot_date)
        try:
            return json.loads(path.read_text(encoding="utf-8"))["reason"]
        except (OSError, ValueError, KeyError):
            return None
