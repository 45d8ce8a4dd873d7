"""A sensor that starts a run when files appear or change in a drop folder (for sources delivered
by hand: point the sources file at ``<drop folder>/...`` and drop the files there)."""

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from pipelines.jobs import nightly_job
from pipelines.resources import StorageResource


def listing_fingerprint(folder: Path) -> tuple[str, int]:
    """A digest of every file's path, size and modification time under ``folder``; hidden and
    partial files (``.*``, ``*.part``, ``*.tmp``) are ignored until they are renamed into place."""
    digest = hashlib.sha256()
    count = 0
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.name.startswith(".") or path.suffix in (".part", ".tmp"):
            continue
        stat = path.stat()
        digest.update(f"{path.relative_to(folder)}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
        count += 1
    return digest.hexdigest(), count


@dg.sensor(job=nightly_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Runs today's partition when files in the drop folder (the storage resource's drop_folder, "
                       "PARTNERSHIP_DROP_FOLDER) appear or change.")
def drop_folder_sensor(context: dg.SensorEvaluationContext, storage: StorageResource):
    folder = storage.drop_path()
    if not folder.is_dir():
        return dg.SkipReason(f"drop folder {folder} does not exist")
    fingerprint, count = listing_fingerprint(folder)
    if count == 0:
        return dg.SkipReason(f"drop folder {folder} is empty")
    if fingerprint == context.cursor:
        return dg.SkipReason(f"no new or changed files in {folder}")
    context.update_cursor(fingerprint)
    today = datetime.now(UTC).date().isoformat()
    return dg.RunRequest(run_key=f"drop-{fingerprint[:16]}", partition_key=today,
                         tags={"partnership/trigger": "drop_folder", "partnership/files": str(count)})
