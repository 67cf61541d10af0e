"""The dashboard uses amff's public API only: `import amff`, then `amff.NAME`.

So amff's internals can move (a module split, a package renamed) without touching app/: only
the names in amff/__init__.py must keep working.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import amff

REPO = Path(__file__).resolve().parent.parent
APP_FILES = sorted((REPO / "app").rglob("*.py"))


def _amff_imports(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, statement) for every import of amff other than a plain `import amff`."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("amff.") or (alias.name == "amff" and alias.asname):
                    found.append((node.lineno, f"import {alias.name}"))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and _is_amff(node.module):
            names = ", ".join(a.name for a in node.names)
            found.append((node.lineno, f"from {node.module} import {names}"))
    return found


def _is_amff(module: str | None) -> bool:
    return module is not None and (module == "amff" or module.startswith("amff."))


def _public_names_used(tree: ast.AST) -> set[str]:
    """NAME for every `amff.NAME` in the code."""
    return {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "amff"
    }


def test_the_app_files_are_found():
    names = {p.relative_to(REPO / "app").as_posix() for p in APP_FILES}
    assert {"streamlit_app.py", "state.py", "panels.py", "views/patient/page.py"} <= names


@pytest.mark.parametrize("path", APP_FILES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_the_app_imports_amff_only_as_a_whole(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    bad = _amff_imports(tree)
    assert not bad, (
        f"{path.relative_to(REPO)} imports amff's internals: "
        + "; ".join(f"line {line}: {text}" for line, text in bad)
        + ". Use `import amff` and amff.NAME (add NAME to amff/__init__.py if it is missing)."
    )


def test_every_amff_name_the_app_uses_is_public():
    used: dict[str, str] = {}
    for path in APP_FILES:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for name in _public_names_used(tree):
            used.setdefault(name, path.relative_to(REPO).as_posix())
    missing = {name: where for name, where in used.items() if name not in amff.__all__}
    assert not missing, f"not in amff.__all__: {missing}"


def test_every_public_name_resolves():
    for name in amff.__all__:
        assert getattr(amff, name) is not None, name


def test_import_amff_stays_light():
    code = (
        "import sys, amff; print(any(m == 'torch' or m.startswith('torch.') for m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert out.stdout.strip() == "False", "import amff must not import torch"
