"""Load `function_app.app` and index its functions the way the Python worker does."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from azure.functions.decorators.function_app import Function, FunctionRegister

from sandbox.host.errors import HostError

log = logging.getLogger("shuttle.host")

APP_MODULE = "function_app"
SUPPORTED_TRIGGERS = ("httpTrigger", "timerTrigger", "queueTrigger")


class AppLoadError(HostError):
    """The app could not be imported or indexed; the message says what to fix."""


@dataclass(frozen=True)
class FunctionSpec:
    """One registered function, reduced to what the local host drives."""

    name: str
    handler: Callable[..., Any]
    trigger: dict[str, Any]
    # Output bindings other than the HTTP response (e.g. queue outputs): name -> binding.
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    wants_context: bool = False
    directory: Path = Path()

    @property
    def trigger_type(self) -> str:
        return str(self.trigger["type"])

    @property
    def arg_name(self) -> str:
        return str(self.trigger["name"])


def _ensure_on_path(directory: Path) -> None:
    text = str(directory)
    if text not in sys.path:
        sys.path.insert(0, text)


def import_preloads(modules: Sequence[str], app_dir: Path) -> list[ModuleType]:
    """Import modules before the app (tests use this to patch in faults)."""
    _ensure_on_path(app_dir)
    loaded = []
    for name in modules:
        try:
            loaded.append(importlib.import_module(name))
        except Exception as exc:
            raise AppLoadError(f"--preload {name}: import failed: {exc!r}") from exc
    return loaded


def import_app_module(app_dir: Path) -> ModuleType:
    path = (app_dir / f"{APP_MODULE}.py").resolve()
    if not path.is_file():
        raise AppLoadError(f"no {APP_MODULE}.py in {app_dir}")
    _ensure_on_path(app_dir)
    existing = sys.modules.get(APP_MODULE)
    if existing is not None and Path(getattr(existing, "__file__", "") or "").resolve() == path:
        return existing
    # Load by path: another `function_app` (e.g. the repo root's) may be importable first.
    spec = importlib.util.spec_from_file_location(APP_MODULE, path)
    if spec is None or spec.loader is None:
        raise AppLoadError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[APP_MODULE] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(APP_MODULE, None)
        raise AppLoadError(f"importing {path} failed: {exc!r}") from exc
    return module


def find_app(module: ModuleType) -> FunctionRegister:
    app = getattr(module, "app", None)
    if isinstance(app, FunctionRegister):
        return app
    # The worker accepts any single FunctionApp in the module; so do we.
    apps = [v for v in vars(module).values() if isinstance(v, FunctionRegister)]
    if len(apps) != 1:
        raise AppLoadError(
            f"{module.__file__}: expected `app = func.FunctionApp(...)`, found {len(apps)} apps"
        )
    return apps[0]


def _get_functions(app: FunctionRegister) -> list[Function]:
    """`app.get_functions()`, callable more than once per process.

    azure-functions records the names it has seen on the app and raises "does not have a
    unique function name" on a second call (the worker indexes once per process). Tests may
    index the same app again, so the record is cleared and the call retried once; real
    duplicates still fail the retry.
    """
    try:
        return app.get_functions()
    except Exception as exc:  # the library validates names, bindings and routes here
        repeat = "unique function name" in str(exc) and getattr(app, "functions_bindings", None)
        if not repeat:
            raise AppLoadError(f"indexing the app failed: {exc}") from exc
    app.functions_bindings = {}
    try:
        return app.get_functions()
    except Exception as exc:
        raise AppLoadError(f"indexing the app failed: {exc}") from exc


def index_functions(app: FunctionRegister, app_dir: Path) -> list[FunctionSpec]:
    """Every registered function with its trigger and outputs. Functions whose trigger or
    bindings this host cannot drive are reported and skipped rather than half-served."""
    specs: list[FunctionSpec] = []
    for function in _get_functions(app):
        name = function.get_function_name()
        bindings: list[dict[str, Any]] = json.loads(function.get_function_json())["bindings"]
        triggers = [b for b in bindings if str(b.get("type", "")).endswith("Trigger")]
        if len(triggers) != 1:
            raise AppLoadError(f"function '{name}' has {len(triggers)} triggers; it needs one")
        trigger = triggers[0]
        if trigger["type"] not in SUPPORTED_TRIGGERS:
            log.warning(
                "function '%s': %s is not supported by the local host; skipped",
                name,
                trigger["type"],
            )
            continue
        outputs: dict[str, dict[str, Any]] = {}
        unsupported = []
        for binding in bindings:
            if binding is trigger:
                continue
            if binding.get("type") == "http" and trigger["type"] == "httpTrigger":
                continue  # the HTTP response ($return)
            if binding.get("type") == "queue" and str(binding.get("direction")).upper() == "OUT":
                outputs[str(binding["name"])] = binding
                continue
            unsupported.append(f"{binding.get('type')} ({binding.get('direction')})")
        if unsupported:
            log.warning(
                "function '%s': bindings %s are not supported by the local host; skipped",
                name,
                ", ".join(unsupported),
            )
            continue
        handler = function.get_user_function()
        try:
            parameters = inspect.signature(handler).parameters
        except (TypeError, ValueError):
            parameters = {}  # type: ignore[assignment]
        specs.append(
            FunctionSpec(
                name=name,
                handler=handler,
                trigger=trigger,
                outputs=outputs,
                wants_context="context" in parameters,
                directory=app_dir,
            )
        )
    return specs


def load_functions(app_dir: Path, preload: Sequence[str] = ()) -> list[FunctionSpec]:
    import_preloads(preload, app_dir)
    module = import_app_module(app_dir)
    return index_functions(find_app(module), app_dir)
