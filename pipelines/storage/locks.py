"""Per-partition write locks, so that two runs of the same partition never interleave their writes.

A lock is an ``fcntl.flock`` on ``<data_dir>/.locks/<name>.lock``: it is released by the kernel when
the holder dies (even on SIGKILL), so a crashed run never blocks the next one. A run that finds the
lock taken waits up to ``timeout`` seconds (the storage resource's ``lock_timeout_seconds``, default
1800), then fails naming the lock and the process holding it.
"""

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DEFAULT_LOCK_TIMEOUT_SECONDS = 1800.0


class LockTimeout(RuntimeError):
    """Another run held the lock for longer than the timeout."""


@contextmanager
def partition_lock(data_dir: Path, name: str, timeout: float = DEFAULT_LOCK_TIMEOUT_SECONDS) -> Iterator[None]:
    folder = Path(data_dir) / ".locks"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.lock"
    with open(path, "a+") as fh:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    fh.seek(0)
                    holder = fh.read().strip() or "unknown"
                    raise LockTimeout(f"{name}: another run is writing this partition (lock {path}, held by {holder}); "
                                      f"waited {timeout:.0f} s") from None
                time.sleep(0.2)
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}")
        fh.flush()
        try:
            yield
        finally:
            fh.seek(0)
            fh.truncate()
            fcntl.flock(fh, fcntl.LOCK_UN)
