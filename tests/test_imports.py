"""What each page imports, in a fresh process: the heavy libraries stay off the paths that
do not need them (torch and torchvision take ~5 s to import on a 2-core machine, and the
first visit after a server start waits for them).
"""

from __future__ import annotations

import pytest

from se_demo.core.config import PROJECT_ROOT
from tests.conftest import heavy_imports


def test_the_results_page_needs_neither_torch_nor_scikit_learn(data_dir):
    # The sidebar checks the checkpoints and the Results page draws from saved results,
    # both with NumPy and safetensors alone.
    assert heavy_imports("app_pages/results.py", str(data_dir)) == set()


@pytest.mark.slow  # a fresh process importing torch: ~5 s on two busy cores
def test_the_app_opens_on_the_lesson_with_torch_alone(data_dir):
    # The lesson runs the SENet on one image (torch), but needs no torchvision or scikit-learn.
    assert heavy_imports("app.py", str(data_dir)) == {"torch"}


@pytest.mark.slow  # a fresh process importing torch
def test_the_draw_page_needs_torch_but_not_torchvision_or_scikit_learn(data_dir):
    assert heavy_imports("app_pages/draw.py", str(data_dir)) == {"torch"}


def _imports_of(path) -> set[str]:
    """The se_demo modules a file imports anywhere in it (function-local imports too)."""
    import ast

    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("se_demo"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("se_demo."))
    return found


def test_se_demo_has_no_import_cycle():
    package = PROJECT_ROOT / "se_demo"
    graph = {
        f"se_demo.{path.relative_to(package).with_suffix('').as_posix().replace('/', '.')}": path
        for path in package.rglob("*.py")
    }
    edges = {
        module: {m for m in _imports_of(path) if m in graph and m != module}
        for module, path in graph.items()
    }
    done: set[str] = set()

    def visit(module: str, stack: list[str]) -> None:
        if module in stack:
            raise AssertionError(
                "import cycle: " + " -> ".join([*stack[stack.index(module) :], module])
            )
        if module in done:
            return
        for imported in sorted(edges[module]):
            visit(imported, [*stack, module])
        done.add(module)

    for module in sorted(edges):
        visit(module, [])
