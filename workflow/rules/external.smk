# External training logs: each log configured under external.logs is ingested, its loss/capability
# transitions and logistic fits computed and the beta claims tested (toposcale.experiments.external), then
# drawn (toposcale.report.plots.external). `snakemake external_all` builds them all.
import re

from toposcale.plan.targets import external_log_inputs, external_targets

EXTERNAL = config["external"]
EXTERNAL_LOGS = {entry["name"]: entry for entry in EXTERNAL["logs"]}
# only configured names match, so external_{name}.csv never swallows external_{name}_claims.csv
EXTERNAL_NAME_RE = "|".join(re.escape(n) for n in EXTERNAL_LOGS) or "(?!x)x"


rule external_all:
    input:
        external_targets(PATHS, EXTERNAL_LOGS),


rule external_analyse:
    input:
        logs=lambda wc: external_log_inputs(EXTERNAL_LOGS[wc.name], RESULTS, [r.name for r in RUNS]),
    output:
        fits=PATHS.external_table("{name}", "fits"),
        claims=PATHS.external_table("{name}", "claims"),
        series=PATHS.external_table("{name}", "series"),
        issues=PATHS.external_table("{name}", "issues"),
    params:
        section=EXTERNAL,
        entry=lambda wc: EXTERNAL_LOGS[wc.name],
        seed=config["seed"],
    wildcard_constraints:
        name=EXTERNAL_NAME_RE,
    log:
        PATHS.log("external_analyse", "{name}.log"),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        ENV_ANALYSIS
    script:
        "../scripts/external.py"


rule plot_external:
    localrule: True
    input:
        fits=PATHS.external_table("{name}", "fits"),
        claims=PATHS.external_table("{name}", "claims"),
        series=PATHS.external_table("{name}", "series"),
    output:
        fig("external_{name}", CATEGORY["external"], caption="external"),
    params:
        dpi=config["figures"]["dpi"],
    wildcard_constraints:
        name=EXTERNAL_NAME_RE,
    log:
        PATHS.log("external_figure", "{name}.log"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        ENV_ANALYSIS
    script:
        "../scripts/fig_external.py"


rule external_demo_log:
    """A synthetic log in the beta-trajectory schema with planted effects (ladder 1.174, fixpoint 4.236,
    grokking spike), labelled synthetic in its notes column: a worked example of `snakemake external_all`."""
    localrule: True
    output:
        PATHS.external_demo_log(),
    params:
        seed=config["seed"],
    log:
        PATHS.log("external", "demo_log.log"),
    conda:
        ENV_ANALYSIS
    script:
        "../scripts/external_demo_log.py"
