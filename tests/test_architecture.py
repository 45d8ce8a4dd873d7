"""The module layers point one way, and the contracts that say so can fail.

The contracts live in pyproject.toml ([tool.importlinter]); `make lint` runs them too.
"""

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.conftest import PROJECT

PACKAGES = ("schemas", "assets", "pipelines")
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def contracts() -> list[dict]:
    return tomllib.loads((PROJECT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]["contracts"]


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    if not LINT_IMPORTS.is_file():
        pytest.skip(f"import-linter is not installed in this environment ({LINT_IMPORTS}); `make install` installs it")
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", "--config", str(root / "pyproject.toml")], cwd=root,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root)}, capture_output=True, text=True,
                          timeout=300)


def project_modules(root: Path = PROJECT) -> list[str]:
    modules = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] != "__init__":
                modules.append(".".join(parts))
    return modules


def test_the_import_contracts_are_kept():
    result = lint_imports(PROJECT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {len(contracts())} kept, 0 broken." in result.stdout


def test_every_module_of_the_project_is_in_exactly_one_layer():
    [layers] = [c["layers"] for c in contracts() if c["type"] == "layers"]
    named = [m.strip() for layer in layers for m in layer.replace("|", ":").split(":")]
    for module in project_modules():
        owners = [n for n in named if module == n or module.startswith(n + ".")]
        assert len(owners) == 1, f"{module} is in {owners or 'no layer'}: add it to the layers contract in pyproject.toml"


@pytest.mark.parametrize(("module", "bad_import", "contract"), [
    ("schemas/base.py", "import pipelines.storage.store", "layers"),
    ("assets/financing/iati_transform.py", "import dagster", "no-dagster-below-wiring"),
    ("assets/curated/flows.py", "from assets.wiring.tables import report", "layers"),
    ("pipelines/storage/publish.py", "import assets.reference", "storage-without-domain"),
    ("assets/financing/assets.py", "import assets.curated.assets", "layers"),  # domains' wiring are independent
    ("pipelines/resources.py", "import pipelines.definitions", "layers"),
    ("assets/reference.py", "import requests", "no-network-in-schemas-and-domain"),
])
def test_a_wrong_import_breaks_a_contract(tmp_path, module, bad_import, contract):
    for package in PACKAGES:
        shutil.copytree(PROJECT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PROJECT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / module
    target.write_text(f"{bad_import}  # noqa\n" + target.read_text(encoding="utf-8"), encoding="utf-8")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    [name] = [c["name"] for c in contracts() if c["id"] == contract]
    assert f"{name} BROKEN" in " ".join(result.stdout.split()), result.stdout
