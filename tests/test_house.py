"""The house's rules, read from the code: layers that import one way, interfaces over the public API only, small
modules and functions, and an architecture document that names every module there is."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import lstmtext

PACKAGE = Path(lstmtext.__file__).parent
ROOT = PACKAGE.parent
MODULES = sorted(PACKAGE.rglob("*.py"))
BENCH = sorted((ROOT / "bench").glob("*.py"))
MAX_MODULE_LINES = 270  # 300 is the rule; the rest is room to grow without packing lines
# What an interface may import from the library: the public API (the package's own names) and the option types.
PUBLIC = {"lstmtext", "lstmtext.options", "lstmtext.errors"}
INTERFACES = ("cli", "server", "lsp")
STARTED_BY_THE_CLI = {"lstmtext.server", "lstmtext.lsp.server"}  # `lstmtext serve` and `lstmtext lsp`


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) for every import in `path`, at any depth, with relative imports resolved."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[:len(package.split(".")) - node.level + 1] if node.level else []
            target = ".".join([*base, *([node.module] if node.module else [])])
            found.append((target, [alias.name for alias in node.names]))
    return found


def library_edges(paths: list[Path] = MODULES, package: str = "lstmtext") -> dict[str, set[str]]:
    """Module → the modules of `package` it imports (a `from package import module` counts as the module)."""
    known = {module_name(path) for path in paths}
    edges: dict[str, set[str]] = {}
    for path in paths:
        targets = set()
        for target, names in imports(path):
            if not target.startswith(package):
                continue
            submodules = {f"{target}.{name}" for name in names} & known
            targets |= submodules or {target}
        edges[module_name(path)] = targets - {module_name(path)}
    return edges


@pytest.mark.parametrize("paths, package", [(MODULES, "lstmtext"), (BENCH, "bench")], ids=["lstmtext", "bench"])
def test_no_module_imports_itself_back(paths, package):
    edges = library_edges(paths, package)
    state: dict[str, str] = {}

    def visit(module: str, trail: list[str]) -> None:
        state[module] = "open"
        for target in sorted(edges.get(module, ())):
            assert state.get(target) != "open", " → ".join([*trail, module, target])
            if target not in state:
                visit(target, [*trail, module])
        state[module] = "done"

    for module in sorted(edges):
        if module not in state:
            visit(module, [])


@pytest.mark.parametrize("interface", INTERFACES)
def test_interfaces_use_only_the_public_api_and_the_option_types(interface):
    for path in sorted((PACKAGE / interface).rglob("*.py")):
        for target, names in imports(path):
            if not target.startswith("lstmtext") or target.startswith(f"lstmtext.{interface}"):
                continue
            allowed = PUBLIC | (STARTED_BY_THE_CLI if interface == "cli" else set())
            assert target in allowed, f"{path.name} imports {target}"
            if target == "lstmtext":
                assert set(names) <= set(lstmtext.__all__), f"{path.name} imports {names} from lstmtext"


def test_the_core_and_the_options_know_nothing_of_the_layers_above():
    edges = library_edges()
    above = ("lstmtext.training", "lstmtext.decoding", "lstmtext.lab", "lstmtext.cli", "lstmtext.server",
             "lstmtext.lsp", "lstmtext.api", "lstmtext.trainer", "lstmtext.engine")
    for module, targets in edges.items():
        if module.startswith(("lstmtext.core", "lstmtext.options")):
            assert not [t for t in targets if t.startswith(above)], module


def test_every_public_name_is_where_the_package_says():
    for name in lstmtext.__all__:
        assert getattr(lstmtext, name) is not None


def test_what_type_checkers_see_is_what_the_package_hands_out():
    """The TYPE_CHECKING block of the face names each public name's home, as `_HOMES` does at run time."""
    seen = {}
    for target, names in imports(PACKAGE / "__init__.py"):
        if target not in ("typing", "lstmtext.version"):
            seen.update({name: target.removeprefix("lstmtext.") for name in names})
    assert seen == lstmtext._HOME_OF


def test_the_version_is_written_once():
    from importlib.metadata import version

    assert version("lstmtext") == lstmtext.__version__
    assert "version =" not in (ROOT / "pyproject.toml").read_text().split("[project]")[1].split("[")[0]


@pytest.mark.parametrize("path", MODULES + BENCH, ids=lambda path: str(path.relative_to(ROOT)))
def test_modules_and_functions_stay_small(path):
    """No module over MAX_MODULE_LINES; no function body over 50 (a Typer command's option list is its
    signature)."""
    text = path.read_text()
    assert text.count("\n") <= MAX_MODULE_LINES
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            assert node.end_lineno - node.body[0].lineno + 1 <= 50, node.name


def test_the_architecture_document_names_every_module_and_only_modules_there_are():
    document = (ROOT / "docs" / "architecture.md").read_text()
    named = {name for name in re.findall(r"`((?:[a-z_]+/)*[a-z_]+\.py)`", document)
             if not name.startswith(("tests/", "bench/"))}
    modules = {str(path.relative_to(PACKAGE)) for path in MODULES if path.name != "__init__.py"}
    assert named - modules == set(), "named in docs/architecture.md but not in lstmtext/"
    assert modules - named == set(), "in lstmtext/ but not named in docs/architecture.md"
