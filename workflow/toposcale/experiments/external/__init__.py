"""External training logs: ingestion, transition detection and falsification tests of "beta" claims.

The "beta-trajectory" schema
----------------------------
A published, explicitly *synthetic* dataset of LLM training runs has the columns ``run_id,
model_family, architecture, n_params_millions, dataset, training_step, loss, capability_score,
R_proxy, Theta_proxy, beta_estimate, beta_uncertainty, field_type, grokking_detected, notes``. Its
authors claim that a logistic steepness ``beta`` (their column ``beta_estimate``)

1. climbs a *ladder*: successive plateaus differ by the ratio ``Phi**(1/3) = 1.1740``;
2. *spikes* while ``grokking_detected`` is true;
3. converges to the *fixpoint* ``Phi**3 = 4.2361``  (``Phi = (1 + sqrt 5) / 2``).

This module makes such claims testable on any log in that schema, on our own
``results/runs/{run}/log.csv`` files, or on any table given a column mapping.

Ingestion (:func:`load_log`)
----------------------------
Columns are renamed to our names, types are checked and every problem is written to an issue table;
nothing is dropped silently (the rules are in :mod:`toposcale.experiments.external.ingest`).

Analyses (:func:`analyse_log`)
------------------------------
All of them place rows on a ``log10(step)`` axis, so step-0 rows are left out of them (they stay in
the tables).

* Logistic fits of capability and loss against ``log10(step)`` per run, and of final capability
  against ``log10(parameters)`` across runs, each compared with power-law and linear nulls by AICc:
  see :mod:`toposcale.analysis.logistic`.
* Transitions in loss and capability: :func:`toposcale.analysis.changepoint.detect_change_points` on each
  run's series against ``log10(step)``, matched to the log's grokking windows within a tolerance in
  decades of step (:func:`match_transitions`: precision and recall, per run and pooled).
* Plateaus of ``beta_estimate`` per run (:func:`plateaus`): piecewise-linear PELT segmentation of
  ``ln(beta)`` (shared :func:`toposcale.analysis.pelt.pelt`), rows inside grokking windows excluded
  because the claims treat the spike separately; a plateau's beta is the geometric mean of its rows.
* Claims, each with a stated null, a p-value and a verdict -- ``survives``, ``falsified`` (the data
  contradict the claimed number), ``not supported`` (no evidence for the claimed effect) or
  ``untestable`` (not enough data):

  - :func:`ladder_test`: successive plateau ratios in step order vs ``Phi**(1/3)``, against random
    reorderings of each run's plateaus, plus a sign test that the plateaus are flat
    (:func:`plateau_flatness`);
  - :func:`fixpoint_test`: final beta per run vs ``Phi**3`` (t-test over runs, equivalence margin);
  - :func:`spike_test`: rate of change of ``ln(beta)`` inside vs outside grokking windows, against
    random rotations of the windows.

Outputs (:func:`write_analysis`): ``external_{name}.csv`` (:data:`FITS_COLUMNS`: one row per run and
series, plus pooled ``run_id = ALL`` rows), ``external_{name}_claims.csv`` (:data:`CLAIMS_COLUMNS`),
``external_{name}_series.csv`` (:data:`SERIES_COLUMNS`: the usable rows with plateaus and change
points, for the figure) and ``external_{name}_issues.csv`` (:data:`ISSUE_COLUMNS`).

Synthetic logs with planted effects: :func:`make_synthetic_log`, and on the command line
``python -m toposcale.experiments.external make-example OUT.csv [--null]``.

Modules
-------
``schema`` (constants, column names, mappings, :class:`ExternalLog`), ``ingest`` (:func:`load_log`),
``segmentation`` (series helpers, grokking windows, :func:`match_transitions`, :func:`plateaus`),
``claims`` (the three tests), ``analyse`` (:func:`analyse_log` and the output tables), ``synthetic``
(:func:`make_synthetic_log`, :func:`write_demo_log`) and ``cli`` (:func:`main`).
"""
from toposcale._exports import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "schema": ["PHI", "LADDER_RATIO", "FIXPOINT", "BETA_TRAJECTORY_COLUMNS", "NUMERIC_COLUMNS", "FLAG_COLUMN",
               "ANALYSIS_COLUMNS", "SCHEMA_MAPPINGS", "ISSUE_LABELS", "ISSUE_COLUMNS", "FITS_COLUMNS",
               "CLAIMS_COLUMNS", "SERIES_COLUMNS", "TRANSITION_SERIES", "ExternalLog", "resolve_mapping",
               "apply_mapping", "format_value"],
    "ingest": ["LOG_SUFFIXES", "read_log_file", "validate_log", "summarise_issues", "load_log"],
    "segmentation": ["PLATEAU_PENALTY", "run_frames", "flags_of", "has_flags", "log_time", "flag_windows",
                     "window_spans", "match_transitions", "plateaus", "plateau_flatness", "pooled_flatness"],
    "claims": ["ladder_test", "fixpoint_test", "spike_test"],
    "analyse": ["ExternalAnalysis", "analyse_log", "output_paths", "write_analysis", "claims_summary"],
    "synthetic": ["NULL_EFFECTS", "make_synthetic_log", "write_demo_log"],
    "cli": ["main"],
})
