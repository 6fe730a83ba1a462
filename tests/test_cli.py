import re
import subprocess
import sys

import pytest

import fpsolve as fp
from fpsolve.cli import main


def test_version_and_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"fpsolve {fp.__version__}"
    assert main([]) == 0
    assert "demo" in capsys.readouterr().out


def test_demo_quick_writes_report_and_figures(tmp_path, capsys):
    assert main(["demo", "--quick", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for i in (1, 2, 3, 4, 5):  # a progress line per stage
        assert f"[{i}/5]" in out
    # the linearised story: C_WR ∝ η, C_WOR ∝ η³ (exact power laws up to O(ηH) and Monte Carlo)
    assert "tr C_WR ∝ η^1.00" in out and "tr C_WOR ∝ η^3.0" in out
    # the slice at η = 3e-4 is visibly non-Gaussian, and the walkers of its SDE match the grid
    tv_gauss = float(re.search(r"TV to its Gaussian ([0-9.]+)", out).group(1))
    assert tv_gauss > 0.02 and "within noise" in out
    report = tmp_path / "report.md"
    assert str(report.resolve()) in out
    text = report.read_text()
    assert "## 2. With and without replacement" in text and "## 3. Grid stationary states" in text
    assert "## 4. Fluctuation theorems" in text and "## 5. Phase diagram" in text
    for name in ("phase_diagram.png", "linearised_wr_wor.png", "slice_density_current_eta3e-4.png", "slice_marginals_eta3e-4.png"):
        assert (tmp_path / name).stat().st_size > 10_000 and f"({name})" in text


def test_demo_rejects_bad_cell_count(capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--cells", "15"])
    assert "--cells must be an even number >= 16; got 15" in capsys.readouterr().err


def test_console_script_entry_point():
    result = subprocess.run([sys.executable, "-m", "fpsolve.cli", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and "fpsolve" in result.stdout


def test_import_does_not_load_matplotlib():
    code = "import sys, fpsolve; print('matplotlib' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False"


def test_unknown_attribute_is_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'Gird'"):
        fp.Gird  # noqa: B018
    assert "stationary" in dir(fp)


def test_plots_render(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import numpy as np

    grid = fp.Grid((-4, -4), (4, 4), (32, 32))
    problem = fp.FokkerPlanck(grid, lambda x: -x + np.stack((x[1], -x[0])), 0.5)
    state = fp.stationary(problem)
    fig = state.plot()
    fig.savefig(tmp_path / "density.png")
    run = fp.evolve(problem, state.density, [0.0, 0.5, 1.0], progress=True)
    fig2 = fp.plot.evolution(run, reference=state)
    fig2.savefig(tmp_path / "evolution.png")
    assert (tmp_path / "density.png").stat().st_size > 5000
    assert (tmp_path / "evolution.png").stat().st_size > 5000
    fig3 = run.plot(reference=state, n_snapshots=2)  # Evolution.plot is fp.plot.evolution
    assert len(fig3.axes) == len(fp.plot.evolution(run, reference=state, n_snapshots=2).axes)
    grid1 = fp.Grid(-3, 3, 64)
    fp.stationary(fp.FokkerPlanck(grid1, lambda x: -x, 1.0), check_boundary=False).plot()
