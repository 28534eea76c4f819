"""The package's shape: core never imports Streamlit, and no module imports another in a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO_ROOT

PACKAGE = REPO_ROOT / "curation_app"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[str, int]]:
    """Every module a file imports, at any depth (a function-local import counts too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, node.lineno))
            # `from curation_app.core import queue` imports the module curation_app.core.queue
            found += [(f"{node.module}.{alias.name}", node.lineno) for alias in node.names]
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {name: {imported for imported, _ in _imports(path) if imported in modules and imported != name}
            for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle through each strongly connected group of modules (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_core_never_imports_streamlit():
    offenders = [f"{path.relative_to(REPO_ROOT)}:{line} imports {name}"
                 for path in sorted((PACKAGE / "core").rglob("*.py"))
                 for name, line in _imports(path) if name == "streamlit" or name.startswith("streamlit.")]
    assert offenders == []


def test_core_never_imports_pages_or_the_command_line():
    offenders = [f"{path.relative_to(REPO_ROOT)}:{line} imports {name}"
                 for path in sorted((PACKAGE / "core").rglob("*.py"))
                 for name, line in _imports(path)
                 if name.startswith(("curation_app.app_pages", "curation_app.cli", "curation_app.app"))]
    assert offenders == []


def test_no_import_cycle_in_the_package():
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_a_streamlit_import_in_a_function_is_seen(tmp_path):
    source = tmp_path / "sneaky.py"
    source.write_text("def page():\n    import streamlit as st\n    from streamlit import session_state\n")
    assert [name for name, _ in _imports(source)] == ["streamlit", "streamlit", "streamlit.session_state"]
