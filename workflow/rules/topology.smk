# NB: in rules defined in a loop, directive values are evaluated at definition time, but a shell:
# string is evaluated when the job runs (the loop variable has moved on by then), so per-run values
# reach shell commands only through params.
# Extraction (torch, one job per run) -> persistence (numpy + compiled backend, granularity from
# config) -> per-run metrics table; bootstrap CIs for chosen checkpoints.
GRANULARITY = config["topology"]["granularity"]
TOPO = config["topology"]

for _run in RUNS:

    rule:
        name:
            rule_name("extract", _run.name)
        input:
            ckpts=[ckpt_path(_run.name, s) for s in STEPS[_run.name]],
            probe=f"{DATA}/probe.npy",
        output:
            clouds=[cloud_path(_run.name, s) for s in STEPS[_run.name]],
        params:
            run=_run.to_dict(),
            config={k: config[k] for k in ("seed", "corpus", "training", "topology")},
        log:
            f"{RESULTS}/logs/extract/{_run.name}.log",
        threads: 1
        resources:
            mem_mb=2000,
            runtime=30,
        conda:
            ENV_TRAIN
        script:
            "../scripts/extract.py"


# One BLAS thread per job: the homology backends are single-threaded, and OpenBLAS threads spinning in
# the distance computation of two concurrent jobs doubled CPU time without shortening either job.
PERSIST_CMD = (
    "OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 "
    f"{PYTHON} -m toposcale.topology.persist --max-dim {TOPO['max_dim']} --backend {TOPO['backend']}"
)

if GRANULARITY == "layer":

    rule persistence_layer:
        input:
            f"{RESULTS}/clouds/{{run}}/step{{step}}.npz",
        output:
            f"{RESULTS}/diagrams/{{run}}/{{source}}/step{{step}}/{{layer}}.npz",
        log:
            f"{RESULTS}/logs/persistence/{{run}}/{{source}}-{{step}}-{{layer}}.log",
        group:
            "persistence"
        threads: 1
        resources:
            mem_mb=1000,
            runtime=10,
        conda:
            ENV_TOPOLOGY
        shell:
            f"{PERSIST_CMD} --out-root {RESULTS}/diagrams/{{wildcards.run}}"
            " --only {wildcards.source}/{wildcards.layer} {input} 2> {log}"

elif GRANULARITY == "checkpoint":
    for _run in RUNS:

        rule:
            name:
                rule_name("persistence", _run.name)
            input:
                f"{RESULTS}/clouds/{_run.name}/step{{step}}.npz",
            output:
                [
                    f"{RESULTS}/diagrams/{_run.name}/{src}/step{{step}}/{layer}.npz"
                    for src in SOURCES
                    for layer in run_layers(_run.name, src)
                ],
            params:
                root=lambda wc, output: diagrams_root(output[0]),
            log:
                f"{RESULTS}/logs/persistence/{_run.name}/step{{step}}.log",
            group:
                "persistence"
            threads: 1
            resources:
                mem_mb=1000,
                runtime=20,
            conda:
                ENV_TOPOLOGY
            shell:
                f"{PERSIST_CMD} --out-root {{params.root}} {{input}} 2> {{log}}"

else:
    for _run in RUNS:

        rule:
            name:
                rule_name("persistence", _run.name)
            input:
                [cloud_path(_run.name, s) for s in STEPS[_run.name]],
            output:
                run_diagrams(_run.name),
            # longest jobs first (they scale with layers x width): less idle time at the stage's end
            priority: _run.n_layers * _run.d_model // 16
            params:
                root=lambda wc, output: diagrams_root(output[0]),
            log:
                f"{RESULTS}/logs/persistence/{_run.name}.log",
            threads: 1
            resources:
                mem_mb=1000,
                runtime=120,
            conda:
                ENV_TOPOLOGY
            shell:
                f"{PERSIST_CMD} --out-root {{params.root}} {{input}} 2> {{log}}"


rule summarise:
    input:
        diagrams=lambda wc: run_diagrams(wc.run),
        log_csv=f"{RESULTS}/runs/{{run}}/log.csv",
        run_json=f"{RESULTS}/runs/{{run}}/run.json",
    output:
        metrics=f"{RESULTS}/metrics/{{run}}.parquet",
        betti=f"{RESULTS}/metrics/{{run}}.betti.parquet",
    params:
        topology=TOPO,
        sources=SOURCES,
        layers=lambda wc: {src: run_layers(wc.run, src) for src in SOURCES},
        steps=lambda wc: STEPS[wc.run],
        diagrams_root=lambda wc, input: diagrams_root(input.diagrams[0]),
    log:
        f"{RESULTS}/logs/summarise/{{run}}.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    conda:
        ENV_TOPOLOGY
    script:
        "../scripts/summarise.py"


rule bootstrap:
    input:
        f"{RESULTS}/clouds/{{run}}/step{{step}}.npz",
    output:
        f"{RESULTS}/bootstrap/{{run}}/step{{step}}.csv",
    params:
        boot=TOPO["bootstrap"],
        topology=TOPO,
        seed=config["seed"],
    log:
        f"{RESULTS}/logs/bootstrap/{{run}}-{{step}}.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    conda:
        ENV_TOPOLOGY
    script:
        "../scripts/bootstrap.py"


rule metrics_all:
    input:
        metrics_targets(),
        _bootstrap_targets(),


rule diagrams_all:
    """Every persistence diagram of the study (the whole persistence stage; used by the benchmark)."""
    input:
        [d for r in RUNS for d in run_diagrams(r.name)],
