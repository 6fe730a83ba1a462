"""The quick variants of the validation studies, with their key numbers (CI runs them: -m slow)."""

import numpy as np
import pytest

from fpsolve.cli import main

pytestmark = [pytest.mark.validation, pytest.mark.slow]


def _claims(result):
    return {c.name: c for c in result.claims}


def test_sgworld_vs_sgld(tmp_path):
    from validation.sgworld_vs_sgld import run_study

    r = run_study(quick=True, out_dir=tmp_path)
    c = _claims(r)
    assert r.passed, [x for x in r.claims if not x.passed]
    # SGLD's error grows like η, SGWORLD's faster (its O(η²) remainder), and the exact formulas
    # put SGWORLD about M + 1 = 101 times closer as η → 0
    assert c["sgld: slope d log err / d log η"].measured == pytest.approx(1.0, abs=0.15)
    assert 1.2 < c["sgworld: slope d log err / d log η"].measured < 2.0
    assert 80 < c["exact: SGLD/SGWORLD error at ηH=1e-5"].measured <= 101
    assert (tmp_path / "report.md").exists() and (tmp_path / "variance_error.png").stat().st_size > 10_000
    with np.load(tmp_path / "results.npz") as f:
        assert "metadata" in f and f["variance"].shape == (3, 3)


def test_adhikari2023_regression_wor(tmp_path):
    from validation.adhikari2023_regression_wor import run_study

    r = run_study(quick=True, out_dir=tmp_path)
    c = _claims(r)
    assert r.passed, [x for x in r.claims if not x.passed]
    assert c["linearised C_WOR slope"].measured == pytest.approx(3.0, abs=0.05)
    assert c["simulated C_WOR slope"].measured == pytest.approx(3.0, abs=0.3)
    assert c["WOR mean − argmin L_WOR (/ shift)"].measured < 0.25


def test_dln_mode(tmp_path):
    from validation.dln_mode import run_study

    r = run_study(quick=True, out_dir=tmp_path)
    c = _claims(r)
    assert r.passed, [x for x in r.claims if not x.passed]
    assert c["depth 1: grid vs closed form (TV)"].measured < 1e-8
    assert c["σ_ε = 0: max |s − m| at the end"].measured < 1e-8
    # docs/theory.md §5 at depth 2 and 3: one exact SGD step, the preconditioner squared in D
    assert c["depth 3: SGD step Var/(2η) / ((η/2) P² Var r)"].measured < 1e-3


def test_fpsolve_validate_runs_a_study_and_prints_the_table(tmp_path, capsys):
    assert main(["validate", "--quick", "--out", str(tmp_path), "dln_mode"]) == 0
    out = capsys.readouterr().out
    assert "[1/1] dln_mode (quick) ..." in out and "all claims pass" in out
    assert "depth 1: grid vs closed form (TV)" in out
    assert (tmp_path / "dln_mode" / "report.md").exists()


def test_adhikari2023_regression_wr(tmp_path):
    from validation.adhikari2023_regression_wr import run_study

    r = run_study(quick=True, out_dir=tmp_path)
    assert r.passed, [x for x in r.claims if not x.passed]
    with np.load(tmp_path / "results.npz") as f:
        # the exact chain's integral FT is 1 for every window; its mean per step is σ η to O(ηH)
        assert abs(float(f["ift_exact_w3"]) - 1.0) < 1e-9
        assert float(f["chain_per_step"]) == pytest.approx(float(f["sigma_per_step"]), rel=0.05)


def test_grid_vs_sgd(tmp_path):
    from validation.grid_vs_sgd import run_study

    r = run_study(quick=True, out_dir=tmp_path)
    c = _claims(r)
    assert r.passed, [x for x in r.claims if not x.passed]
    # C_WR ∝ η and C_WOR ∝ η³ on the slice's grid states: the ratio falls like η⁻²
    assert c["phase diagram: d log(C_WR/C_WOR)/d log η"].measured == pytest.approx(-2.0, abs=0.3)
    assert (tmp_path / "phase_diagram.png").stat().st_size > 10_000
