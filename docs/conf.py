"""Sphinx configuration of the fpsolve documentation (build: ``sphinx-build -W --keep-going -n docs docs/_build``)."""

from __future__ import annotations

import pathlib
import sys

import fpsolve

# the gallery's tutorials import the validation suite, which lives in the repository root
# (a source checkout's folder, not part of the installed package)
ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

project = "fpsolve"
author = "the fpsolve developers"
copyright = "2026, the fpsolve developers"
version = release = fpsolve.__version__

extensions = [
    "myst_parser",           # Markdown pages
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.intersphinx",
    "numpydoc",              # numpydoc docstrings
    "sphinx_gallery.gen_gallery",  # the executed examples (see below)
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py", "auto_examples/*.zip"]
templates_path = ["_templates"]
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

autosummary_generate = True
autodoc_typehints = "none"          # numpydoc's Parameters sections carry the types
numpydoc_show_class_members = False
# Parameter types are shown as written (plain text): resolving ``int`` or ``ndarray`` needs the
# Python and NumPy inventories, and this build runs without network (no intersphinx).
numpydoc_xref_param_type = False
nitpicky = True

intersphinx_mapping = {}  # no network here: references to NumPy/SciPy are left as plain text

html_theme = "furo"
html_title = f"fpsolve {release}"

# --- the gallery: examples/plot_*.py, executed at every build -------------------------------
# sphinx-gallery rather than myst-nb: the examples stay plain Python scripts (run by
# tests/test_docs_gallery.py, by hand with ``python examples/plot_x.py``, and diffed and
# reviewed as code, not as notebook JSON), it is the scientific Python stack's standard
# (NumPy, SciPy, matplotlib, scikit-learn), and it makes the thumbnails and the figure pages
# from the figures a script leaves open. Each tutorial runs its study's quick variant, so the
# whole site builds in a few minutes.
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",        # every plot_*.py is executed
    "within_subsection_order": "FileNameSortKey",  # the quickstart first, then the studies
    "download_all_examples": False,
    "reset_modules": ("matplotlib",),
    "capture_repr": (),                   # printed output only
    "abort_on_example_error": True,       # a failing example (an assert) fails the build
    "plot_gallery": "True",
    "write_computation_times": False,     # that page loads scripts from the network
}
