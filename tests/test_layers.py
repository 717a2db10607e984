"""The layers and who may import whom.

The contracts are in pyproject.toml (import-linter): each layer imports only
the layers below it (the CLI, the commands, the App, screens, widgets, the
core, then the services), and nothing below the UI imports Textual. Here they
are run, shown to catch a violation, and completed: no import cycle anywhere
in `tui`, screens and widgets use nothing of the App but Textual's own API,
and no two modules share a name. The headless layers are also imported one
by one in a fresh interpreter, to see that none loads Textual."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import tui

ROOT = Path(tui.__file__).parent
PYPROJECT = Path(__file__).parents[1] / "pyproject.toml"
"""The contracts' file: the checkout's, wherever `tui` was installed from."""
HEADLESS = ["tui.core", "tui.api", "tui.unlock", "tui.download", "tui.emulator", "tui.settings"]
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


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """import-linter's contracts of pyproject.toml, on the `tui` package under `root`."""
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports_command;"
            " sys.exit(lint_imports_command())",
            "--config",
            str(PYPROJECT),
            "--no-cache",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    )


def test_the_import_contracts_hold() -> None:
    result = lint_imports(ROOT.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line"),
    [
        ("widgets/links_input.py", "import tui.screens.dashboard"),
        ("screens/detail.py", "from tui.app import LinkdeckApp"),
        ("core/item_store.py", "import textual.app"),
        ("unlock/extract.py", "from tui.commands import common"),
    ],
)
def test_the_contracts_catch_a_violation(tmp_path: Path, module: str, line: str) -> None:
    shutil.copytree(ROOT, tmp_path / "tui", ignore=shutil.ignore_patterns("__pycache__"))
    target = tmp_path / "tui" / module
    target.write_text(target.read_text("utf-8") + f"\n{line}  # noqa\n", "utf-8")
    result = lint_imports(tmp_path)
    assert result.returncode != 0, result.stdout
    assert "BROKEN" in result.stdout


def import_graph() -> dict[str, set[str]]:
    """Every tui module and the tui modules it imports (at run time: not those
    imported for type checking only)."""
    import grimp

    graph = grimp.build_graph("tui", exclude_type_checking_imports=True)
    return {
        module: set(graph.find_modules_directly_imported_by(module)) & graph.modules
        for module in graph.modules
    }


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    lowest: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = lowest[module] = len(index)
        stack.append(module)
        for imported in sorted(graph[module]):
            if imported not in index:
                visit(imported)
                lowest[module] = min(lowest[module], lowest[imported])
            elif imported in stack:
                lowest[module] = min(lowest[module], index[imported])
        if lowest[module] == index[module]:
            component = stack[stack.index(module) :]
            del stack[stack.index(module) :]
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def test_no_import_cycle() -> None:
    assert cycles(import_graph()) == []


def test_the_cycle_check_finds_one() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def reaches_up(path: Path) -> set[str]:
    """What `path` takes from above through `self.app` and `self.screen`: the
    names X of every `self.app.X`, `screen.X` of every `self.screen.X`, and
    `self.app`/`self.screen` passed on whole (to getattr, to a variable...),
    which hides what is taken."""
    tree = ast.parse(path.read_text("utf-8"), str(path))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Attribute)
            and node.attr in ("app", "screen")
            and isinstance(node.value, ast.Name)
            and node.value.id == "self"
        ):
            continue
        parent = parents.get(node)
        if isinstance(parent, ast.Attribute):
            found.add(parent.attr if node.attr == "app" else f"screen.{parent.attr}")
        else:
            found.add(f"self.{node.attr} as a whole")
    return found


@pytest.mark.parametrize("folder", ["screens", "widgets"])
def test_screens_and_widgets_do_not_reach_up_into_the_app(folder: str) -> None:
    """What they show comes by injection: of the App they use Textual's API only."""
    from textual.app import App
    from textual.screen import Screen

    textual_api = set(dir(App())) | set(dir(App)) | {f"screen.{name}" for name in dir(Screen())}
    for path in sorted((ROOT / folder).glob("*.py")):
        foreign = reaches_up(path) - textual_api
        assert not foreign, f"{path.name} reaches up: {sorted(foreign)}"
        assert "cast(" not in path.read_text("utf-8"), path.name


def test_the_reach_up_check_finds_them(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "class S:\n    def f(self):\n        self.app.engine.retry(1)\n"
        "        deck = self.app\n        getattr(self.screen, 'session')\n"
        "        self.screen.session.queue('x')\n"
    )
    assert reaches_up(sample) == {
        "engine",
        "self.app as a whole",
        "self.screen as a whole",
        "screen.session",
    }


def test_every_module_name_is_used_once() -> None:
    """One name per job: `hosters` is the widget, not also a command."""
    names: dict[str, list[str]] = {}
    for path in ROOT.rglob("*.py"):
        if "__pycache__" in path.parts or path.name == "__main__.py":
            continue  # `python -m` needs that name
        name = path.parent.name if path.name == "__init__.py" else path.stem
        names.setdefault(name, []).append(str(path.relative_to(ROOT)))
    shared = {name: paths for name, paths in names.items() if len(paths) > 1 and name != "tui"}
    assert not shared, shared
