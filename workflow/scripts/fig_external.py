"""Snakemake script: the figure of one analysed external log (toposcale.report.plots.external)."""
import sys

import pandas as pd

from toposcale.report.plots import plot_external

sys.stderr = open(snakemake.log[0], "w")
i = snakemake.input
plot_external(pd.read_csv(i.fits), pd.read_csv(i.claims), pd.read_csv(i.series), snakemake.output[0],
              name=snakemake.wildcards.name, dpi=snakemake.params.dpi)
print(f"wrote {snakemake.output[0]}", file=sys.stderr)
