"""Every Python code block of the README and of docs/*.md runs, page by page, in order, in one
namespace per page: the documentation cannot drift from the code without a test failing."""

from __future__ import annotations

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
HEAVY = {"README.md", "docs/simulate.md", "docs/sweep.md"}  # pages whose examples run for more than ~5 s here
PAGES = ["README.md"] + sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))


def _blocks(page: str) -> list[str]:
    return BLOCK.findall((ROOT / page).read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    "page", [pytest.param(p, marks=pytest.mark.slow) if p in HEAVY else p for p in PAGES]
)
def test_page_examples_run(page, tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    namespace: dict = {"__name__": "__docs__"}
    for i, block in enumerate(_blocks(page)):
        exec(compile(block, f"{page} [block {i + 1}]", "exec"), namespace)


def test_the_pages_have_examples():
    assert len(_blocks("README.md")) >= 4
    assert all(p in PAGES for p in HEAVY)
