import socket
import warnings
from pathlib import Path

import pytest

warnings.filterwarnings("ignore", category=Warning, module="dagster")

PROJECT = Path(__file__).resolve().parent.parent
REALDATA = (PROJECT.parent / "shared" / "realdata").resolve()
IATI_REAL = REALDATA / "iati" / "activities"


@pytest.fixture
def realdata() -> Path:
    if not REALDATA.is_dir():
        pytest.skip(f"real third-party data not found at {REALDATA} (expected ../shared/realdata beside the project)")
    return REALDATA


@pytest.fixture(scope="session")
def real_run_outcome(tmp_path_factory):
    """(data dir, result) of one whole run on the real files, shared by the tests that read its
    outputs (none of them writes to it)."""
    if not REALDATA.is_dir():
        pytest.skip(f"real third-party data not found at {REALDATA} (expected ../shared/realdata beside the project)")
    from tests.test_end_to_end import run

    data_dir = tmp_path_factory.mktemp("real")
    result = run(data_dir, PROJECT / "config" / "sources.realdata.yaml")
    assert result.success
    return data_dir, result


@pytest.fixture(scope="session")
def real_run(real_run_outcome) -> Path:
    return real_run_outcome[0]


@pytest.fixture(scope="session")
def sample(tmp_path_factory) -> Path:
    """The data dir of one run on the sample sources for 2026-11-20, shared by the tests that only
    read its outputs (a test that writes copies it first)."""
    from tests.test_end_to_end import SAMPLE_SOURCES, run

    data_dir = tmp_path_factory.mktemp("sample-run") / "data"
    assert run(data_dir, SAMPLE_SOURCES).success
    return data_dir


def unreachable_sources(folder: Path) -> tuple[Path, str]:
    """A sources file whose one source is a URL on a local port nothing listens on: (file, URL)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/un-revenue.csv"
    sources = folder / "sources.yaml"
    sources.write_text(f"un_revenue: [{url}]\n")
    return sources, url


def iati_xml(activities: str, *, version: str = "2.03", extra_root: str = "") -> str:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<iati-activities version="{version}" generated-datetime="2026-01-01T00:00:00"{extra_root}>\n'
            f"{activities}\n</iati-activities>\n")


@pytest.fixture
def write_xml(tmp_path):
    def _write(content: str | bytes, name: str = "activities.xml") -> Path:
        path = tmp_path / name
        path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        return path
    return _write
