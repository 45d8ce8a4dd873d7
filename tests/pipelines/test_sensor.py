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
