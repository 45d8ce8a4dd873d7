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
