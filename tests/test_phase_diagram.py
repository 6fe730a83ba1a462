"""fp.plot.phase_diagram: axes, log scales, colour-bar label with units, failed points hatched."""

from __future__ import annotations

import numpy as np
import pytest

import fpsolve as fp

pytest.importorskip("xarray")
pytest.importorskip("zarr")


@pytest.fixture(scope="module")
def ds():
    axes = {"learning_rate": list(np.logspace(-4, -1.5, 6)), "temperature": [0.5, 1.0, 2.0]}
    return fp.sweep(
        fp.diagrams.gaussian_mean, axes, executor="serial", errors="record", progress=False
    )


def hatched(ax):
    return [p for p in ax.patches if p.get_hatch()]


def test_log_axes_units_and_hatched_failures(ds):
    import matplotlib.pyplot as plt

    fig = fp.plot.phase_diagram(ds, "sgld_variance_error")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"  # 2.5 decades of learning rate
    assert ax.get_yscale() == "linear"  # 0.5 .. 2: under a decade
    assert fig.axes[1].get_ylabel() == "SGLD relative variance error V H / T − 1 [1]"
    assert (
        ds.attrs["n_failed"] == 3 and len(hatched(ax)) == 3
    )  # ηH > 2 at the largest learning rate
    assert ax.get_xlabel() == "learning_rate" and ax.get_ylabel() == "temperature"
    plt.close(fig)


def test_axes_can_be_swapped_and_log_forced(ds):
    import matplotlib.pyplot as plt

    fig = fp.plot.phase_diagram(
        ds, "sgworld_kl", x="temperature", y="learning_rate", log=("temperature",), contours=None
    )
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "linear"
    plt.close(fig)


def test_string_coordinates_are_categories():
    import matplotlib.pyplot as plt

    def value(a: float, scheme: str) -> dict:
        return {"v": a * len(scheme)}

    ds = fp.sweep(
        value,
        {"a": [1.0, 2.0, 3.0], "scheme": ["iid", "without_replacement"]},
        executor="serial",
        progress=False,
    )
    fig = fp.plot.phase_diagram(ds, "v")
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["iid", "without_replacement"]
    plt.close(fig)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"var": "nope"}, "var must be a variable of the dataset; got 'nope'"),
        (
            {"var": "sgld_kl", "x": "batch_size"},
            "x must be a dimension of 'sgld_kl'; got 'batch_size'",
        ),
        ({"var": "sgld_kl", "x": "temperature", "y": "temperature"}, "x and y must differ"),
        ({"var": "sgld_kl", "log_color": True}, "log_color needs positive values"),
    ],
)
def test_bad_arguments(ds, kwargs, match):
    if kwargs.get("log_color"):
        ds = ds.copy()
        ds["sgld_kl"] = ds.sgld_kl - 1.0
    with pytest.raises(ValueError, match=match):
        fp.plot.phase_diagram(ds, **kwargs)
