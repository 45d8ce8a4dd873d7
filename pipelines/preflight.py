"""Checks made before anything runs (``partnership check``, and the start of ``run`` and
``backfill``): every mistake in the configuration is one line that says what to change, and a run
that would fail on one of them does not start."""

import os
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path

from pipelines.calendar import FIRST_SNAPSHOT
from pipelines.storage.settings import (
    DEFAULT_DATA_DIR,
    DEFAULT_SOURCES_FILE,
    SourcesConfigError,
    read_sources_document,
    source_spec,
)

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def snapshot_range() -> tuple[date, date]:
    """The snapshot dates a run can take: the first partition to today (UTC)."""
    return date.fromisoformat(FIRST_SNAPSHOT), datetime.now(UTC).date()


def check_dates(dates: list[str]) -> list[str]:
    first, last = snapshot_range()
    problems = []
    for text in dates:
        try:
            day = date.fromisoformat(text)
            if len(text) != 10:
                raise ValueError
        except ValueError:
            problems.append(f"date {text!r} is not a date written YYYY-MM-DD (snapshot dates run from {first} to {last})")
            continue
        if not first <= day <= last:
            problems.append(f"date {text} is outside the snapshot dates, {first} to {last} (today, UTC)")
    return problems


def _writable_dir(path: Path) -> bool:
    """Whether ``path`` is (or can be made) a directory this process can write in."""
    existing = path
    while not existing.exists():
        if existing.parent == existing:
            return False
        existing = existing.parent
    if not existing.is_dir():
        return False
    try:
        if existing == path:
            with tempfile.TemporaryFile(dir=path):
                pass
            return True
        return os.access(existing, os.W_OK | os.X_OK)
    except OSError:
        return False


def check_settings(environ: dict[str, str]) -> list[str]:
    problems = []

    def number(name: str, kind, low, high=None, what=""):
        value = environ.get(name)
        if not value:
            return
        try:
            parsed = kind(value)
        except ValueError:
            problems.append(f"{name}={value!r} is not {what}")
            return
        if parsed < low or (high is not None and parsed > high):
            problems.append(f"{name}={value!r} is not {what}")

    number("PARTNERSHIP_MAX_REJECT_SHARE", float, 0.0, 1.0, "a share between 0 and 1 (e.g. 0.5)")
    number("PARTNERSHIP_MAX_TABLE_MB", int, 1, None, "a whole number of megabytes, at least 1")
    number("PARTNERSHIP_LOCK_TIMEOUT", int, 0, None, "a whole number of seconds")
    level = environ.get("PARTNERSHIP_LOG_LEVEL")
    if level and level.upper() not in LOG_LEVELS:
        problems.append(f"PARTNERSHIP_LOG_LEVEL={level!r} is not one of {', '.join(LOG_LEVELS)}")
    decisions = environ.get("PARTNERSHIP_DECISIONS")
    if decisions and not Path(decisions).is_file():
        problems.append(f"PARTNERSHIP_DECISIONS={decisions}: no such file")
    publish = environ.get("PARTNERSHIP_PUBLISH_URL")
    if publish:
        from pipelines.storage.objects import check_url as check_publish_url

        if why := check_publish_url(publish):
            problems.append(f"PARTNERSHIP_PUBLISH_URL: {why}")
    token = environ.get("PARTNERSHIP_HTTP_TOKEN")
    if token:
        from pipelines.storage.fetch import check_bearer_token

        if why := check_bearer_token(token):
            problems.append(why)
    return problems


def check_folders(environ: dict[str, str]) -> list[str]:
    problems = []
    data_dir = Path(environ.get("PARTNERSHIP_DATA_DIR") or DEFAULT_DATA_DIR)
    if not _writable_dir(data_dir.resolve()):
        problems.append(f"data dir {data_dir} is not a directory this user can write "
                        "(set PARTNERSHIP_DATA_DIR to one)")
    home = environ.get("DAGSTER_HOME")
    if home and not (Path(home).is_dir() and _writable_dir(Path(home))):
        problems.append(f"DAGSTER_HOME={home} is not an existing directory this user can write "
                        "(create it, or unset DAGSTER_HOME to keep run history in <data dir>/.dagster)")
    return problems


def check_url(name: str, url: str) -> str | None:
    """Why a URL location cannot be requested at all (no host, a bad port), or None; the URL is
    shown without its credentials and query."""
    from urllib.parse import urlsplit

    from pipelines.storage.fetch import redact

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        return f"source '{name}': location {redact(url)} cannot be requested: not a valid URL"
    if not parts.hostname:
        return f"source '{name}': location {redact(url)} cannot be requested: no host"
    return None


def check_sources(path: Path) -> list[str]:
    try:
        document = read_sources_document(path)
    except SourcesConfigError as error:
        return [str(error)]
    problems = []
    for name, value in document.items():
        try:
            spec = source_spec(path, name, value)
            problems += [why for url in spec.locations if spec.is_url(url) and (why := check_url(name, url))]
            spec.resolve()
        except SourcesConfigError as error:
            problems.append(str(error))
    return problems


def preflight(environ: dict[str, str] | None = None, dates: list[str] = ()) -> list[str]:
    """Every problem found, one line each ([] when the run can start)."""
    environ = dict(os.environ if environ is None else environ)
    sources = Path(environ.get("PARTNERSHIP_SOURCES") or DEFAULT_SOURCES_FILE)
    return check_settings(environ) + check_folders(environ) + check_sources(sources) + check_dates(list(dates))
