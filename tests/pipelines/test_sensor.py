"""The drop-folder sensor starts one run per new set of files."""

import os
from datetime import UTC, datetime

import dagster as dg

from pipelines.definitions import defs


def evaluate(cursor=None):
    sensor = defs.get_repository_def().get_sensor_def("drop_folder_sensor")
    context = dg.build_sensor_context(cursor=cursor, repository_def=defs.get_repository_def())
    return sensor.evaluate_tick(context)


def test_new_or_changed_files_start_a_run_for_today(tmp_path, monkeypatch):
    monkeypatch.setenv("PARTNERSHIP_DROP_FOLDER", str(tmp_path / "drop"))
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
