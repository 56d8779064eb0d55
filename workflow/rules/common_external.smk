# External training logs (issue "External training logs"): each log configured under external.logs is
# ingested, its loss/capability transitions and logistic fits computed and the beta claims tested
# (toposcale.experiments.external), then drawn (toposcale.report.plots.external). `snakemake external` builds them all.
# Needs RESULTS, RUNS and the validated config from common.smk.
import re
from pathlib import Path

EXTERNAL = config["external"]
EXTERNAL_LOGS = {entry["name"]: entry for entry in EXTERNAL["logs"]}
# only configured names match, so external_{name}.csv never swallows external_{name}_claims.csv
EXTERNAL_NAME_RE = "|".join(re.escape(n) for n in EXTERNAL_LOGS) or "(?!x)x"
EXTERNAL_TABLES = ("fits", "claims", "series", "issues")


def external_table(name, kind):
    """Path of one output table of ``external_analyse`` (kind in EXTERNAL_TABLES)."""
    suffix = "" if kind == "fits" else f"_{kind}"
    return f"{RESULTS}/analysis/external_{name}{suffix}.csv"


def external_log_inputs(wildcards):
    """Files a log is read from. A toposcale_log pointing at this study's results depends on its run
    logs (so training runs first); a folder on the files found in it; anything else on the path."""
    entry = EXTERNAL_LOGS[wildcards.name]
    path = Path(entry["path"])
    if entry.get("schema") == "toposcale_log":
        ours = {Path(RESULTS).resolve(), Path(RESULTS, "runs").resolve()}
        if path.resolve() in ours:
            return [f"{RESULTS}/runs/{r.name}/log.csv" for r in RUNS]
        if path.is_dir():
            found = sorted(path.glob("*/log.csv")) or sorted(path.glob("runs/*/log.csv"))
            return [str(p) for p in found]
    return [str(path)]


def _external_figure_output():
    """results/figures/external_{name}.png, flagged for `snakemake --report` (category "8. External
    training logs", caption workflow/report/external.rst) when figures.smk, which defines fig(), is
    included before this file."""
    if "fig" in globals():
        return fig("external_{name}", CATEGORY["external"], caption="external")
    return f"{RESULTS}/figures/external_{{name}}.png"


def external_targets():
    """Every external analysis table and figure (for `rule all` and `rule external`)."""
    out = []
    for name in EXTERNAL_LOGS:
        out += [external_table(name, kind) for kind in EXTERNAL_TABLES]
        out.append(f"{RESULTS}/figures/external_{name}.png")
    return out
