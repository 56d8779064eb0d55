"""Scaling-law fits with bootstrap intervals, holdout prediction and topology-vs-size fits.

``laws`` (the laws, their log-space Huber fits and prediction), ``bootstrap`` (parameter and
prediction intervals), ``compute`` (compute-optimal allocation, compute at equal loss), ``tables`` (any
table of runs), ``grid`` (the trained grid: per-activation fits and the whole
analysis), ``compare`` (GELU vs SwiGLU: jackknife-t intervals from paired leave-one-size-out refits), ``size`` (topology vs model size, raw and null-adjusted), ``outputs`` (flat table, JSON, reading the inputs),
``holdout`` (the holdout verdict: within 5%, inside its interval, better than the naive prediction), ``stages`` (refuse a law fitted across the n-gram staircase), ``envelope`` (the lower envelope of every
checkpoint's loss against compute, Chinchilla's first approach).
"""
from toposcale._exports import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "laws": ["fit_chinchilla", "fit_compute_law", "fit_power_law", "huber", "law_parameters", "predict",
             "start_grid"],
    "bootstrap": ["CI_LEVEL", "WIDE_CI", "bootstrap_fit", "bootstrap_predictions",
                  "prediction_interval", "size_draws", "wide_exponents"],
    "compute": ["compute_for_loss", "compute_optimal", "loss_at_compute"],
    "tables": ["fit_table", "fit_tables"],
    "compare": ["compare_activations", "leave_one_size_out"],
    "grid": ["analyse_grid", "choose_law", "grid_table"],
    "size": ["BASELINE", "BEYOND", "EXPLAINED", "FEW_SIZES", "MIN_SIZES", "NO_NULL", "NO_TREND", "NULLS",
             "NULL_METRICS", "TOPO_METRICS", "excludes_zero", "size_verdict", "topology_vs_size"],
    "holdout": ["MAX_REL_ERROR_PCT", "holdout_verdict", "naive_prediction"],
    "outputs": ["TABLE_COLUMNS", "flat_table", "jsonable", "read_grid", "write_outputs"],
})
