"""Run the digits fluctuation-theorem check and write ``results_<name>.json`` and ``.npz``.

    python validation/digits_ft/run.py [--quick | --variant {full,quick,eta0.1}] [--out DIR]

Steps: the minimum ``w*`` of softmax regression with weight decay (Newton); ``H`` and ``Σ₁``
there; the linearised with-replacement state in the full 650-dimensional space, from the
continuous Lyapunov equation ``H C + C H = 2D`` (``D = (η/2) k Σ₁``) and from the per-step
discrete one ``C = J C Jᵀ + η² k Σ₁`` (``J = I − ηH``); real minibatch SGD from ``w*``
recorded as its projection on the top-k Hessian eigenvectors; for each k the projected
Gaussian state (``H_k = Λ_k``, ``D_k = V_kᵀ D V_k`` — the eigen-subspace is invariant under the
linear drift, so the projected process is itself Ornstein–Uhlenbeck) and its per-step chain;
``Δs`` of the projected trajectory in both forms, ``σ``, the integral and detailed FTs, and the
stochastic area of the top two directions against ``Q_12``.

A third form, ``fitted``: the chain fitted to the first half of every chain's records
(``LinearChain.fit``) and evaluated on the second half.  The Hessian-based chain describes SGD's
second moments only to O(η) (its stationary mean and covariance are displaced at finite η), and
the Δs of a wrong model need not obey the fluctuation theorems; ``gauss_pred`` is the
⟨e^{−Δs}⟩ a Gaussian process with SGD's measured mean and lag covariances would give, in
closed form (see ``departure.py``).
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from departure import gaussian_prediction, lag_covariances  # noqa: E402
from settings import SETTINGS, parse_variant  # noqa: E402


def run(settings: dict) -> tuple[dict, dict]:
    import scipy.linalg as sla

    import fpsolve as fp
    from fpsolve.landscape.models import SoftmaxRegression
    from fpsolve.thermo import LinearChain

    t0 = time.perf_counter()
    eta, b, seed = settings["learning_rate"], settings["batch_size"], settings["seed"]
    model = SoftmaxRegression(64, 10, settings["weight_decay"])
    x, y = model.digits()
    N, d = x.shape[0], model.n_params
    w_min = model.minimize(x, y)
    H = model.hessian(w_min, x, y)
    S1 = model.gradient_covariance(w_min, x, y)
    k_factor = (N - b) / (b * (N - 1))
    D = 0.5 * eta * k_factor * S1
    lam, V = np.linalg.eigh(H)
    lam, V = lam[::-1], V[:, ::-1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # Σ₁ is singular in d: σ undefined there
        full = fp.linearized(H, D, mean=w_min, learning_rate=eta)
    J = np.eye(d) - eta * H
    C_disc = sla.solve_discrete_lyapunov(J, eta**2 * k_factor * S1)
    rank_S1 = int(np.linalg.matrix_rank(S1))
    k_max = max(settings["ks"])
    records = model.sgd(x, y, w_min, eta, b, settings["n_steps"], n_chains=settings["n_chains"],
                        burn_in=settings["burn_in"], center=w_min, basis=V[:, :k_max].T, rng=seed)
    t_sgd = time.perf_counter() - t0

    results = {"settings": settings, "version": fp.__version__, "n_samples": N, "n_params": d,
               "loss_min": model.loss(w_min, x, y), "hessian_top": lam[:k_max + 1].tolist(),
               "rank_sigma1": rank_S1, "eta_lambda_max": float(eta * lam[0]), "per_k": {}}
    arrays = {"hessian_eigenvalues": lam}
    Pk = V[:, :k_max]
    cov_sgd = np.cov(records.reshape(-1, k_max).T)
    results["covariance_top"] = {
        "continuous": np.diag(Pk.T @ full.covariance @ Pk).tolist(),
        "discrete": np.diag(Pk.T @ C_disc @ Pk).tolist(),
        "sgd": np.diag(cov_sgd).tolist(),
    }
    for k in settings["ks"]:
        proj = np.ascontiguousarray(records[:, :, :k])
        gauss = fp.thermo.projected_state(full, V[:, :k])  # H_k = Λ_k, D_k = V_kᵀ D V_k
        chain = LinearChain.from_state(gauss)  # J = I − η Λ_k, Σ = 2 η D_k
        row = {"sigma": gauss.entropy_production, "sigma_per_step": gauss.entropy_production_per_step,
               "chain_per_step": chain.entropy_production_per_step,
               "chain_ift_exact_1": chain.integral_ft_exact(1), "windows": {}}
        area = fp.thermo.stochastic_area(proj, (0, 1), center=np.zeros(k), dt=eta)
        Q_disc = 0.5 * (np.diag(lam[:k]) @ chain.covariance - chain.covariance @ np.diag(lam[:k]))
        row["area"] = {"value": area.value, "error": area.standard_error,
                       "circulation": float(gauss.circulation[0, 1]),
                       "circulation_discrete": float(Q_disc[0, 1])}
        half = proj.shape[1] // 2
        fitted = LinearChain.fit(proj[:, :half], dt=eta)
        test = proj[:, half:]
        mu = test.reshape(-1, k).mean(axis=0)
        lags = lag_covariances(test, mu, max(settings["windows"]))
        row["fitted_per_step"] = fitted.entropy_production_per_step
        row["mean_shift_over_std"] = float(np.linalg.norm(mu / np.sqrt(np.diag(lags[0]))))
        for window in settings["windows"]:
            entry = {}
            for form, state, data in (("continuous", gauss, proj), ("discrete", chain, proj),
                                      ("fitted", fitted, test)):
                ds = fp.thermo.entropy_production(data, state, window=window, dt=eta)
                mean, err = ds.mean()
                ift = fp.thermo.integral_ft(ds)
                dft = fp.thermo.detailed_ft(ds)
                entry[form] = {"mean": mean, "error": err, "rate": mean / ds.duration,
                               "rate_error": err / ds.duration, "std": float(np.nanstd(ds.total)),
                               "ift": ift.value, "ift_error": ift.standard_error,
                               "ift_converged": ift.converged, "ift_message": ift.message,
                               "ift_effective_samples": ift.effective_samples,
                               "dft_slope": dft.slope, "dft_slope_error": dft.slope_error,
                               "dft_intercept": dft.intercept, "dft_status": dft.status}
                if form != "continuous":
                    entry[form]["gauss_pred"] = gaussian_prediction(state, lags, mu - state.mean, window)
                tag = f"k{k}_w{window}_{form}"
                arrays[f"{tag}_dft_x"] = dft.centres
                arrays[f"{tag}_dft_y"] = dft.log_ratio
                arrays[f"{tag}_dft_err"] = dft.log_ratio_error
                hist, edges = np.histogram(ds.values(), bins=80)
                arrays[f"{tag}_hist"] = hist
                arrays[f"{tag}_edges"] = edges
            row["windows"][str(window)] = entry
        results["per_k"][str(k)] = row
    results["seconds"] = {"minimum_sgd": t_sgd, "total": time.perf_counter() - t0}
    return results, arrays


def main() -> None:
    args = parse_variant(__doc__.splitlines()[0])
    settings = SETTINGS["quick" if args.quick else args.variant]
    results, arrays = run(settings)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"results_{settings['name']}.json").write_text(json.dumps(results, indent=1, default=float))
    np.savez_compressed(args.out / f"results_{settings['name']}.npz", **arrays)
    print(f"wrote {args.out}/results_{settings['name']}.json ({results['seconds']['total']:.1f} s)")


if __name__ == "__main__":
    main()
