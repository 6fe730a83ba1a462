"""What the gallery's tutorials (``examples/plot_validation_*.py``) share: a study's claim and
settings, its quick run, its figures on the page, and its claim table (the page fails to build
if a claim fails).

Each tutorial is the same four sections, one call of this module each, under its own prose: the
pages are parallel on purpose (their words differ, their calls do not).
"""

from __future__ import annotations

import importlib
import tempfile
from dataclasses import asdict, is_dataclass


def _as_dict(settings) -> dict:
    return asdict(settings) if is_dataclass(settings) else dict(settings)


def describe(study: str) -> None:
    """Print the study's claim and its quick settings, with the full-size value where it differs."""
    module = importlib.import_module(f"validation.{study}")
    settings = importlib.import_module(f"validation.{study}.settings")
    full, quick = _as_dict(settings.FULL), _as_dict(settings.QUICK)
    print("claim:", module.CLAIM)
    print("quick variant (full size in brackets):")
    for name, value in quick.items():
        print(f"  {name} = {value!r}" + ("" if full[name] == value else f"   [{full[name]!r}]"))


def run_quick(study: str):
    """Run the quick variant into a fresh temporary folder; the study's ``StudyResult``."""
    module = importlib.import_module(f"validation.{study}")
    out_dir = tempfile.mkdtemp(prefix=f"fpsolve-{study}-")
    result = module.run_study(quick=True, out_dir=out_dir, echo=lambda line: None)
    print(f"{result.seconds:.1f} s of computation; files in {result.out_dir}")
    return result


def show(paths) -> None:
    """One matplotlib figure per saved PNG, at its own size (sphinx-gallery collects them)."""
    import matplotlib.pyplot as plt

    for path in paths:
        image = plt.imread(path)
        fig = plt.figure(figsize=(image.shape[1] / 110, image.shape[0] / 110), dpi=110)
        ax = fig.add_axes((0, 0, 1, 1))
        ax.imshow(image)
        ax.set_axis_off()


def check(result) -> None:
    """Print the claim table and fail if the run failed or a claim did not hold."""
    from ._runner import claims_table

    print(claims_table(result.claims, markdown=False))
    assert result.error is None, result.error
    assert result.passed, [c.name for c in result.claims if not c.passed]
