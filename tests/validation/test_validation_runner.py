"""The validation framework itself: claims, slopes, tables, `fpsolve validate` (fast)."""

import json

import numpy as np
import pytest

from fpsolve.cli import main
from validation import STUDIES, _runner


def test_claims_pass_and_fail():
    assert _runner.close("a", "c", 1.04, 1.0, rtol=0.05).passed
    assert not _runner.close("a", "c", 1.06, 1.0, rtol=0.05).passed
    assert not _runner.close("a", "c", float("nan"), 1.0, atol=1.0).passed
    assert _runner.below("b", "c", 2.0, 3.0).passed and not _runner.below("b", "c", 4.0, 3.0).passed
    assert _runner.above("b", "c", 4.0, 3.0).passed and not _runner.above("b", "c", 2.0, 3.0).passed


def test_fit_slope_recovers_a_power_law():
    x = np.array([1e-7, 3e-7, 1e-6])
    slope, se = _runner.fit_slope(x, 5.0 * x**3 * (1 + np.array([0.01, -0.01, 0.0])))
    assert slope == pytest.approx(3.0, abs=0.02) and se < 0.02


def test_arrays_carry_metadata(tmp_path):
    meta = _runner.metadata("demo_study", {"eta": 1e-7}, seed=3)
    path = _runner.save_arrays(tmp_path, "r", {"x": np.arange(3)}, meta)
    with np.load(path) as f:
        stored = json.loads(str(f["metadata"]))
        assert stored["seed"] == 3 and stored["settings"] == {"eta": 1e-7} and "fpsolve_version" in stored
        np.testing.assert_array_equal(f["x"], [0, 1, 2])


def test_missing_study_is_reported_not_skipped(tmp_path):
    result = _runner.run_one("no_such_study", True, tmp_path)
    assert not result.passed and "not in this checkout" in result.error
    assert "FAIL" in _runner.summary_table([result])


def test_validate_lists_and_rejects_unknown(capsys):
    assert main(["validate", "--list"]) == 0
    assert capsys.readouterr().out.split() == list(STUDIES)
    with pytest.raises(SystemExit):
        main(["validate", "nope"])
    assert "unknown study 'nope'; valid studies: adhikari2023_regression_wr" in capsys.readouterr().err
