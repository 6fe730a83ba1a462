"""Where the k = 20 fluctuation-theorem departure of the digits check comes from.

    python validation/digits_ft/departure.py [--quick] [--out DIR]

For each learning rate η the same SGD run as ``run.py`` (projected on the top-20 Hessian
eigenvectors), and for each k and window three numbers:

* ``hessian``: ⟨e^{−Δs}⟩ measured with the Hessian-based chain ``J = I − ηΛ_k``, ``Σ = 2ηD_k``
  (what ``run.py`` reports);
* ``gauss_pred``: the same average predicted for a *Gaussian* process with the second moments
  SGD actually has (its measured mean and lag covariances ``C_0 … C_w``): ``Δs = zᵀMz`` over
  the window ``z``, so ``⟨e^{−Δs}⟩ = det(I + 2ΓM)^{−½} e^{…}`` in closed form.  If it matches
  the measured value, the departure is explained by the model's wrong second moments alone
  (not by non-Gaussian noise);
* ``fitted``: ⟨e^{−Δs}⟩ with the chain fitted to the trajectory itself
  (:meth:`fpsolve.thermo.LinearChain.fit` on half the chains, evaluated on the other half, so
  the fit does not see the samples it is tested on).

Writes ``departure_<name>.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from settings import DEPARTURE, DEPARTURE_QUICK  # noqa: E402


def lag_covariances(records: np.ndarray, mean: np.ndarray, max_lag: int) -> list[np.ndarray]:
    """``C_l = ⟨(δ_{n+l} − μ)(δ_n − μ)ᵀ⟩`` over chains and times, ``l = 0 … max_lag``."""
    x = records - mean
    n = x.shape[1]
    out = []
    for lag in range(max_lag + 1):
        a, b = x[:, lag:].reshape(-1, x.shape[2]), x[:, :n - lag].reshape(-1, x.shape[2])
        out.append(a.T @ b / a.shape[0])
    return out


def gaussian_prediction(chain, lags: list[np.ndarray], shift: np.ndarray, window: int) -> float:
    """``⟨e^{−zᵀMz}⟩`` over a Gaussian path ``z`` with mean ``shift`` (per point) and lag
    covariances ``lags``: ``det(I + 2ΓM)^{−½} exp(−mᵀ(M − 2MΓ'M)m)`` with ``Γ' = (Γ⁻¹ + 2M)⁻¹``."""
    M, _ = chain._quadratic_form(window)
    d = chain.ndim
    n = (window + 1) * d
    gamma = np.zeros((n, n))
    for a in range(window + 1):
        for b in range(a + 1):
            gamma[a * d:(a + 1) * d, b * d:(b + 1) * d] = lags[a - b]
            gamma[b * d:(b + 1) * d, a * d:(a + 1) * d] = lags[a - b].T
    m = np.tile(shift, window + 1)
    A = np.eye(n) + 2.0 * gamma @ M
    sign, logdet = np.linalg.slogdet(A)
    # mean term: ∫ N(z; m, Γ) e^{−zᵀMz} = det(A)^{−½} exp(−mᵀ M m + 2 mᵀ M Γ' M m), Γ' = A⁻¹ Γ
    gp = np.linalg.solve(A, gamma)
    quad = float(m @ M @ m - 2.0 * m @ M @ gp @ M @ m)
    return float(np.exp(-0.5 * logdet - quad)) if sign > 0 else float("inf")


def analyse_eta(model, x, y, w_min, H, S1, lam, V, settings, eta, echo=print) -> dict:
    import fpsolve as fp
    from fpsolve.thermo import LinearChain

    N, b = x.shape[0], settings["batch_size"]
    k_factor = (N - b) / (b * (N - 1))
    D = 0.5 * eta * k_factor * S1
    k_max = max(settings["ks"])
    n_steps = settings["n_steps"]
    burn_in = int(settings["burn_in_relaxations"] / (eta * lam[k_max - 1]))
    t0 = time.perf_counter()
    records = model.sgd(x, y, w_min, eta, b, n_steps + burn_in, n_chains=settings["n_chains"],
                        burn_in=burn_in, center=w_min, basis=V[:, :k_max].T, rng=settings["seed"])
    t_sgd = time.perf_counter() - t0
    half = settings["n_chains"] // 2
    out = {"eta": eta, "eta_lambda_max": float(eta * lam[0]), "n_steps": n_steps, "burn_in": burn_in,
           "sgd_seconds": t_sgd, "per_k": {}}
    Vk_all = V[:, :k_max]
    full_state = fp.linearized(Vk_all.T @ H @ Vk_all, Vk_all.T @ D @ Vk_all, learning_rate=eta)
    for k in settings["ks"]:
        proj = np.ascontiguousarray(records[:, :, :k])
        state = fp.thermo.projected_state(full_state, np.eye(k_max)[:, :k])
        hess_chain = LinearChain.from_state(state)
        fitted = LinearChain.fit(proj[:half])
        test = proj[half:]
        mu = test.reshape(-1, k).mean(axis=0)
        lags = lag_covariances(test, mu, max(settings["windows"]))
        row = {"mean_shift_over_std": float(np.linalg.norm(mu / np.sqrt(np.diag(lags[0])))),
               "covariance_ratio_top": float(lags[0][0, 0] / hess_chain.covariance[0, 0]),
               "hessian_per_step": hess_chain.entropy_production_per_step,
               "fitted_per_step": fitted.entropy_production_per_step, "windows": {}}
        for window in settings["windows"]:
            entry = {}
            for name, chain in (("hessian", hess_chain), ("fitted", fitted)):
                ds = fp.thermo.entropy_production(test, chain, window=window, dt=eta)
                mean, err = ds.mean()
                ift = fp.thermo.integral_ft(ds)
                dft = fp.thermo.detailed_ft(ds)
                entry[name] = {"mean_per_step": mean / window, "mean_error": err / window,
                               "ift": ift.value, "ift_error": ift.standard_error,
                               "dft_slope": dft.slope, "dft_slope_error": dft.slope_error,
                               "gauss_pred": gaussian_prediction(chain, lags, mu - chain.mean, window)}
            row["windows"][str(window)] = entry
        out["per_k"][str(k)] = row
        h1, f1 = row["windows"]["1"]["hessian"], row["windows"]["1"]["fitted"]
        echo(f"η={eta} k={k}: 1-step IFT hessian {h1['ift']:.5f} ± {h1['ift_error']:.1g} "
             f"(Gaussian prediction {h1['gauss_pred']:.5f}), fitted {f1['ift']:.5f} ± {f1['ift_error']:.1g} "
             f"(pred {f1['gauss_pred']:.5f}); Δs/step hessian {h1['mean_per_step']:.4g} vs {row['hessian_per_step']:.4g}, "
             f"fitted {f1['mean_per_step']:.4g} vs {row['fitted_per_step']:.4g}")
    return out


def run(settings: dict, echo=print) -> dict:
    import fpsolve as fp
    from fpsolve.landscape.models import SoftmaxRegression

    model = SoftmaxRegression(64, 10, settings["weight_decay"])
    x, y = model.digits()
    w_min = model.minimize(x, y)
    H = model.hessian(w_min, x, y)
    S1 = model.gradient_covariance(w_min, x, y)
    lam, V = np.linalg.eigh(H)
    lam, V = lam[::-1], V[:, ::-1]
    t0 = time.perf_counter()
    results = {"settings": settings, "version": fp.__version__, "per_eta": []}
    for eta in settings["etas"]:
        results["per_eta"].append(analyse_eta(model, x, y, w_min, H, S1, lam, V, settings, eta, echo))
    results["seconds"] = time.perf_counter() - t0
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="reduced sizes")
    parser.add_argument("--out", type=Path, default=HERE / "output")
    args = parser.parse_args()
    settings = DEPARTURE_QUICK if args.quick else DEPARTURE
    results = run(settings)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"departure_{settings['name']}.json"
    path.write_text(json.dumps(results, indent=1, default=float))
    print(f"wrote {path} ({results['seconds']:.1f} s)")


if __name__ == "__main__":
    main()
