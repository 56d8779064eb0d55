"""toposcale: persistent homology of transformer training.

The package is imported by Snakemake rules and by the per-layer persistence jobs, so this
``__init__`` deliberately imports nothing: heavy modules (torch, pandas, scikit-learn) are only
loaded by the modules that need them.
"""

__version__ = "0.1.0"
