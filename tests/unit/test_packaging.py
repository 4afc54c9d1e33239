"""The files Azure and newcomers depend on stay in step with the code."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

from sandbox.host.host import LOCAL_KEY_SETTING
from tests.support.app_settings import setting_names

ROOT = Path(__file__).resolve().parents[2]


def _name(req: str) -> str:
    return re.sub(r"[-_.]+", "-", Requirement(req).name).lower()


def test_requirements_txt_pins_exactly_the_runtime_dependencies() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {_name(r): Requirement(r) for r in project["dependencies"]}
    lines = [
        line.strip()
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    pinned = {_name(line): Requirement(line) for line in lines}
    assert set(pinned) == set(declared), "requirements.txt and pyproject list different packages"
    for name, req in pinned.items():
        (spec,) = req.specifier
        assert spec.operator == "==", f"{name} must be pinned with == in requirements.txt"
        assert declared[name].specifier.contains(spec.version), (
            f"{name}=={spec.version} does not satisfy pyproject's {declared[name].specifier}"
        )
    assert "azure-functions-worker" not in pinned


def test_local_settings_example_lists_every_setting_and_only_strings() -> None:
    values = json.loads((ROOT / "local.settings.example.json").read_text())["Values"]
    assert all(isinstance(v, str) for v in values.values()), "Functions needs string values"
    aliases = setting_names()
    identity_only = {a for a in aliases if a and a.startswith("AzureWebJobsStorage__")}
    missing = aliases - identity_only - set(values)
    assert not missing, f"local.settings.example.json lacks {sorted(missing)}"
    # The local host's own settings (sandbox/host/host.py), which the app never reads.
    host_only = {"FUNCTIONS_WORKER_RUNTIME", LOCAL_KEY_SETTING}
    unknown = set(values) - aliases - host_only
    assert not unknown, f"local.settings.example.json has settings the code ignores: {unknown}"


def test_readme_documents_every_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    for alias in setting_names():
        assert f"`{alias}`" in readme, f"README does not document {alias}"


def test_host_json_queue_semantics() -> None:
    host = json.loads((ROOT / "host.json").read_text())
    queues = host["extensions"]["queues"]
    assert queues["maxDequeueCount"] == 5
    assert queues["messageEncoding"] == "base64"
    assert host["extensions"]["http"]["routePrefix"] == "api"
    assert host["extensionBundle"]["version"] == "[4.*, 5.0.0)"


def test_azurite_is_pinned_in_package_json_and_lock() -> None:
    package = json.loads((ROOT / "package.json").read_text())
    assert package["devDependencies"]["azurite"] == "3.35.0"
    lock = json.loads((ROOT / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/azurite"]["version"] == "3.35.0"


def test_local_only_files_are_not_deployed() -> None:
    ignored = set((ROOT / ".funcignore").read_text().split())
    for path in ("sandbox", "tests", "bench", "local.settings.json", "node_modules", ".venv"):
        assert path in ignored, f".funcignore must exclude {path}"
    assert "local.settings.json" in (ROOT / ".gitignore").read_text().split()


def test_make_test_and_lint_run_the_type_checker() -> None:
    makefile = (ROOT / "Makefile").read_text()
    for target in ("test", "lint"):
        body = re.search(rf"^{target}:.*\n((?:\t.*\n)+)", makefile, flags=re.MULTILINE)
        assert body and "$(BIN)/mypy" in body.group(1), f"make {target} does not run mypy"
    mypy = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    assert mypy["strict"] is True
    assert set(mypy["files"]) == {"shared", "functions", "function_app.py"}
