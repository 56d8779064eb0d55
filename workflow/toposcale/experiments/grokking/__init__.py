"""Grokking positive control: modular addition, a one-layer transformer, its progress measures and the detection test."""
from toposcale._exports import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "data": ["make_dataset", "split_pairs"],
    "model": ["GrokTransformer", "build_model"],
    "runs": ["ARMS", "LOG_COLUMNS", "arm_weight_decay", "checkpoint_path", "checkpoint_steps"],
    "training": ["evaluate", "load_checkpoint", "train"],
    "fourier": ["TOP_FREQUENCIES", "fourier_plane", "fourier_power", "fourier_share", "strongest_frequency"],
    "loops": ["CLOUDS", "CLOUD_MEASURES", "cloud_measures", "dominance", "dominance_ratio", "h1_lifetimes",
              "loop_size", "NULL_SUFFIXES", "rms_radius"],
    "measures": ["checkpoint_measures", "measure_run", "point_clouds"],
    "diagrams": ["DIAGRAM_KEYS", "load_run_diagrams", "save_run_diagrams"],
    "analysis": ["ACCURACY", "DETECTION", "DETECTION_METRICS", "GEOMETRIC_FINDING", "UNMATCHED_FINDING", "accuracy_thresholds",
                 "NULL_SUMMARY_COLUMNS", "null_finding", "SUMMARY_COLUMNS", "detection_summary", "grok_labels", "per_seed_auc", "phase_steps",
                 "seed_bootstrap_auc", "seed_timing", "settle_step"],
    "matched": ["MATCHED_COLUMNS", "matched_differences", "matched_pvalue", "matched_test", "stratified_auc"],
    "control": ["GROUND_TRUTH_RULE", "POSITIVE_CONTROL", "control_counts", "control_verdict", "ground_truth",
                "judge", "positive_control"],
})
