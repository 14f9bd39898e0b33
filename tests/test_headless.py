"""The headless core never imports textual or rich, and product code never imports the simulator."""

from __future__ import annotations

import ast
import subprocess

import pytest

from tests.conftest import PYTHON, REPO

PACKAGE = REPO / "stonks_tui"
UI_DIRS = {"screens", "widgets", "sim"}
UI_MODULES = {"stonks_tui.app"}


def headless_modules() -> list[str]:
    mods = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(REPO).with_suffix("")
        if UI_DIRS & set(rel.parts) or path.name == "__main__.py":
            continue
        name = ".".join(rel.parts).removesuffix(".__init__")
        if name not in UI_MODULES:
            mods.append(name)
    return mods


@pytest.mark.parametrize("module", headless_modules())
def test_headless_module_does_not_import_textual(module: str) -> None:
    code = f"import sys, {module}; bad = [m for m in ('textual', 'rich') if m in sys.modules]; print(bad)"
    r = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]", f"{module} pulled in {r.stdout.strip()}"


def test_product_code_never_imports_sim() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if "sim" in path.relative_to(PACKAGE).parts:
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.startswith("stonks_tui.sim")]
    # --demo's module is the one sanctioned door into the simulator.
    assert [o for o in offenders if not o.startswith("demo.py")] == []
