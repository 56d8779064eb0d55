"""Snakemake script: the figure of one analysed external log (toposcale.report.plots.external)."""
import sys

import pandas as pd

from toposcale.report.plots import plot_external
from toposcale.provenance import use_config

sys.stderr = open(snakemake.log[0], "w")
use_config(snakemake.config)  # provenance of every table and figure written below
i = snakemake.input
plot_external(pd.read_csv(i.fits), pd.read_csv(i.claims), pd.read_csv(i.series), snakemake.output[0],
              name=snakemake.wildcards.name, dpi=snakemake.params.dpi)
print(f"wrote {snakemake.output[0]}", file=sys.stderr)
