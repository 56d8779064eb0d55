"""The study plan: runs and their checkpoint schedules, layer names, model shapes, every results path,
the default targets, resource estimates, which runs/layers/steps the figures show, and which analyses the
config can decide (``decidability``), and the scheduler workaround (``scheduler``).

Light imports only (standard library and numpy): the .smk files import this subpackage when Snakemake
parses the workflow, before any job runs.
"""
from toposcale._exports import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "study": ["BYTE_VOCAB", "RunSpec", "bootstrap_steps", "checkpoint_steps", "layer_names", "run_map",
              "run_checkpoint_steps", "study_runs", "vocab_size"],
    "sizing": ["Shape", "build_shape", "mlp_hidden", "non_embedding_params", "swiglu_hidden", "total_params"],
    "paths": ["STEP_DIGITS", "StudyPaths", "step_name", "wildcard_constraints"],
    "targets": ["ANALYSIS_FIGURES", "ANALYSIS_TABLES", "EXTERNAL_TABLES", "PRETRAINED_FIGURES", "STUDY_FIGURES",
                "analysis_tables", "default_targets", "external_log_inputs", "external_targets", "grokking_runs",
                "grokking_targets", "pretrained_targets", "resolve_external_logs", "study_paths"],
    "resources": ["grokking_measure_runtime", "grokking_seconds", "grokking_train_runtime", "pretrained_resamples",
                  "train_mem_mb", "train_runtime"],
    "figures": ["choose_steps", "default_layers", "default_runs", "layer_order", "layer_roles", "layers_for_source",
                "middle_layer", "pick_run"],
    "decidability": ["CANNOT_DECIDE", "MIN_FORECAST_SIZES", "MIN_RESIDUAL_DOF", "MIN_SEEDS", "SIZE_FIT_PARAMS",
                     "count_gate", "fit_gate", "load_study_config", "plan"],
    "scheduler": ["cancel_reevaluation_timers"],
})
