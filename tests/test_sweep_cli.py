"""``fpsolve sweep CONFIG.toml``: runs the described sweep, writes store and figures, resumes, refuses bad configs."""

from __future__ import annotations

import re

import pytest

from fpsolve.cli import main

xr = pytest.importorskip("xarray")
pytest.importorskip("zarr")

CONFIG = """
function = "gaussian_mean"
executor = "serial"
store = "gm.zarr"
out = "figures"
[axes]
learning_rate = {{ geomspace = [1e-4, 3e-2, 4] }}
temperature = [0.5, 2.0]
[settings]
batch_size = {batch_size}
[plot]
variables = ["sgld_kl"]
"""


def write(tmp_path, text):
    path = tmp_path / "sweep.toml"
    path.write_text(text)
    return path


def test_sweep_command_writes_store_and_figures_and_resumes(tmp_path, capsys):
    config = write(tmp_path, CONFIG.format(batch_size=10))
    assert main(["sweep", str(config)]) == 0
    captured = capsys.readouterr()
    store, figure = tmp_path / "gm.zarr", tmp_path / "figures" / "sgld_kl.png"
    assert f"dataset (zarr store): {store}" in captured.out
    assert f"figure: {figure}" in captured.out and figure.stat().st_size > 10_000
    assert "6 of 8 points done (8 computed now on serial" in captured.err  # ηH = 3 fails twice
    ds = xr.open_zarr(store).load()
    assert ds.sgld_kl.shape == (4, 2)
    assert main(["sweep", str(config)]) == 0
    assert "(0 computed now, 8 from the store)" in capsys.readouterr().err


def test_sweep_command_refuses_a_store_of_other_settings(tmp_path, capsys):
    assert main(["sweep", str(write(tmp_path, CONFIG.format(batch_size=10)))]) == 0
    with pytest.raises(SystemExit):
        main(["sweep", str(write(tmp_path, CONFIG.format(batch_size=20)))])
    assert "belongs to a different sweep; settings: store has" in capsys.readouterr().err


@pytest.mark.parametrize(
    "text, match",
    [
        ('function = "nope"\n[axes]\na = [1]\n', "function must be a built-in diagram"),
        ('function = "math:nope"\n[axes]\na = [1]\n', "could not be loaded: AttributeError"),
        ('function = "gaussian_mean"\ncolour = 1\n[axes]\na = [1]\n', r"unknown keys \['colour'\]"),
        ('function = "gaussian_mean"\n', r"needs an \[axes\] table"),
        (
            'function = "gaussian_mean"\n[axes]\nlearning_rate = {logspace = [1, 2, 3]}\n',
            "must be a list or one of",
        ),
        (
            'function = "gaussian_mean"\n[axes]\nlearning_rate = {geomspace = [0, 2, 3]}\n',
            "positive start and stop",
        ),
        ("function = = 1", "is not valid TOML"),
    ],
)
def test_bad_configs_are_refused(tmp_path, capsys, text, match):
    with pytest.raises(SystemExit):
        main(["sweep", str(write(tmp_path, text))])

    assert re.search(match, capsys.readouterr().err)
