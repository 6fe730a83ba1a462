"""Sphinx configuration of the fpsolve documentation (build: ``sphinx-build -W --keep-going -n docs docs/_build``)."""

from __future__ import annotations

import fpsolve

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
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build"]
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
