"""Dependencies are declared exactly as imported: every third-party import of the deployed
package is a runtime dependency, every one of the sandbox and the benches a runtime dependency
or in the `local` extra, and every declared package is imported (or says why not)."""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import re
import sys
import tomllib
from functools import cache
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
FIRST_PARTY = {"shared", "functions", "function_app", "sandbox", "bench", "tests"}
DEPLOYED = ("shared", "functions", "function_app.py")
LOCAL = ("sandbox", "bench")
# Declared but never imported, each for a reason written next to it in pyproject.toml.
NOT_IMPORTED = {"aiohttp", "tzdata"}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> tuple[set[str], dict[str, set[str]]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {_norm(Requirement(r).name) for r in project["dependencies"]}
    extras = {
        extra: {_norm(Requirement(r).name) for r in reqs}
        for extra, reqs in project["optional-dependencies"].items()
    }
    return runtime, extras


def imported_modules(*roots: str) -> dict[str, set[str]]:
    """Third-party module -> the files (relative) that import it, over files or trees."""
    found: dict[str, set[str]] = {}
    for root in roots:
        path = ROOT / root
        for file in [path] if path.is_file() else sorted(path.rglob("*.py")):
            for node in ast.walk(ast.parse(file.read_text(), str(file))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.partition(".")[0]
                    if top in sys.stdlib_module_names or top in FIRST_PARTY:
                        continue
                    found.setdefault(name, set()).add(str(file.relative_to(ROOT)))
    return found


@cache
def _owners() -> dict[Path, str]:
    owners: dict[Path, str] = {}
    for dist in importlib.metadata.distributions():
        for file in dist.files or ():
            if file.suffix == ".py":
                owners[Path(dist.locate_file(file)).resolve()] = _norm(dist.metadata["Name"])
    return owners


def distribution_of(module: str) -> str:
    """The installed distribution whose files hold `module` (namespace packages such as
    `azure` are shared by several, so this goes by the module's own file)."""
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin, f"{module} is not installed"
    return _owners()[Path(spec.origin).resolve()]


def _distributions(*roots: str) -> dict[str, set[str]]:
    dists: dict[str, set[str]] = {}
    for module, files in imported_modules(*roots).items():
        dists.setdefault(distribution_of(module), set()).update(files)
    return dists


def test_the_deployed_package_imports_only_runtime_dependencies() -> None:
    runtime, _ = _declared()
    undeclared = {d: sorted(f) for d, f in _distributions(*DEPLOYED).items() if d not in runtime}
    assert not undeclared, (
        f"imported by the deployed package, not in [project.dependencies]: {undeclared}"
    )


def test_the_sandbox_and_benches_import_only_runtime_or_local_dependencies() -> None:
    runtime, extras = _declared()
    allowed = runtime | extras["local"]
    undeclared = {d: sorted(f) for d, f in _distributions(*LOCAL).items() if d not in allowed}
    assert not undeclared, (
        f"imported by sandbox/ or bench/, declared nowhere it ships: {undeclared}"
    )


def test_every_runtime_and_local_dependency_is_imported() -> None:
    runtime, extras = _declared()
    deployed = set(_distributions(*DEPLOYED))
    assert runtime - deployed == NOT_IMPORTED, (
        "runtime dependencies the deployed code never imports"
    )
    local = set(_distributions(*LOCAL)) | deployed
    unused = extras["local"] - local
    assert not unused, f"[local] extra packages nothing in sandbox/ or bench/ imports: {unused}"


@pytest.mark.parametrize(
    ("module", "dist"),
    [
        ("azure.data.tables", "azure-data-tables"),
        ("azure.core.exceptions", "azure-core"),
        ("jwt", "pyjwt"),
        ("yaml", "pyyaml"),
    ],
)
def test_modules_map_to_their_distribution(module: str, dist: str) -> None:
    assert distribution_of(module) == dist
