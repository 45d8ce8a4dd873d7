"""Skipping work whose inputs did not change.

After a source's tables are published for a snapshot, the fingerprint of what produced them (the
landed files' sha256, the layout, the code and configuration, the threshold) is recorded in
``<data_dir>/state/<name>.json`` with the row counts. A later run whose fingerprint equals a recorded
one reuses that snapshot's files for its own partition (hard links, published atomically like any
other partition) instead of parsing again: the files do not hold the snapshot date (it is the
partition folder), so they are exactly what a new build would write.
"""

import hashlib
import json
import os
import shutil
import uuid
from functools import cache
from pathlib import Path

from pipelines.storage.publish import partition_dirname, swap_into_place, write_json_atomic
from schemas.paths import PROJECT_ROOT

_CODE_DIRS = ("assets", "schemas", "config")


@cache
def code_fingerprint() -> str:
    """Changes whenever the transforms, models or mappings change."""
    digest = hashlib.sha256()
    for folder in _CODE_DIRS:
        for path in sorted((PROJECT_ROOT / folder).rglob("*")):
            if path.is_file() and path.suffix in (".py", ".yaml", ".csv"):
                digest.update(path.relative_to(PROJECT_ROOT).as_posix().encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def fingerprint(*parts: object) -> str:
    text = json.dumps([code_fingerprint(), *parts], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _state_path(data_dir: Path, name: str) -> Path:
    return Path(data_dir) / "state" / f"{name}.json"


def load_state(data_dir: Path, name: str) -> dict:
    path = _state_path(data_dir, name)
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def record(data_dir: Path, name: str, snapshot_date: str, print_: str, counts: dict) -> None:
    path = _state_path(data_dir, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = load_state(data_dir, name)
    state[snapshot_date] = {"fingerprint": print_, "counts": counts}
    write_json_atomic(path, state, indent=1)


def find_reusable(data_dir: Path, name: str, print_: str, datasets: list[tuple[Path, dict]]) -> tuple[str, dict] | None:
    """The latest recorded snapshot with this fingerprint whose partitions are all still published.
    ``datasets``: (dataset folder, partition with ``{date}`` where the snapshot date goes)."""
    state = load_state(data_dir, name)
    for day in sorted(state, reverse=True):
        if state[day]["fingerprint"] != print_:
            continue
        if all((folder / partition_dirname({k: v.format(date=day) for k, v in part.items()})).is_dir()
               for folder, part in datasets):
            return day, state[day]["counts"]
    return None


def reuse_partition(source_dir: Path, target_dir: Path, staging_root: Path) -> None:
    """Publish a copy (hard links where possible) of ``source_dir`` at ``target_dir`` atomically."""
    if source_dir == target_dir:
        return
    staging_root.mkdir(parents=True, exist_ok=True)
    staging = staging_root / f"{uuid.uuid4().hex}-reuse"
    staging.mkdir()
    for file in sorted(source_dir.iterdir()):
        try:
            os.link(file, staging / file.name)
        except OSError:
            shutil.copy2(file, staging / file.name)
    swap_into_place(staging, target_dir)
