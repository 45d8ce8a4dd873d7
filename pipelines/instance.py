"""The Dagster instance a data dir keeps its run history in (``<data_dir>/.dagster`` unless
``DAGSTER_HOME`` is set): its settings file, and the event log storage it names.

Dagster's SQLite event log creates a new database engine for every event it stores, and a run stores
about 300 events (every step start, output, materialization, check and log line, mirrored into the
index): on this project's nightly run with nothing new that was over half the run's time. The
storage below is the same SQLite event log, files and schema unchanged (the webserver and the
daemon read them as they are), keeping one engine per database file open instead, for the most
recently used files only.
"""

import sys
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
)
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection, Engine

# how the settings file of a data dir's own instance starts: the file is rewritten when it starts so
# (the data dir moved) and left alone when the operator wrote their own
MARKER = "# Dagster instance of this data dir, written by partnership; delete this line to keep your own edits.\n"
LEGACY_SETTINGS = "telemetry:\n  enabled: false\n"


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """:class:`SqliteEventLogStorage` with one engine kept per database file (at most
    :attr:`MAX_ENGINES`, least recently used closed first), instead of one engine per event."""

    MAX_ENGINES = 8

    def __init__(self, base_dir: str, inst_data=None):
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        super().__init__(base_dir, inst_data)

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> "PooledSqliteEventLogStorage":
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Engine:
        engine = self._engines.pop(shard, None)
        if engine is None:
            engine = create_engine(self.conn_string_for_shard(shard), connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
        self._engines[shard] = engine
        while len(self._engines) > self.MAX_ENGINES:
            self._engines.popitem(last=False)[1].dispose()
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def _close_engines(self) -> None:
        with self._db_lock:
            while self._engines:
                self._engines.popitem()[1].dispose()

    def wipe(self) -> None:
        self._close_engines()  # before the files are removed
        super().wipe()

    def upgrade(self) -> None:
        self._close_engines()
        super().upgrade()

    def dispose(self) -> None:
        self._close_engines()
        super().dispose()


def instance_settings(home: Path) -> str:
    """The settings file of a data dir's own instance: telemetry off, and the event log above, in
    the usual place under ``home``."""
    return (f"{MARKER}telemetry:\n  enabled: false\n"
            "event_log_storage:\n"
            "  module: pipelines.instance\n"
            f"  class: {PooledSqliteEventLogStorage.__name__}\n"
            "  config:\n"
            f"    base_dir: {str(Path(home).resolve() / 'history' / 'runs')!r}\n")


def ensure_instance_settings(home: Path) -> Path:
    """Write ``home/dagster.yaml`` unless the operator wrote their own."""
    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    settings = home / "dagster.yaml"
    current = settings.read_text(encoding="utf-8") if settings.exists() else None
    if current is None or current == LEGACY_SETTINGS or current.startswith(MARKER):
        wanted = instance_settings(home)
        if current != wanted:
            settings.write_text(wanted, encoding="utf-8")
    return settings


if __name__ == "__main__":  # make dev: python -m pipelines.instance <DAGSTER_HOME>
    print(ensure_instance_settings(Path(sys.argv[1])))
