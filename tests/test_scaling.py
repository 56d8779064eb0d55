"""Scaling-law fits: parameter recovery, start-grid behaviour, clear errors, activation verdicts and
the grid analysis on synthetic run.json / log.csv / metrics tables."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from toposcale.analysis import scaling as S
from toposcale.stats import percentile_ci

# Chinchilla's published fit (Hoffmann et al. 2022), used as a known truth.
CHIN = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}
SMALL_CHIN = S.start_grid("chinchilla", n_exponent=2, n_offset=2, n_coef=2)   # 32 starts (default 4500)
SMALL_COMPUTE = S.start_grid("compute", n_exponent=3, n_offset=3, n_coef=4)   # 36 starts (default 150)
GRID = {"chinchilla": SMALL_CHIN, "compute": SMALL_COMPUTE}
SIZES5 = [25_000, 56_000, 99_000, 198_000, 444_000]


def compute_law(C, E, A, alpha):
    return E + A * np.asarray(C, float) ** (-alpha)


def chinchilla_data(noise=0.005, seed=0):
    rng = np.random.default_rng(seed)
    N = np.repeat(np.geomspace(1e7, 1e9, 5), 4)
    D = np.tile(np.geomspace(1e9, 1e11, 4), 5)
    L = S.predict({"law": "chinchilla", "params": CHIN}, N=N, D=D) * np.exp(rng.normal(0, noise, N.size))
    return N, D, L


def synthetic_grid(laws, sizes=SIZES5, holdout=(444_000,), noise=0.003, seed=0, metrics=True):
    """run.json dicts, log.csv frames and a metrics table for a grid with known laws.

    ``laws``: activation -> (E, A, alpha) of L(C); tokens/param fixed at 20. Metrics: per layer
    ``h0_total_persistence = 3 N^0.3`` with Gaussian null mean ``N^0.3`` (each times 5% noise), so its
    trend is explained by its null; ``mean_pairwise_distance`` independent of N, with no null columns.
    """
    rng = np.random.default_rng(seed)
    runs, logs, rows = [], {}, []
    for act, (E, A, alpha) in laws.items():
        for N in sizes:
            D = 20 * N
            C = 6.0 * N * D
            name = f"{act}-n{N}-s0"
            steps = np.array([0, 100, 1000, 2000])
            tokens = steps * D // 2000
            val = np.minimum(math.log(256), compute_law(6.0 * N * np.maximum(tokens, 1), E, A, alpha))
            val[-1] = compute_law(C, E, A, alpha) * math.exp(rng.normal(0, noise))
            logs[name] = pd.DataFrame({"step": steps, "tokens": tokens, "train_loss": val, "val_loss": val,
                                       "lr": 1e-3, "tokens_per_s": 1e4, "elapsed_s": steps / 100})
            # run.json's final_val_loss deliberately differs: the log's last val_loss must win
            runs.append({"name": name, "activation": act, "size": f"n{N}", "seed": 0, "n_nonembed": N,
                         "tokens_seen": D, "flops": C, "tokens_per_param": 20.0, "holdout": N in holdout,
                         "final_val_loss": 99.0})
            for step in (0, 2000):
                for src in ("weights", "activations"):
                    for layer in ("embed", "block00", "final"):
                        rows.append({"run": name, "activation": act, "n_nonembed": N, "step": step,
                                     "source": src, "layer": layer,
                                     "h0_total_persistence": 3.0 * N ** 0.3 * math.exp(rng.normal(0, 0.05)),
                                     "h0_total_persistence_null_mean": N ** 0.3 * math.exp(rng.normal(0, 0.05)),
                                     "h0_total_persistence_null_sd": 0.1,
                                     "mean_pairwise_distance": 2.0 * math.exp(rng.normal(0, 0.05)),
                                     "h1_n_bars": 0.0})
    return runs, logs, (pd.DataFrame(rows) if metrics else None)


# ------------------------------------------------------------------------------------------------
# fits
# ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def chin_fit():
    N, D, L = chinchilla_data()
    fit = S.fit_chinchilla(N, D, L, grid=SMALL_CHIN)
    return fit, S.bootstrap_fit(fit, n_bootstrap=100, seed=1, n_refit_starts=0)


def test_chinchilla_recovers_known_law_within_cis(chin_fit):
    fit, boot = chin_fit
    assert fit["converged"] and fit["n_converged"] > 0
    for k, true in CHIN.items():
        lo, hi = boot["ci"][k]
        assert lo <= true <= hi, (k, true, lo, hi)
        assert lo < hi
    assert abs(fit["params"]["alpha"] - CHIN["alpha"]) < 0.05
    assert abs(fit["params"]["E"] - CHIN["E"]) < 0.1
    # the objective is the summed Huber loss of the log residuals at the reported parameters
    r = np.log(fit["data"]["L"]) - np.log(S.predict(fit, N=fit["data"]["N"], D=fit["data"]["D"]))
    assert fit["objective"] == pytest.approx(float(np.sum(S.huber(r, 1e-3))), rel=1e-9)


def test_compute_optimal_allocation_matches_brute_force(chin_fit):
    fit, boot = chin_fit
    p = fit["params"]
    C = 1e21
    opt = S.compute_optimal(p, C)
    assert 6 * opt["N_opt"] * opt["D_opt"] == pytest.approx(C, rel=1e-9)
    N = np.geomspace(opt["N_opt"] / 5, opt["N_opt"] * 5, 4001)
    Lg = S.predict(fit, N=N, D=C / (6 * N))
    assert N[np.argmin(Lg)] == pytest.approx(opt["N_opt"], rel=0.01)
    assert opt["a"] + opt["b"] == pytest.approx(1.0)
    # the compute at which the frontier reaches a loss inverts loss_at_compute
    L0 = float(S.loss_at_compute("chinchilla", p, 1e22))
    assert S.compute_for_loss("chinchilla", p, L0) == pytest.approx(1e22, rel=1e-6)
    assert math.isinf(S.compute_for_loss("chinchilla", p, p["E"] * 0.99))


def test_start_far_from_truth_still_converges():
    C = np.geomspace(1e10, 1e14, 8)
    L = compute_law(C, 1.5, 300.0, 0.22)                  # truth: a = 5.70, e = 0.405, alpha = 0.22
    far = S.fit_compute_law(C, L, grid={"a": [25.0], "e": [-1.0], "alpha": [1.0]})
    assert far["n_starts"] == 1 and far["converged"]
    assert far["params"]["alpha"] == pytest.approx(0.22, rel=1e-4)
    assert far["params"]["E"] == pytest.approx(1.5, rel=1e-4)
    # a start where A C^-alpha is ~e^-30 of the loss has no gradient: it stays where it began ...
    dead = S.fit_compute_law(C, L, grid={"a": [25.0], "e": [-1.0], "alpha": [2.0]})
    assert dead["params"]["alpha"] == pytest.approx(2.0, abs=1e-3)
    # ... and the grid that contains both starts keeps the right one
    both = S.fit_compute_law(C, L, grid={"a": [25.0], "e": [-1.0], "alpha": [2.0, 1.0]})
    assert both["params"]["alpha"] == pytest.approx(0.22, rel=1e-4) and both["n_starts"] == 2


def test_grid_of_starts_matters():
    """A single poor start lands in a worse local optimum than the grid's best: the grid is what
    finds the global fit."""
    N, D, L = chinchilla_data(noise=0.0)
    grid_fit = S.fit_chinchilla(N, D, L, grid=SMALL_CHIN)
    results = [S.fit_chinchilla(N, D, L, grid={k: [v] for k, v in zip(("a", "b", "e", "alpha", "beta"), s)})
               for s in ([0, 0, 1, 0, 0], [25, 25, -1, 2, 2], [0, 25, 1, 0, 2])]
    worst = max(r["objective"] for r in results)
    assert grid_fit["objective"] <= min(r["objective"] for r in results) + 1e-15
    assert worst > 100 * grid_fit["objective"] + 1e-9
    assert grid_fit["params"]["alpha"] == pytest.approx(CHIN["alpha"], rel=1e-3)


def test_power_law_recovers_exponent():
    rng = np.random.default_rng(3)
    C = np.geomspace(1e12, 1e16, 12)
    L = 40.0 * C ** -0.07 * np.exp(rng.normal(0, 0.01, C.size))
    fit = S.fit_power_law(C, L)
    boot = S.bootstrap_fit(fit, n_bootstrap=200, seed=0)
    lo, hi = boot["ci"]["alpha"]
    assert lo <= 0.07 <= hi
    assert fit["params"]["alpha"] == pytest.approx(0.07, abs=0.01)
    assert fit["r2"] > 0.9
    assert float(S.predict(fit, C=[1e14])[0]) == pytest.approx(40.0 * 1e14 ** -0.07, rel=0.05)


def test_prediction_interval_covers_new_points():
    rng = np.random.default_rng(5)
    C = np.geomspace(1e10, 1e13, 10)
    L = compute_law(C, 1.4, 200.0, 0.2) * np.exp(rng.normal(0, 0.01, C.size))
    fit = S.fit_compute_law(C, L, grid=SMALL_COMPUTE)
    boot = S.bootstrap_fit(fit, n_bootstrap=100, seed=0)
    newC = np.array([2e13, 5e13])
    pi = S.prediction_interval(fit, boot, C=newC)
    truth = compute_law(newC, 1.4, 200.0, 0.2)
    for t, lo, hi, mlo, mhi in zip(truth, pi["lo"], pi["hi"], pi["mean_lo"], pi["mean_hi"]):
        assert lo <= t <= hi
        assert mlo < mhi and (hi - lo) > (mhi - mlo)   # residual noise widens the band into a PI
    assert np.allclose(pi["predicted"], S.predict(fit, C=newC))


# ------------------------------------------------------------------------------------------------
# any table, and errors
# ------------------------------------------------------------------------------------------------

def test_fit_table_picks_the_law():
    N, D, L = chinchilla_data()
    two = S.fit_table(pd.DataFrame({"N": N, "D": D, "loss": L}), grid=SMALL_CHIN, n_bootstrap=30)
    assert two["law"] == "chinchilla" and "compute_optimal" in two
    N = np.geomspace(1e6, 1e8, 6)
    fixed = S.fit_table(pd.DataFrame({"n": N, "d": 20 * N, "Loss": compute_law(120 * N * N, 1.5, 500, 0.2)}),
                        grid=SMALL_COMPUTE, n_bootstrap=30)
    assert fixed["law"] == "compute" and any("6 N D" in n for n in fixed["notes"])
    assert fixed["params"]["alpha"] == pytest.approx(0.2, rel=1e-3)
    fixed_n = S.fit_table(pd.DataFrame({"N": [1e6] * 6, "D": N, "loss": compute_law(6e6 * N, 1.5, 500, 0.2)}),
                          grid=SMALL_COMPUTE, n_bootstrap=30)
    assert fixed_n["law"] == "compute" and any("'N' is constant" in n for n in fixed_n["notes"])
    c = S.fit_table(pd.DataFrame({"C": 120 * N * N, "loss": compute_law(120 * N * N, 1.5, 500, 0.2)}),
                    grid=SMALL_COMPUTE, n_bootstrap=30)
    assert c["law"] == "compute" and c["power_law"]["params"]["alpha"] > 0


@pytest.mark.parametrize("df, match", [
    (pd.DataFrame({"N": [1e6, 2e6, 4e6], "D": [1e7, 3e7, 5e7], "loss": [3, 2.8, 2.6]}), "needs at least 6"),
    (pd.DataFrame({"C": [1e12, 2e12, 4e12], "loss": [3, 2.8, 2.6]}), "needs at least 4"),
    (pd.DataFrame({"C": [1e12, 2e12, -4e12, 8e12, 1e13], "loss": [3, 2.8, 2.6, 2.5, 2.4]}),
     r"column 'C' must be positive .*rows \[2\]"),
    (pd.DataFrame({"C": [1e12, 2e12, 4e12, 8e12, 1e13], "loss": [3, np.nan, 2.6, 2.5, 2.4]}),
     r"column 'loss' has missing .*rows \[1\]"),
    (pd.DataFrame({"C": [1e12, 2e12, 4e12, 8e12, 1e13], "loss": [3, 2.8, 0.0, 2.5, 2.4]}),
     r"column 'loss' must be positive"),
    (pd.DataFrame({"params": [1, 2], "loss": [3, 2]}), r"\(N, D, loss\) or \(C, loss\)"),
])
def test_degenerate_tables_raise_clear_errors(df, match):
    with pytest.raises(ValueError, match=match):
        S.fit_table(df, n_bootstrap=10)


def test_chinchilla_rejects_collinear_inputs():
    N = np.geomspace(1e6, 1e8, 8)
    with pytest.raises(ValueError, match="collinear"):
        S.fit_chinchilla(N, 20 * N, np.linspace(3, 2, 8))
    with pytest.raises(ValueError, match="column 'D' has NaN .*rows \\[3\\]"):
        S.fit_chinchilla(N, np.where(np.arange(8) == 3, np.nan, 20 * N), np.linspace(3, 2, 8))
    with pytest.raises(ValueError, match="grid for the 'compute' law lacks"):
        S.fit_compute_law(N, np.linspace(3, 2, 8), grid={"a": [1.0]})


# ------------------------------------------------------------------------------------------------
# the trained grid
# ------------------------------------------------------------------------------------------------

DEFAULT_LAWS = {"gelu": (1.5, 680.0, 0.25), "swiglu": (1.5, 560.0, 0.25)}


@pytest.fixture(scope="module")
def default_study():
    """The default study's shape: 5 sizes x 2 activations, the largest held out."""
    runs, logs, metrics = synthetic_grid(DEFAULT_LAWS)
    return logs, S.analyse_grid(runs, logs, metrics, n_bootstrap=60, seed=0, grid=GRID)


def test_analyse_grid_default_study_shape(default_study):
    """Fits, holdout predictions, topology vs size, strict JSON and the flat table."""
    laws = DEFAULT_LAWS
    logs, res = default_study
    json.dumps(res, allow_nan=False)                       # strictly JSON-serialisable
    for act, (E, A, alpha) in laws.items():
        a = res["activations"][act]
        assert a["law"] == "compute" and a["n_fit"] == 4 and len(a["holdout"]) == 1
        assert any("4 runs for 3 parameters" in n for n in a["notes"])
        h = a["holdout"][0]
        observed = logs[h["run"]]["val_loss"].iloc[-1]       # the log wins over run.json's 99.0
        assert h["observed"] == pytest.approx(observed)
        assert abs(h["rel_error_pct"]) < 2.0
        assert h["rel_error_pct"] == pytest.approx(100 * (h["predicted"] - observed) / observed)
        assert h["pi_lo"] < h["predicted"] < h["pi_hi"]
        assert abs(h["power_law_rel_error_pct"]) > abs(h["rel_error_pct"])  # the offset matters
        curve = a["curves"][0]
        assert len(curve["C"]) == len(curve["lo"]) == len(curve["hi"])
    topo = {(t["source"], t["metric"], t["group"]): t for t in res["topology"]}
    planted = topo[("weights", "h0_total_persistence", "all")]
    assert planted["gamma_ci"][0] <= 0.3 <= planted["gamma_ci"][1]
    assert planted["spearman_rho"] > 0.9 and planted["spearman_p"] < 0.01
    per_act = topo[("activations", "h0_total_persistence", "gelu")]
    assert per_act["spearman_p"] == pytest.approx(2 / 120)   # exact permutation p for n = 5, rho = 1
    assert planted["gamma_adj_ci"][0] <= 0 <= planted["gamma_adj_ci"][1]
    assert planted["verdict"] == "explained by its null" and planted["n_degenerate"] == 0
    null = topo[("activations", "mean_pairwise_distance", "all")]
    assert null["gamma_ci"][0] <= 0 <= null["gamma_ci"][1] and null["spearman_p"] > 0.05
    assert null["verdict"] == "geometric baseline: no null"
    zero = topo[("weights", "h1_n_bars", "all")]
    assert zero["gamma"] is None and "<= 0" in zero["note"]
    # 4 fitted sizes for 3 parameters: one residual dof, so no comparison verdict, only "cannot decide"
    for a in res["activations"].values():
        assert a["fit"]["decidable"] is False and a["fit"]["residual_dof"] == 1
        assert a["holdout"][0]["decidable"] is False
    c = res["comparisons"][0]
    assert c["kind"] == "cannot decide" and c["decidable"] is False
    assert res["verdict"] == ("swiglu vs gelu: cannot decide: need >= 6 sizes fitted per activation (the compute "
                              "law has 3 parameters; >= 3 residual dof); gelu has 4 sizes, swiglu has 4 sizes.")
    assert "exponent shift" not in res["verdict"] and "offset" not in res["verdict"]
    from toposcale.report.plots.scaling import _decidability_note, _loss_title

    note = _decidability_note(res)             # the figure's panel text instead of a verdict
    assert note.startswith("gelu: cannot decide: need >= 6 sizes") and res["verdict"] in note
    assert "cannot decide" not in _loss_title(res)
    # a refused law's holdout error is quoted as description, never as the figure's headline result
    assert "law refused (see below); descriptive holdout error" in _loss_title(res)
    table = pd.DataFrame(res["table"])
    assert list(table.columns) == list(S.TABLE_COLUMNS)
    assert set(table["section"]) == {"fit", "power_law", "holdout", "comparison", "topology"}
    fits = table[table["section"].isin(["fit", "holdout", "comparison"])]
    assert not fits["decidable"].any() and fits["needs"].str.contains("cannot decide: need >= 6 sizes").all()
    assert set(table.loc[table["section"] == "comparison", "verdict"]) == {"cannot decide"}
    assert len(table[table["section"] == "holdout"]) == 2
    adj = table[(table["quantity"] == "gamma_adj") & (table["subject"] == "weights/h0_total_persistence")
                & (table["activation"] == "all")]
    assert adj["verdict"].tolist() == ["explained by its null"]
    assert adj["estimate"].iloc[0] == pytest.approx(planted["gamma_adj"])


@pytest.fixture(scope="module")
def verdicts():
    """Activation verdicts on 8-size grids: a planted exponent shift, and an offset only."""
    sizes = [int(s) for s in np.geomspace(2e4, 2e6, 8)]
    shift = synthetic_grid({"gelu": (1.5, 680.0, 0.25), "swiglu": (1.5, 2600.0, 0.32)}, sizes=sizes,
                           holdout=(), noise=0.002, metrics=False)
    offset = synthetic_grid({"gelu": (1.5, 680.0, 0.25), "swiglu": (1.5, 500.0, 0.25)}, sizes=sizes,
                            holdout=(), noise=0.002, metrics=False)
    return [S.analyse_grid(r, l, None, n_bootstrap=100, seed=0, grid=GRID)["comparisons"][0]
            for r, l, _ in (shift, offset)]


def test_verdict_detects_planted_exponent_shift(verdicts):
    c = verdicts[0]
    assert c["decidable"] and c["paired"]
    assert c["kind"] == "exponent shift" and "exponent shift" in c["verdict"]
    lo, hi = c["exponents"]["alpha"]["ci"]
    assert 0 < lo <= 0.07 <= hi
    assert c["baseline"] == "gelu" and c["other"] == "swiglu"


def test_verdict_offset_only_without_shift(verdicts):
    c = verdicts[1]
    assert c["kind"] == "offset only" and "exponent shift" not in c["verdict"]
    lo, hi = c["exponents"]["alpha"]["ci"]
    assert lo <= 0 <= hi
    true_mult = (680.0 / 500.0) ** (1 / 0.25)               # C_gelu / C_swiglu at equal loss
    mlo, mhi = c["compute_multiplier_ci"]
    assert 1 < mlo <= true_mult <= mhi
    assert c["compute_multiplier"] == pytest.approx(true_mult, rel=0.25)


def _shared_perturbation_grid(sd=0.03, sizes=8, seed=5):
    """Identical laws for both activations, each size's final loss times one shared factor exp(N(0, sd))
    (the same corpus, seed and budget at a size), plus 0.1% independent noise."""
    sz = [int(s) for s in np.geomspace(2e4, 2e6, sizes)]
    runs, logs, _ = synthetic_grid({"gelu": (1.5, 680.0, 0.25), "swiglu": (1.5, 680.0, 0.25)}, sizes=sz,
                                   holdout=(), noise=0.001, seed=seed, metrics=False)
    shared = dict(zip(sz, np.exp(np.random.default_rng(seed + 1).normal(0, sd, len(sz)))))
    for r in runs:
        r["target_params"] = r["n_nonembed"]
        logs[r["name"]].loc[logs[r["name"]].index[-1], "val_loss"] *= shared[r["n_nonembed"]]
    return runs, logs


def test_compare_activations_resamples_sizes_paired():
    """Both activations' bootstrap draws take the same sizes; with a shared per-size perturbation the
    paired interval of the exponent difference is much narrower than independent draws give."""
    runs, logs = _shared_perturbation_grid()
    B = 120
    res = S.analyse_grid(runs, logs, None, n_bootstrap=B, seed=0, grid=GRID)
    c = res["comparisons"][0]
    assert c["paired"] and c["decidable"] and c["kind"] == "not distinguishable"
    w_paired = np.subtract(*c["exponents"]["alpha"]["ci"][::-1])
    # the same fits bootstrapped independently (row bootstrap, different seeds)
    df = S.grid_table(runs, logs)
    samples = []
    for act, seed in (("gelu", 1), ("swiglu", 2)):
        g = df[df["activation"] == act]
        fit = S.fit_compute_law(g["C"], g["loss"], grid=SMALL_COMPUTE)
        samples.append(S.bootstrap_fit(fit, n_bootstrap=B, seed=seed)["samples"]["alpha"])
    lo, hi = percentile_ci(samples[1] - samples[0])
    assert w_paired < 0.5 * (hi - lo), (w_paired, hi - lo)
    # the draws: identical drawn sizes, every run of a drawn size taken
    from toposcale.analysis.scaling.bootstrap import size_draws

    sizes = {a: df[df["activation"] == a]["target"].to_numpy() for a in ("gelu", "swiglu")}
    d = size_draws(sizes, {"gelu": 3, "swiglu": 3}, 20, seed=0)
    for b in range(20):
        got = {a: sorted(sizes[a][d["rows"][a][b]]) for a in sizes}
        assert got["gelu"] == got["swiglu"] == sorted(d["draws"][b])


def test_compare_activations_refuses_unpaired_draws():
    runs, logs = _shared_perturbation_grid(sizes=6)
    df = S.grid_table(runs, logs)
    acts = {}
    for act, seed in (("gelu", 1), ("swiglu", 2)):
        g = df[df["activation"] == act]
        fit = S.fit_compute_law(g["C"], g["loss"], grid=SMALL_COMPUTE)
        acts[act] = {"_fit": fit, "_boot": S.bootstrap_fit(fit, n_bootstrap=10, seed=seed),
                     "gate": {"decidable": True}}
    with pytest.raises(ValueError, match="not bootstrapped on the same size draws"):
        S.compare_activations("gelu", acts["gelu"], "swiglu", acts["swiglu"])


def test_identical_activations_not_distinguishable():
    sizes = [int(s) for s in np.geomspace(2e4, 2e6, 6)]
    runs, logs, _ = synthetic_grid({"gelu": (1.5, 680.0, 0.25), "swiglu": (1.5, 680.0, 0.25)}, sizes=sizes,
                                   holdout=(), noise=0.003, seed=2, metrics=False)
    c = S.analyse_grid(runs, logs, None, n_bootstrap=60, seed=0, grid=GRID)["comparisons"][0]
    assert c["kind"] == "not distinguishable"
    assert "not distinguishable" in c["verdict"] and "exponent shift" not in c["verdict"]


def test_analyse_grid_with_varying_tokens_per_param_fits_two_variable_law():
    rng = np.random.default_rng(0)
    runs = []
    for N in np.geomspace(1e6, 1e8, 4):
        for tpp in (5, 20, 80):
            D = tpp * N
            L = float(S.predict({"law": "chinchilla", "params": CHIN}, N=N, D=D))
            runs.append({"name": f"gelu-{N:.0f}-t{tpp}", "activation": "gelu", "n_nonembed": N,
                         "tokens_seen": D, "tokens_per_param": tpp, "holdout": False,
                         "final_val_loss": L * math.exp(rng.normal(0, 0.003))})
    res = S.analyse_grid(runs, None, None, n_bootstrap=30, seed=0, grid=GRID)
    a = res["activations"]["gelu"]
    assert a["law"] == "chinchilla" and len(a["curves"]) == 3
    assert a["fit"]["params"]["alpha"] == pytest.approx(CHIN["alpha"], abs=0.05)
    assert "compute_optimal" in a
    assert res["comparisons"] == [] and "no activation comparison" in res["verdict"]


def test_analyse_grid_too_few_runs_degrades_with_notes():
    runs, logs, _ = synthetic_grid({"gelu": (1.5, 680.0, 0.25)}, sizes=[25_000, 99_000, 444_000],
                                   holdout=(444_000,), metrics=False)
    res = S.analyse_grid(runs, logs, None, n_bootstrap=20, seed=0, grid=GRID)
    a = res["activations"]["gelu"]
    assert a["fit"] is None and a["holdout"] == []
    assert any("needs at least 4" in n for n in a["notes"])
    with pytest.raises(ValueError, match="lacks \\['tokens_seen'\\]"):
        S.analyse_grid([{k: v for k, v in runs[0].items() if k != "tokens_seen"}])


def test_write_outputs_and_figures(tmp_path, default_study):
    logs, res = default_study
    S.write_outputs(res, tmp_path / "scaling.json", tmp_path / "scaling.csv")
    back = json.loads((tmp_path / "scaling.json").read_text())
    assert back["verdict"] == res["verdict"]
    table = pd.read_csv(tmp_path / "scaling.csv")
    assert len(table) == len(res["table"])
    from toposcale.report.plots.scaling import plot_loss_vs_compute, plot_topology_vs_size

    plot_loss_vs_compute(back, tmp_path / "loss.png", logs=logs, dpi=60)
    plot_topology_vs_size(back, tmp_path / "topo.png", dpi=60)
    assert (tmp_path / "loss.png").stat().st_size > 10_000
    assert (tmp_path / "topo.png").stat().st_size > 10_000
    assert not list(tmp_path.glob("*.tmp*"))


def test_missing_table_names_the_config_key(tmp_path):
    with pytest.raises(ValueError, match=r"scaling table 'ext' .*does not exist; fix scaling\.tables\[\]\.path"):
        S.fit_tables([{"name": "ext", "path": str(tmp_path / "absent.csv")}], n_bootstrap=5)


def test_interval_keeps_an_infinite_bound_where_interpolation_gives_nan():
    samples = [1.0, 2.0, np.inf, np.inf, np.nan]
    assert percentile_ci(samples, level=0.5) == (1.75, np.inf)
    assert percentile_ci([1.0, 2.0, 3.0, 4.0], level=0.5) == (1.75, 3.25)
    assert all(np.isnan(percentile_ci([np.nan, np.nan])))


def test_loss_figure_takes_its_y_range_from_the_data_and_draws_the_levels(tmp_path, default_study):
    # issue 23: a bootstrap band reaching 30 nats stretched the axis while the data lay in 1.6-3.4
    import copy

    from toposcale.report.plots.scaling import plot_loss_vs_compute

    logs, res = default_study
    res = copy.deepcopy(json.loads(json.dumps(S.jsonable(res))))
    losses = [p["loss"] for a in res["activations"].values() for p in a["points"]]
    for a in res["activations"].values():
        for c in a.get("curves") or []:
            c["hi"] = [30.0 for _ in c["hi"]]
    levels = [{"order": 1, "name": "unigram", "nats": float(np.median(losses))},
              {"order": 5, "name": "5-gram", "nats": min(losses) / 3}]
    out = plot_loss_vs_compute(res, tmp_path / "loss.png", dpi=50, training_curves=False, levels=levels)
    lo, hi = out["ylim"]
    assert lo <= min(losses) and max(losses) <= hi < 1.2 * max(losses)
    assert out["levels"] == ["unigram"]            # the 5-gram level lies below the data: not drawn


def test_size_draws_guard_counts_distinct_sizes_not_runs():
    """Issue 22 point 5: 6 sizes x 2 seeds, a 3-parameter law. A resample of 2 distinct sizes has 4 runs
    (>= 3 parameters) but cannot identify the law, and one of 3 sizes interpolates it exactly; every kept
    resample must have >= p + 1 = 4 distinct sizes, and the redraws are counted. P(>= 4 distinct of 6
    draws from 6) = 0.748, so about 1/0.748 - 1 = 0.34 redraws per resample: 200 resamples give ~67
    (sd ~ 9); the bound 30..110 is > 4 sd either side."""
    from toposcale.analysis.scaling.bootstrap import size_draws

    sizes = np.repeat(np.arange(6) * 10 + 10, 2)
    d = size_draws({"fit": sizes}, {"fit": 3}, 200, seed=0)
    distinct = [len(np.unique(sizes[r])) for r in d["rows"]["fit"]]
    assert min(distinct) >= 4
    assert 30 <= d["n_redrawn"] <= 110
    assert d["min_distinct"] == 4


def test_grid_with_planted_stage_quantisation_is_refused_and_one_stage_is_fitted():
    """Issue 23: final losses quantised by the n-gram staircase (runs ending on different stages, the largest
    mid-drop) must not be extrapolated: every law verdict of the activation says 'cannot decide: runs end
    on different stages (...)'; the same grid on one stage keeps its fit decidable."""
    sizes = [6300, 14000, 25000, 39000, 56000, 76000, 99000]
    runs, logs, _ = synthetic_grid({"gelu": (1.5, 680.0, 0.25), "swiglu": (1.5, 700.0, 0.25)}, sizes=sizes,
                                   holdout=(99000,), metrics=False)
    names = [r["name"] for r in runs]

    def stages(stage_of):
        return pd.DataFrame([{"run": n, "step": 2000, "stage": stage_of(n)[0], "in_drop": stage_of(n)[1]}
                             for n in names])

    quantised = stages(lambda n: (1, False) if "n6300" in n else (3, True) if "n99000" in n else (2, False))
    res = S.analyse_grid(runs, logs, None, n_bootstrap=20, seed=0, grid=GRID, stages=quantised)
    for act in ("gelu", "swiglu"):
        a = res["activations"][act]
        assert not a["stage_gate"]["decidable"]
        assert a["stage_gate"]["message"].startswith("cannot decide: runs end on different stages (unigram: ")
        assert "in drop to 4-gram" in a["stage_gate"]["message"]
    assert res["comparisons"][0]["kind"] == "cannot decide"
    assert "runs end on different stages" in res["comparisons"][0]["verdict"]
    one = S.analyse_grid(runs, logs, None, n_bootstrap=20, seed=0, grid=GRID, stages=stages(lambda n: (2, False)))
    assert one["activations"]["gelu"]["stage_gate"]["decidable"]
    assert one["comparisons"][0]["kind"] != "cannot decide"


def test_overflowed_scale_widens_instead_of_crashing():
    """A bootstrap refit of flat losses can put log A past the float range (seen on a fixed-budget grid
    whose sizes all end on the bigram plateau, benchmarks/scaling_designs.py): the scale becomes inf and its
    prediction an infinite bound, never an OverflowError or a NaN that percentile_ci would drop."""
    from toposcale.analysis.scaling.laws import predict_params, theta_to_params

    p = theta_to_params("compute", np.array([1000.0, 0.8, 80.0]))
    assert math.isinf(p["A"]) and p["E"] == pytest.approx(math.exp(0.8)) and p["alpha"] == 80.0
    pred = predict_params("compute", p, C=np.array([1e11, 1e12]))
    assert np.isinf(pred).all()
    assert percentile_ci(np.r_[np.full(99, 2.3), pred[:1]], level=0.99)[1] > 2.3
    finite = theta_to_params("compute", np.array([2.0, 0.8, 0.3]))
    assert predict_params("compute", finite, C=np.array([1e10]))[0] == pytest.approx(
        math.exp(0.8) + math.exp(2.0) * 1e10 ** -0.3)


def test_loss_figure_without_a_law_shows_the_holdout_and_keeps_its_note_off_the_data(default_study, tmp_path):
    """The smoke study's scaling_loss.png (issue 23): no law fitted, so no band or power law may appear in
    the legend, the held-out run is still drawn (observed), and the red cannot-decide text sits below
    the legend instead of covering the largest runs."""
    import copy

    from toposcale.report.plots.scaling import plot_loss_vs_compute

    logs, res = default_study
    res = copy.deepcopy(json.loads(json.dumps(S.jsonable(res))))
    for a in res["activations"].values():
        a.update(curves=[], holdout=[], fit=None, power_law=None)
        a["gate"] = {"decidable": False, "message": "cannot decide: need >= 6 sizes for 3 parameters"}
    res["comparisons"] = []
    out = plot_loss_vs_compute(res, tmp_path / "loss.png", logs=logs, dpi=50)
    assert "holdout run, observed" in out["legend"]
    assert not any("band" in t or "power law" in t or "predicted" in t for t in out["legend"])
    assert out["note_inside_axes"] is False
    held = [p["loss"] for a in res["activations"].values() for p in a["points"] if p["holdout"]]
    assert held and out["ylim"][0] <= min(held) and max(held) <= out["ylim"][1]
