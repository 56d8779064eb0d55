rule external:
    input:
        external_targets(),


rule external_analyse:
    input:
        logs=external_log_inputs,
    output:
        fits=external_table("{name}", "fits"),
        claims=external_table("{name}", "claims"),
        series=external_table("{name}", "series"),
        issues=external_table("{name}", "issues"),
    params:
        section=EXTERNAL,
        entry=lambda wc: EXTERNAL_LOGS[wc.name],
        seed=config["seed"],
    wildcard_constraints:
        name=EXTERNAL_NAME_RE,
    log:
        f"{RESULTS}/logs/external_analyse/{{name}}.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        ENV_ANALYSIS
    script:
        "../scripts/external.py"


rule external_figure:
    localrule: True
    input:
        fits=external_table("{name}", "fits"),
        claims=external_table("{name}", "claims"),
        series=external_table("{name}", "series"),
    output:
        _external_figure_output(),
    params:
        dpi=config["figures"]["dpi"],
    wildcard_constraints:
        name=EXTERNAL_NAME_RE,
    log:
        f"{RESULTS}/logs/external_figure/{{name}}.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        ENV_ANALYSIS
    script:
        "../scripts/fig_external.py"
ALL_TARGETS.append(external_targets)


rule external_demo_log:
    localrule: True
    """A synthetic log in the beta-trajectory schema with planted effects (ladder 1.174, fixpoint 4.236,
    grokking spike), labelled synthetic in its notes column: a worked example of `snakemake external`."""
    output:
        f"{RESULTS}/external/demo_beta_trajectory.csv",
    params:
        seed=config["seed"],
    log:
        f"{RESULTS}/logs/external/demo_log.log",
    conda:
        ENV_ANALYSIS
    shell:
        f"{PYTHON} -m toposcale.experiments.external make-example {{output}} --seed {{params.seed}} > {{log}} 2>&1"
