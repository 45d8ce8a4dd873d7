"""The sources file: which source names exist and where each source's files are.

The environment is read in one place only, :func:`pipelines.resources.default_resources`; here a
sources file is parsed from the path it is given.
"""

import difflib
import glob
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from schemas.paths import CONFIG_DIR

DEFAULT_SOURCES_FILE = CONFIG_DIR / "sources.yaml"
DEFAULT_DATA_DIR = Path("data")

# Every source name the pipeline knows. A sources file may name any subset of them.
KNOWN_SOURCES = (
    "iati_activities",
    "exchange_rates",
    "ungc_participants",
    "ungc_local_networks",
    "sdg_partnerships",
    "un_revenue",
    "un_sanctions",
)


class SourcesConfigError(ValueError):
    """The sources file cannot be used as it is; the message says which entry and why."""


@dataclass(frozen=True)
class SourceSpec:
    """One source as the sources file describes it."""

    name: str
    locations: tuple[str, ...]
    format: str | None = None
    base_dir: Path = field(default=Path("."))

    def is_url(self, location: str) -> bool:
        return location.startswith(("http://", "https://"))

    def resolve(self) -> list[str]:
        """Expand globs and make relative paths relative to the sources file.

        Returns URLs unchanged and local paths as absolute strings, sorted within each glob so that
        the same folder always lands in the same order. A path without glob characters must exist.
        """
        resolved: list[str] = []
        for location in self.locations:
            if self.is_url(location):
                resolved.append(location)
                continue
            path = Path(os.path.expanduser(location))
            if not path.is_absolute():
                path = Path(os.path.normpath(self.base_dir / path))
            text = str(path)
            if glob.has_magic(text):
                matches = sorted(str(Path(p).resolve()) for p in glob.glob(text, recursive=True) if Path(p).is_file())
                if not matches:
                    raise SourcesConfigError(f"source '{self.name}': location {location!r} matches no file ({path})")
                resolved.extend(matches)
            elif path.is_file():
                resolved.append(str(path.resolve()))
            elif path.is_dir():
                raise SourcesConfigError(
                    f"source '{self.name}': location {location!r} is a folder; use a glob such as "
                    f"'{location.rstrip('/')}/*.xml'"
                )
            else:
                raise SourcesConfigError(f"source '{self.name}': location {location!r} does not exist ({path})")
        return resolved


def read_sources_document(path: str | os.PathLike) -> dict:
    """The sources file's mapping; a YAML error names the line and column."""
    path = Path(path)
    if not path.is_file():
        raise SourcesConfigError(f"sources file {path} does not exist (set PARTNERSHIP_SOURCES)")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" line {mark.line + 1} column {mark.column + 1}" if mark else ""
        raise SourcesConfigError(f"sources file {path}{where}: not valid YAML: {exc.problem or exc.context}") from exc
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise SourcesConfigError(f"sources file {path} is not valid YAML: {exc}") from exc
    if not isinstance(document, dict):
        raise SourcesConfigError(f"sources file {path}: top level must be a mapping of source names")
    if not document:
        raise SourcesConfigError(f"sources file {path} names no source: an empty configuration would publish nothing "
                                 f"(known sources: {', '.join(KNOWN_SOURCES)})")
    return document


def unknown_source_message(path: Path, name) -> str:
    close = difflib.get_close_matches(str(name), KNOWN_SOURCES, n=1)
    hint = f"did you mean {close[0]}?" if close else f"known sources are {', '.join(KNOWN_SOURCES)}"
    return f"sources file {path}: unknown source {name!r}; {hint}"


def source_spec(path: Path, name, value) -> SourceSpec:
    """One entry of the sources file: ``[locations]`` or ``{locations: [...], format: ...}``."""
    if name not in KNOWN_SOURCES:
        raise SourcesConfigError(unknown_source_message(path, name))
    fmt = None
    if value is None:
        locations: list = []
    elif isinstance(value, str):
        locations = [value]
    elif isinstance(value, list):
        locations = value
    elif isinstance(value, dict):
        unknown = set(value) - {"locations", "format"}
        if unknown:
            raise SourcesConfigError(f"sources file {path}: source {name!r} has unknown keys {sorted(unknown)}")
        locations = value.get("locations") or []
        if isinstance(locations, str):
            locations = [locations]
        fmt = value.get("format")
    else:
        raise SourcesConfigError(f"sources file {path}: source {name!r} must be a list of locations or a mapping")
    if not all(isinstance(loc, str) and loc.strip() for loc in locations):
        raise SourcesConfigError(f"sources file {path}: source {name!r} has a location that is not a string")
    return SourceSpec(name=name, locations=tuple(locations), format=fmt, base_dir=path.parent)


def load_sources(path: str | os.PathLike) -> dict[str, SourceSpec]:
    """Read a sources file: ``{source: [locations]}`` or ``{source: {locations: [...], format: ...}}``."""
    path = Path(path)
    return {name: source_spec(path, name, value) for name, value in read_sources_document(path).items()}
