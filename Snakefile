# toposcale: the shape of transformer training.
#   snakemake --cores 2                          # the default study (config.yaml)
#   snakemake --cores 2 --configfile configs/smoke.yaml
#   snakemake --report results/report.html      # HTML report with every figure and its caption
#   make pretrained                              # optional: real pretrained encoder/decoder (see README)
# Runtime settings (executor, resources, retries) live in profiles/; the study lives in config files.
# Rule names are <stage>_<object>; figure rules plot_<name>; aggregates <family>_all.

configfile: "config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/series.smk"
include: "workflow/rules/topology.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/probes.smk"
include: "workflow/rules/grokking.smk"
include: "workflow/rules/pretrained.smk"
include: "workflow/rules/external.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        default_targets(config),
    default_target: True


# Snakemake's re-evaluation timers would keep a finished run open for up to a timespan
# (profiles/default sets it long: see toposcale.plan.scheduler).
onsuccess:
    cancel_reevaluation_timers()


onerror:
    cancel_reevaluation_timers()
