"""Snakemake script: the figure of one analysed external log (toposcale.report.plots.external)."""
import pandas as pd

from toposcale.report.plots.external import plot_external

i = snakemake.input  # noqa: F821 (injected by Snakemake)
plot_external(pd.read_csv(i.fits), pd.read_csv(i.claims), pd.read_csv(i.series), snakemake.output[0],  # noqa: F821
              name=snakemake.wildcards.name, dpi=snakemake.params.dpi)  # noqa: F821
with open(snakemake.log[0], "w") as fh:  # noqa: F821
    print(f"wrote {snakemake.output[0]}", file=fh)  # noqa: F821
