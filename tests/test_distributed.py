"""The nightly job on Dagster's Celery executor, with Redis, two workers and an S3 server (moto's)
started here: the run succeeds, both workers take steps, and every table equals, row for row, the
in-process run of the same sample (the session's ``sample`` data dir), in the data dir and in the
published copy on S3. The Celery run builds the IATI files a unit per file (a step each, taken by
either worker); the in-process run builds them in one unit."""

import shutil
import sys

import pytest

from tests.conftest import PROJECT
from tests.test_end_to_end import DAY, SAMPLE_SOURCES

sys.path.insert(0, str(PROJECT / "benchmarks"))
from distributed import cluster, object_store, published, published_copy, run_cli, tasks_done  # noqa: E402

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None,
    reason="redis-server not installed: `make test` installs Debian's redis-server where apt-get runs as root")


def test_the_nightly_job_on_two_celery_workers_publishes_what_the_in_process_run_publishes(tmp_path, sample):
    pytest.importorskip("moto.server", reason="moto (a dev dependency: pip install -e '.[dev]') is needed")
    with object_store() as s3:
        settings = {"PARTNERSHIP_SOURCES": str(SAMPLE_SOURCES), "PARTNERSHIP_DATA_DIR": str(tmp_path / "data"),
                    "PARTNERSHIP_IATI_UNIT_MB": "0", **s3}
        with cluster(tmp_path / "cluster", workers=2, env=settings) as env:
            _, done = run_cli({**settings, **env}, DAY)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        copied = published_copy(s3)
    steps = [tasks_done(tmp_path / "cluster" / f"worker-{n}.log") for n in (1, 2)]
    import dagster as dg

    from pipelines.definitions import build_definitions
    from pipelines.resources import StorageResource
    from pipelines.storage.store import DataStore

    # the job the workers ran: with the published copy's step, as PARTNERSHIP_PUBLISH_URL is set; a
    # graph of steps counts its ops, and its mapped op once per IATI file landed
    job = build_definitions({"storage": StorageResource(publish_url=s3["PARTNERSHIP_PUBLISH_URL"])}
                            ).resolve_job_def("nightly_snapshot")
    ops = sum(len(n.definition.nodes) if isinstance(n.definition, dg.GraphDefinition) else 1 for n in job.graph.nodes)
    iati_files = len(DataStore(sample).landed("iati_activities", DAY).files)
    assert iati_files > 1
    assert sum(steps) == ops - 1 + iati_files and min(steps) > 0, steps
    expected, got = published(sample), published(tmp_path / "data")
    assert sorted(got) == sorted(expected)
    different = [partition for partition in expected if not got[partition].equals(expected[partition])]
    assert not different
    assert sorted(copied) == sorted(expected)
    assert not [partition for partition in expected if not copied[partition].equals(expected[partition])]
