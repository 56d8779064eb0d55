"""Analyses of the trained grid: dynamics, forecasting, transitions, change points, logistic fits, scaling laws,
n-gram stages, probes of checkpoints (n-gram divergences, induction)."""
from toposcale._exports import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "metrics_table": ["BASELINE_METRICS", "DEFAULT_METRICS", "TOPOLOGICAL_METRICS", "NULL_Z_SUFFIX", "load_metrics",
                      "non_degenerate", "null_z_series"],
    "dynamics": ["VARIANTS", "VERDICTS", "correlate", "null_comparison", "seed_summary"],
    "loss_curve": ["fit_loss_curve", "predict_loss_curve"],
    "forecasting": ["CANNOT_DECIDE_SIZES", "EVALUATIONS", "METHODS", "MIN_SIZES", "PRIMARY_EVALUATION", "folds",
                    "forecast", "ridge_fit_predict"],
    "forecast_summary": ["EVALUATION_WORDS", "evaluations_of", "primary_rows", "summarise_forecasts"],
    "changepoint": ["change_points_batch", "detect_change_points"],
    "change_test": ["COMBINED_METHOD", "METHODS", "change_points"],
    "diminishing_returns": ["diminishing_returns_index"],
    "ar1": ["ar1_from_normals", "ar1_noise"],
    "changepoint_dense": ["change_points_dense", "log_bins"],
    "rebound": ["local_rates", "rebound_batch", "unimodal_rate_fit"],
    "pelt": ["pelt", "robust_sigma"],
    "transitions": ["FAMILY_KEYS", "HEADLINE_SERIES", "detect_transitions", "family_counts", "size_trends", "trajectory"],
    "logistic": ["LogisticFit", "NullFit", "aicc", "analyse_logistic", "bootstrap_logistic", "compare_models",
                 "fit_linear", "fit_logistic", "fit_offset_power_law", "logistic_support"],
    "scaling": ["analyse_grid", "read_grid", "write_outputs"],
    "probes": ["ProbeError", "induction_attention_scores", "induction_loss_drop", "kl_to_tables", "ngram_log_tables",
               "probe_run", "uniform_induction_attention"],
    "stages": ["CROSSING_COLUMNS", "MIN_CHECKPOINTS_IN_DROP", "STAGE_COLUMNS", "coverage_warnings", "run_crossings",
               "run_stages", "smooth_loss", "stage_of", "stages_from_files", "study_stages"],
})
