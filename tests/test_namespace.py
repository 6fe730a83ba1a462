"""The public namespace: one table (the ``.pyi`` stubs), every listed name importable, nothing
private leaking, and ``import fpsolve`` loading no heavy dependency."""

from __future__ import annotations

import ast
import importlib
import pathlib
import subprocess
import sys

import pytest

import fpsolve as fp

PACKAGES = ["fpsolve", "fpsolve.solve", "fpsolve.landscape"]


def _stub_names(package: str) -> set[str]:
    module = importlib.import_module(package)
    stub = pathlib.Path(module.__file__).with_suffix(".pyi")
    names = set()
    for node in ast.parse(stub.read_text()).body:
        if isinstance(node, ast.ImportFrom):
            names.update(alias.asname or alias.name for alias in node.names)
    return names


@pytest.mark.parametrize("package", PACKAGES)
def test_every_stub_name_resolves_and_is_all(package):
    module = importlib.import_module(package)
    names = _stub_names(package)
    assert set(module.__all__) == names
    assert set(dir(module)) >= names
    for name in names:
        assert getattr(module, name) is not None, name


def test_no_helpers_in_the_top_level_namespace():
    leaked = {"annotations", "TYPE_CHECKING", "attach", "np", "dataclass", "_lazy"} & set(dir(fp))
    assert not leaked, leaked
    assert not {"np", "dataclass", "field"} & set(dir(fp.models))


def test_no_helpers_in_the_simulate_namespace():
    """``fpsolve.simulate`` re-exports its engines and nothing else (as ``fpsolve`` does)."""
    leaked = {n for n in dir(fp.simulate) if not n.startswith("_")} - set(fp.simulate.__all__) \
        - {"langevin", "sgd", "trajectory"}  # the submodules, which a package always exposes
    assert not leaked, leaked


def test_import_loads_neither_numba_nor_scipy():
    code = "import sys, fpsolve; fpsolve.Grid; print('numba' in sys.modules, 'scipy' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]


def test_landscape_repr_is_a_summary():
    x, y, _ = fp.datasets.load_adhikari2023()
    text = repr(fp.Landscape(fp.models.TanhNet(hidden=2), x, y, noise_std=0.1))
    assert text.count("\n") == 0 and len(text) < 200
    assert "(200, 1)" in text and "200 targets" in text
