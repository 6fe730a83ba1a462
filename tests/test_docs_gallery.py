"""Every gallery example (examples/plot_*.py) runs to the end, its asserts included.

The documentation build executes them too (sphinx-gallery); this test runs them where the
test suite runs, at the same reduced sizes (each tutorial runs its study's quick variant).
"""

from __future__ import annotations

import pathlib
import runpy
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("plot_*.py"))


@pytest.mark.slow
@pytest.mark.gallery
@pytest.mark.parametrize("script", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_gallery_example_runs(script, tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(ROOT))  # the tutorials import the validation suite
    monkeypatch.setattr(sys, "argv", [str(script)])
    try:
        runpy.run_path(str(script), run_name="__main__")
    finally:
        plt.close("all")


def test_the_gallery_has_the_quickstart_and_one_tutorial_per_study():
    studies = sorted(p.name for p in (ROOT / "validation").iterdir()
                     if p.is_dir() and (p / "__init__.py").exists())
    texts = [p.read_text(encoding="utf-8") for p in EXAMPLES]
    assert (ROOT / "examples" / "plot_quickstart.py") in EXAMPLES
    for study in studies:
        assert any(f'_gallery.run_quick("{study}")' in t for t in texts), study
