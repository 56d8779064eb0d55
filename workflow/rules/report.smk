# The study's report: results/report/summary.md (key numbers from the analysis tables) and the global
# description of `snakemake --report results/report.html` (workflow/report/workflow.rst; every figure
# rule flags its PNG with report() through fig() of common.smk, with its caption in workflow/report/).

report: "../report/workflow.rst"


rule report_summary:
    localrule: True
    input:
        unpack(summary_tables),
    output:
        PATHS.report("summary.md"),
    params:
        title=f"toposcale study on corpus {CORPUS}: {len(RUNS)} runs"
        + (f" and {len(SERIES)} checkpoint series" if SERIES else "")
        + ", key numbers",
    resources:
        mem_mb=1000,
        runtime=5,
    log:
        PATHS.log("figures", "report_summary.log"),
    conda:
        ENV_ANALYSIS
    script:
        "../scripts/report_summary.py"
