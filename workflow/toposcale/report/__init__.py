"""The report: the summary.md text (summary, sections, experiment_sections, keys, text,
variants) and the figures (:mod:`.plots`)."""
from toposcale._exports import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "summary": ["SECTIONS", "AUX_TABLES", "TABLE_KEYS", "build_summary", "write_summary"],
    "keys": ["key_numbers"],
    "sections": ["SECTION_BUILDERS", "scaling_lines", "dynamics_lines", "forecast_lines", "transitions_lines"],
    "experiment_sections": ["grokking_lines", "pretrained_lines"],
    "text": ["MissingColumns", "fmt", "fmt_ci", "fmt_pct", "md_table"],
    "variants": ["DYNAMICS_VARIANTS", "dynamics_variants"],
})
