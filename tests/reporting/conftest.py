from pathlib import Path

import pytest

from tests.test_end_to_end import SAMPLE_SOURCES, run


@pytest.fixture(scope="session")
def sample(tmp_path_factory) -> Path:
    """The data dir of one sample run, read (never written) by the catalog and report tests."""
    data_dir = tmp_path_factory.mktemp("sample-run") / "data"
    assert run(data_dir, SAMPLE_SOURCES).success
    return data_dir
