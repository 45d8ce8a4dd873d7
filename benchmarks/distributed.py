"""The nightly job on Dagster's Celery executor: Redis on 127.0.0.1, Celery workers and an S3 server
(moto's) started here, stopped on exit. Measures one worker against two on the same inputs, and
checks that both runs published the same rows as an in-process run, in the data dir and in the
published copy on S3 (PARTNERSHIP_PUBLISH_URL).

    python benchmarks/distributed.py [--sources config/sources.yaml] [--date 2026-11-20]
    python benchmarks/distributed.py --registry-files 300 --registry-mb 80 --unit-mb 8

The second form measures the IATI fan-out alone: a registry-shaped set of generated IATI files
(benchmarks/registry.py's, seeded) is the only source; the Celery runs build it in units of
``--unit-mb`` (PARTNERSHIP_IATI_UNIT_MB), a step each, shared by the workers; the in-process run
builds it as configured by default (one unit of 256 MB, parsed ahead by its own worker processes).

``cluster()`` is also what ``tests/test_distributed.py`` starts. Needs Debian's ``redis-server``
(``make test`` installs it where apt-get can run as root).
"""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait(condition, what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not ready after {timeout:.0f} s")
        time.sleep(0.2)


def _stop(process: subprocess.Popen, grace: float = 30.0) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)  # Celery: warm shutdown, the task in hand finishes
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def cluster(folder: Path, *, workers: int, env: dict[str, str], pool: str = "prefork") -> Iterator[dict[str, str]]:
    """Redis and ``workers`` Celery workers (one task at a time each) for runs whose environment is
    ``env`` plus what is yielded: the executor, the broker and a run history (``DAGSTER_HOME``) the
    workers share with the process that launches the run. The workers build the resources from
    ``env`` as every process does: give them the run's sources and data dir
    (``PARTNERSHIP_SOURCES``, ``PARTNERSHIP_DATA_DIR``). Worker logs: ``folder/worker-<n>.log``.
    ``pool``: Celery's execution pool; ``prefork`` runs a task in a daemonic child process (which may
    not start processes), ``solo`` in the worker process itself (a step may use every core)."""
    if shutil.which("redis-server") is None:
        raise FileNotFoundError("redis-server is not installed (Debian package redis-server)")
    folder.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    redis = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                              "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    started: list[subprocess.Popen] = []
    try:
        def redis_up() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                    conn.sendall(b"PING\r\n")
                    return conn.recv(16).startswith(b"+PONG")
            except OSError:
                return False

        _wait(redis_up, "redis-server")
        broker = f"redis://127.0.0.1:{port}/0"
        config = folder / "celery-config"
        config.mkdir(exist_ok=True)
        # the module dagster_celery's app reads its settings from, on the workers' path
        (config / "dagster_celery_config.py").write_text(f"broker_url = {broker!r}\nresult_backend = {broker!r}\n")
        home = folder / "dagster-home"
        full = {**os.environ, **env, "PARTNERSHIP_EXECUTOR": "celery", "PARTNERSHIP_CELERY_BROKER": broker,
                "DAGSTER_HOME": str(home), "PYTHONPATH": os.pathsep.join([str(config), str(ROOT)])}
        # the run history is created once, before the workers open it together
        subprocess.run([sys.executable, "-c", "import sys, dagster; from pipelines.instance import ensure_instance_settings; "
                        "ensure_instance_settings(sys.argv[1]); dagster.DagsterInstance.get().dispose()", str(home)],
                       check=True, env=full, cwd=ROOT, capture_output=True)
        logs = []
        for number in range(1, workers + 1):
            log = folder / f"worker-{number}.log"
            logs.append(log)
            started.append(subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "dagster_celery.app", "worker", "--prefetch-multiplier=1",
                 "--concurrency", "1", "--pool", pool, "-Q", "dagster", "--loglevel", "INFO",
                 "-n", f"worker{number}@%h"],
                env=full, cwd=ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT))
        _wait(lambda: all(" ready." in log.read_text(errors="replace") for log in logs), f"{workers} Celery worker(s)")
        yield {key: full[key] for key in ("PARTNERSHIP_EXECUTOR", "PARTNERSHIP_CELERY_BROKER", "DAGSTER_HOME",
                                          "PYTHONPATH")}
    finally:
        for process in started:
            _stop(process)
        _stop(redis, grace=5)


@contextmanager
def object_store(bucket: str = "published") -> Iterator[dict[str, str]]:
    """moto's S3 server on a free port of 127.0.0.1 with one bucket; yields the environment that
    sends a run's published copy there (PARTNERSHIP_PUBLISH_URL and the AWS_* settings)."""
    import logging

    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not a line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        env = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
               "AWS_ENDPOINT_URL": f"http://{host}:{port}"}
        boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], aws_access_key_id="test", aws_secret_access_key="test",
                     region_name="us-east-1").create_bucket(Bucket=bucket)
        yield {**env, "PARTNERSHIP_PUBLISH_URL": f"s3://{bucket}/partnership"}
    finally:
        server.stop()


def published_copy(env: dict[str, str]) -> dict[str, "object"]:
    """Every curated and mart table's rows (sorted) in the published copy, by partition folder as in
    the data dir; read with boto3 and polars from the manifest, not with the copy's own code."""
    import io
    import json
    from urllib.parse import urlsplit

    import boto3
    import polars as pl

    place = urlsplit(env["PARTNERSHIP_PUBLISH_URL"])
    bucket, prefix = place.hostname, place.path.strip("/")
    client = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"], region_name=env["AWS_DEFAULT_REGION"])

    def get(key: str) -> bytes:
        return client.get_object(Bucket=bucket, Key=f"{prefix}/{key}")["Body"].read()

    tables = {}
    for table, entry in json.loads(get("_published.json"))["tables"].items():
        for part in entry["partitions"]:
            if part["objects"]:
                folder = "/".join([entry["layer"], table, *(f"{k}={v}" for k, v in part["values"].items())])
                frame = pl.concat([pl.read_parquet(io.BytesIO(get(o))) for o in part["objects"]], how="diagonal_relaxed")
                tables[folder] = frame.sort(pl.all())
    return tables


def tasks_done(log: Path) -> int:
    """Steps a worker finished, from its log."""
    return sum(1 for line in log.read_text(errors="replace").splitlines()
               if "Task execute_plan[" in line and " succeeded in " in line)


def run_cli(env: dict[str, str], day: str) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("PARTNERSHIP_", "DAGSTER_HOME"))}
    done = subprocess.run([sys.executable, "-m", "pipelines.cli", "run", "--date", day], env={**inherited, **env},
                          cwd=ROOT, capture_output=True, text=True)
    return time.perf_counter() - started, done


def published(data_dir: Path) -> dict[str, "object"]:
    """Every curated and mart table's rows (sorted), by partition folder."""
    import polars as pl

    tables = {}
    for layer in ("curated", "mart"):
        for partition in sorted((data_dir / layer).glob("*/**/")):
            files = sorted(partition.glob("*.parquet"))
            if files:
                frame = pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed")
                tables[str(partition.relative_to(data_dir))] = frame.sort(pl.all())
    return tables


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", default=str(ROOT / "config" / "sources.yaml"))
    parser.add_argument("--date", default="2026-11-20")
    parser.add_argument("--registry-files", type=int, help="generate this many IATI files as the only source")
    parser.add_argument("--registry-mb", type=float, default=80, help="their total size")
    parser.add_argument("--unit-mb", type=int, help="PARTNERSHIP_IATI_UNIT_MB of the Celery runs")
    parser.add_argument("--pool", default="prefork", choices=["prefork", "solo"], help="Celery's execution pool")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = {"PARTNERSHIP_SOURCES": args.sources}
        if args.registry_files:
            from benchmarks.registry import generate, sizes

            folder = Path(tmp) / "registry"
            folder.mkdir()
            activities = generate(folder, sizes(args.registry_files, args.registry_mb, seed=7))
            (Path(tmp) / "sources.yaml").write_text(f"iati_activities:\n  - {folder}/*.xml\n")
            base = {"PARTNERSHIP_SOURCES": str(Path(tmp) / "sources.yaml")}
            print(f"{args.registry_files} IATI files, {args.registry_mb:.0f} MB, {activities} activities")
        fanned = {"PARTNERSHIP_IATI_UNIT_MB": str(args.unit_mb)} if args.unit_mb is not None else {}
        reference = Path(tmp) / "in-process"
        seconds, done = run_cli({**base, "PARTNERSHIP_DATA_DIR": str(reference)}, args.date)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        print(f"in-process: {seconds:6.1f} s")
        expected = published(reference)
        times = {}
        for workers in (1, 2):
            folder = Path(tmp) / f"celery-{workers}"
            data = folder / "data"
            with object_store() as s3:
                # the workers build the resources from their environment: the same sources, data dir
                # and published copy's place
                settings = {**base, "PARTNERSHIP_DATA_DIR": str(data), **fanned, **s3}
                with cluster(folder, workers=workers, env=settings, pool=args.pool) as env:
                    seconds, done = run_cli({**settings, **env}, args.date)
                assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
                copied = published_copy(s3)
            got = published(data)
            same = got.keys() == expected.keys() and all(got[k].equals(expected[k]) for k in expected)
            same_copy = copied.keys() == expected.keys() and all(copied[k].equals(expected[k]) for k in expected)
            steps = [tasks_done(folder / f"worker-{n}.log") for n in range(1, workers + 1)]
            times[workers] = seconds
            print(f"celery, {workers} worker(s): {seconds:6.1f} s; steps per worker {steps}; every table equal to "
                  f"the in-process run: {same}; in the published copy on S3: {same_copy}")
        print(f"speed-up of two workers over one: {times[1] / times[2]:.2f}x")


if __name__ == "__main__":
    main()
