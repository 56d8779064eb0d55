"""Topology: point clouds, Vietoris-Rips persistence, diagram metrics, matched null clouds, cloud hygiene,
per-bar significance, summaries and subsampling."""
from toposcale._exports import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "distances": ["CloudError", "h0_mst", "pairwise_distances", "validate_cloud"],
    "backends": ["available_backends", "cone_radius", "h1_birth_bound", "h1_diagram", "resolve_backend"],
    "homology": ["Diagrams", "rips_persistence", "rips_persistence_from_distances"],
    "cloud_io": ["load_clouds"],
    "diagram_io": ["load_diagrams", "load_null_diagrams", "save_diagrams", "save_null_diagrams"],
    "hygiene": ["cloud_hygiene"],
    "nulls": ["NULL_KINDS", "gaussian_null", "null_clouds", "null_seed", "permutation_null"],
    "significance": ["A_CECH", "A_RIPS", "EULER_GAMMA", "MIN_BARS", "bar_ell", "bar_pvalues", "lgumbel_sf",
                     "n_signal_bars"],
    "metrics": ["BAR_METRICS", "BASELINE_COLUMNS", "METRIC_COLUMNS", "bar_metrics", "betti_curve", "betti_curves",
                "cloud_baselines", "diagram_metrics", "diagram_scale", "neural_persistence"],
    "subsampling": ["bootstrap_cloud", "subsample_indices", "subsample_interval"],
    "persist": ["persist_cloud", "persist_files", "persist_nulls"],
    "summarise": ["NULL_METRICS", "NULL_PREFIX", "bootstrap_checkpoint", "null_columns", "summarise_run"],
    "clouds": ["ExtractionError", "activation_clouds", "extract_run", "pca_project", "weight_clouds", "write_clouds"],
})
