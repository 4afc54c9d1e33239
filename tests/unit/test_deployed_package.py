"""The deployed package holds only what the product runs: every Python module that ships (the
app folder minus what .funcignore excludes, i.e. function_app.py, shared/ and functions/) is
imported, directly or through other modules, from function_app.py, the Functions entry point.
A module only tests, benches or the sandbox use belongs in tests/support/ or sandbox/.

The import graph is read statically (ast), so no module is executed: `import a.b`, `from a
import b` (b a module or a name), relative imports, and imports inside functions or under
TYPE_CHECKING all count, and importing a module counts its packages' __init__ too."""

from __future__ import annotations

import ast
import fnmatch
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENTRY_POINT = "function_app"
# The library the Functions app is made of (pyproject.toml's wheel ships these packages too).
LIBRARY = ("shared", "functions")


@dataclass(frozen=True)
class IgnoreRule:
    """One line of .funcignore, with the gitignore semantics that file follows."""

    pattern: str
    dir_only: bool
    anchored: bool

    @classmethod
    def parse(cls, line: str) -> IgnoreRule | None:
        line = line.strip()
        if not line or line.startswith("#"):
            return None
        # Negation would need ordered evaluation; refuse it rather than misread the file.
        assert not line.startswith("!"), f".funcignore: negated pattern {line!r} not supported"
        dir_only = line.endswith("/")
        pattern = line.strip("/")
        return cls(pattern, dir_only, anchored="/" in line.rstrip("/"))

    def matches(self, relative: str, is_dir: bool) -> bool:
        if self.dir_only and not is_dir:
            return False
        if self.anchored:
            return fnmatch.fnmatchcase(relative, self.pattern)
        return fnmatch.fnmatchcase(relative.rsplit("/", 1)[-1], self.pattern)


def ignore_rules(root: Path) -> list[IgnoreRule]:
    lines = (root / ".funcignore").read_text().splitlines()
    return [rule for rule in map(IgnoreRule.parse, lines) if rule is not None]


def deployed_modules(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file the deployment ships."""
    rules = ignore_rules(root)

    def ignored(path: Path) -> bool:
        relative = path.relative_to(root).as_posix()
        return any(rule.matches(relative, path.is_dir()) for rule in rules)

    modules: dict[str, Path] = {}
    pending = [root]
    while pending:
        directory = pending.pop()
        for path in sorted(directory.iterdir()):
            if ignored(path) or path.name == "__pycache__":
                continue
            if path.is_dir():
                pending.append(path)
            elif path.suffix == ".py":
                parts = list(path.relative_to(root).with_suffix("").parts)
                if parts[-1] == "__init__":
                    parts.pop()
                modules[".".join(parts)] = path
    return modules


def _with_packages(name: str) -> list[str]:
    """`a.b.c` -> a, a.b, a.b.c: importing a module runs its packages' __init__ first."""
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules in `known` that module `name` (at `path`) imports."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = name if is_package else name.rpartition(".")[0]
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            targets = [module] + [f"{module}.{alias.name}" for alias in node.names]
        for target in targets:
            found.update(m for m in _with_packages(target) if m in known)
    return found


def reachable_from(entry: str, modules: dict[str, Path]) -> set[str]:
    known = set(modules)
    seen = {entry}
    pending = [entry]
    while pending:
        current = pending.pop()
        for imported in imports_of(current, modules[current], known) - seen:
            seen.add(imported)
            pending.append(imported)
    return seen


def unused_modules(root: Path) -> list[str]:
    """Deployed modules the entry point never imports (directly or indirectly)."""
    modules = deployed_modules(root)
    return sorted(set(modules) - reachable_from(ENTRY_POINT, modules))


def test_only_the_app_and_its_library_are_deployed() -> None:
    modules = deployed_modules(ROOT)
    assert ENTRY_POINT in modules
    outside = {m for m in modules if m != ENTRY_POINT and m.split(".")[0] not in LIBRARY}
    assert not outside, f"deployed modules outside {LIBRARY}: {sorted(outside)}"
    assert {"shared.engine.sync_engine", "functions.flow_runs"} <= set(modules)
    assert not any(m.startswith(("tests", "sandbox", "bench")) for m in modules)


def test_the_wheel_ships_the_library_and_the_cli_never_the_tests() -> None:
    """The wheel (pip install .) carries the same library plus the local tooling behind the
    `shuttle` command (sandbox/); tests/support/ never ships."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    included = set(setuptools["packages"]["find"]["include"])
    assert included == {f"{name}*" for name in LIBRARY} | {"sandbox*"}


def test_every_deployed_module_is_imported_by_the_product() -> None:
    unused = unused_modules(ROOT)
    assert not unused, (
        f"deployed but never imported from {ENTRY_POINT}.py: {unused}; a module only tests "
        "(or the sandbox) use belongs in tests/support/ (or sandbox/)"
    )


def _write(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_a_stray_module_is_reported_and_every_import_form_counts(tmp_path: Path) -> None:
    """The checker itself, on a small app: what nothing imports is reported; ignored folders
    and every way of importing are honoured."""
    _write(
        tmp_path,
        {
            ".funcignore": "# local only\ntests\nwip/\n*.egg-info\n",
            "function_app.py": "from functions import a\nimport shared.c.d\n",
            "functions/__init__.py": "",
            "functions/a.py": "def f():\n    from shared import b  # lazy\n",
            "shared/__init__.py": "",
            "shared/b.py": "from .c import e\nfrom . import g\n",
            "shared/c/__init__.py": "",
            "shared/c/d.py": "from ..h import name\n",
            "shared/c/e.py": "",
            "shared/g.py": "",
            "shared/h.py": "name = 1\n",
            "shared/stray.py": "import shared.b\n",  # imports the product; nothing imports it
            "shared/c/only_tests.py": "",
            "tests/test_x.py": "import shared.stray\nimport shared.c.only_tests\n",
            "wip/draft.py": "",
            "shuttle.egg-info/x.py": "",
        },
    )
    modules = deployed_modules(tmp_path)
    assert "tests.test_x" not in modules and "wip.draft" not in modules
    assert unused_modules(tmp_path) == ["shared.c.only_tests", "shared.stray"]
    _write(
        tmp_path, {"functions/a.py": "from shared import b, stray\nimport shared.c.only_tests\n"}
    )
    assert unused_modules(tmp_path) == []
