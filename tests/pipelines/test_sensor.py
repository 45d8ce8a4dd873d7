"""The drop-folder sensor starts one run per new set of files."""

import os
from datetime import UTC, datetime

import dagster as dg
import pytest

from pipelines.definitions import build_definitions
from pipelines.resources import StorageResource


@pytest.fixture
def evaluate(tmp_path):
    defs = build_definitions({"storage": StorageResource(data_dir=str(tmp_path / "data"), drop_folder=str(tmp_path / "drop"))})

    def _evaluate(cursor=None):
        sensor = defs.get_repository_def().get_sensor_def("drop_folder_sensor")
        with dg.build_sensor_context(cursor=cursor, repository_def=defs.get_repository_def(),
                                     resources={"storage": defs.resources["storage"]}) as context:
            return sensor.evaluate_tick(context)
    return _evaluate


def test_the_drop_folder_defaults_to_the_data_dir(tmp_path):
    assert StorageResource(data_dir=str(tmp_path)).drop_path() == tmp_path.resolve() / "drop"


def test_new_or_changed_files_start_a_run_for_today(tmp_path, evaluate):
    assert "does not exist" in evaluate().skip_message
    (tmp_path / "drop").mkdir()
    assert "empty" in evaluate().skip_message
    (tmp_path / "drop" / "activities.xml.part").write_text("half")  # still being copied
    assert "empty" in evaluate().skip_message
    (tmp_path / "drop" / "activities.xml").write_text("<iati-activities/>")
    first = evaluate()
    [request] = first.run_requests
    assert request.partition_key == datetime.now(UTC).date().isoformat()
    assert request.tags["partnership/trigger"] == "drop_folder"
    again = evaluate(first.cursor)
    assert again.run_requests == [] and "no new or changed files" in again.skip_message
    (tmp_path / "drop" / "activities.xml").write_text("<iati-activities version='2.03'/>")
    os.utime(tmp_path / "drop" / "activities.xml", (1, 1))
    [changed] = evaluate(first.cursor).run_requests
    assert changed.run_key != request.run_key


def test_a_nightly_run_started_by_dagster_records_how_it_ended_for_the_summary(tmp_path, monkeypatch, capsys):
    from pipelines.cli import main
    from pipelines.definitions import build_definitions
    from pipelines.resources import HttpResource, SourcesResource
    from pipelines.sensors import record_failed_runs
    from pipelines.storage.store import DataStore
    from tests.conftest import unreachable_sources

    sources, url = unreachable_sources(tmp_path)
    storage = StorageResource(data_dir=str(tmp_path / "data"))
    instance = dg.DagsterInstance.ephemeral()
    defs = build_definitions({"sources": SourcesResource(sources_file=str(sources)), "storage": storage,
                              "http": HttpResource(max_attempts=1)})
    result = defs.resolve_job_def("nightly_snapshot").execute_in_process(
        partition_key="2026-11-20", instance=instance, raise_on_error=False)
    assert not result.success
    [failure] = instance.get_records_for_run(result.run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records
    context = dg.build_run_status_sensor_context(
        sensor_name="record_failed_runs", dagster_event=failure.event_log_entry.dagster_event,
        dagster_instance=instance, dagster_run=instance.get_run_by_id(result.run_id), resources={"storage": storage})
    record_failed_runs(context)
    record = DataStore(tmp_path / "data").run_record("2026-11-20")
    assert record["status"] == "failed" and record["run_id"] == result.run_id
    assert record["failed_steps"] == [f"landing__un_revenue: LandingError: {url}: failed after 1 attempts: "
                                      "connection failed"]
    # the run's catalog step was skipped (only one source configured, and it failed): the sensor
    # still gives what was published a catalog and a dictionary
    assert (tmp_path / "data" / "partnership.duckdb").is_file() and (tmp_path / "data" / "docs" / "index.html").is_file()
    monkeypatch.setenv("PARTNERSHIP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PARTNERSHIP_SOURCES", str(sources))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    assert main(["summary", "--date", "2026-11-20"]) == 1  # and the summary says so
    out = capsys.readouterr().out
    assert f"Snapshot 2026-11-20: FAILED (run {result.run_id}" in out and "failed: landing__un_revenue: LandingError" in out
