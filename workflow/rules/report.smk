# The study's report: results/report/summary.md (key numbers from the analysis tables) and the global
# description of `snakemake --report results/report.html` (workflow/report/workflow.rst; every figure
# rule flags its PNG with report() through fig() of common.smk, with its caption in workflow/report/).
# Needs figures.smk (analysis_tables) included before this file.

report: "../report/workflow.rst"


rule report_summary:
    input:
        unpack(analysis_tables),
    output:
        f"{RESULTS}/report/summary.md",
    params:
        title=f"toposcale study on corpus {CORPUS}: {len(RUNS)} runs, key numbers",
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/report_summary.py"


def report_targets():
    """summary.md (for rule all)."""
    return [f"{RESULTS}/report/summary.md"]


ALL_TARGETS.append(report_targets)
