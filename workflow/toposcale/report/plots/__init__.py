"""Figures, one module per analysis family. Each public ``plot_*`` function reads analysis tables
(pandas DataFrames or the JSON the analyses write) and saves one PNG; none recomputes homology or trains.

The per-model summary figure of the pretrained comparison is
:func:`toposcale.report.plots.pretrained.plot_summary`; only the study summary figure
(:func:`toposcale.report.plots.summary.plot_summary`) is exported here under that name."""
from toposcale._exports import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "style": ["PALETTE", "ACTIVATION_COLORS", "setup", "save", "fmt_count"],
    "training": ["plot_training_curves", "draw_training_curves", "runs_table", "size_colors", "run_size_colors",
                 "activation_styles"],
    "evolution": ["plot_metric_evolution", "evolution_roles"],
    "diagrams": ["plot_diagrams"],
    "betti": ["plot_betti_curves", "betti_layers"],
    "summary": ["plot_summary", "layer_mean", "final_losses"],
    "scaling": ["plot_loss_vs_compute", "plot_topology_vs_size"],
    "dynamics": ["plot_correlation_heatmap", "plot_forecast", "plot_transitions"],
    "grokking": ["plot_grokking"],
    "pretrained": ["plot_h0_h1", "plot_betti", "plot_expansion"],
    "external": ["plot_external"],
    "probes": ["plot_probes", "read_probes"],
})
