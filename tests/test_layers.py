"""The layers below the UI never import Textual: the API client, the unlock
engine, the emulator and the settings run headless and in tests without it."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import tui

ROOT = Path(tui.__file__).parent
HEADLESS = ["tui.api", "tui.unlock", "tui.emulator", "tui.settings"]
FORBIDDEN = "textual"


def modules_of(package: str) -> list[str]:
    directory = ROOT.joinpath(*package.split(".")[1:])
    names = [package]
    for path in sorted(directory.rglob("*.py")):
        relative = path.relative_to(ROOT.parent).with_suffix("")
        if relative.name != "__init__":
            names.append(".".join(relative.parts))
    return names


def source_of(module: str) -> Path | None:
    path = ROOT.parent.joinpath(*module.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imports_of(path: Path, module: str) -> set[str]:
    """Every module name an `import` or `from ... import` in `path` names."""
    tree = ast.parse(path.read_text("utf-8"), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")
                parent = parent[: len(parent) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def test_every_headless_package_is_found() -> None:
    for package in HEADLESS:
        modules = modules_of(package)
        assert len(modules) > 1, package
        assert all(source_of(m) is not None for m in modules)


@pytest.mark.parametrize("package", HEADLESS)
def test_no_textual_import_in_the_sources(package: str) -> None:
    """AST scan of the package and of every tui module it reaches, transitively."""
    todo = modules_of(package)
    seen: set[str] = set()
    offenders: list[str] = []
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        path = source_of(module)
        if path is None:
            continue  # a name imported from a module, not a module itself
        for name in imports_of(path, module):
            top = name.split(".")[0]
            if top == FORBIDDEN:
                offenders.append(f"{module} imports {name}")
            elif top == "tui":
                todo.append(name)
    assert not offenders, offenders


def test_the_scan_finds_textual_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import os\nfrom textual.app import App\nif True:\n    import textual.widgets as w\n"
        "from . import sibling\nfrom ..api import client\n"
    )
    found = imports_of(sample, "tui.unlock.sample")
    assert {"textual.app", "textual.widgets", "tui.unlock.sibling", "tui.api.client"} <= found


IMPORT_EACH = """
import importlib, json, sys
for name in json.loads(sys.argv[1]):
    importlib.import_module(name)
    if any(m == "textual" or m.startswith("textual.") for m in sys.modules):
        print(json.dumps({"culprit": name}))
        break
else:
    print(json.dumps({"culprit": None}))
"""


@pytest.mark.parametrize("package", HEADLESS)
def test_importing_each_module_loads_no_textual(package: str) -> None:
    """Each module imported in a fresh interpreter, one by one, checking sys.modules."""
    modules = modules_of(package)
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_EACH, json.dumps(modules)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT.parent,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"culprit": None}


def test_the_import_check_finds_textual() -> None:
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_EACH, json.dumps(["json", "tui.api", "textual.app"])],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert json.loads(result.stdout) == {"culprit": "textual.app"}
