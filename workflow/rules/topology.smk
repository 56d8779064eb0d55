# Extraction (torch, one job per run) -> persistence (numpy + compiled backend, granularity from
# config) -> per-run metrics table; optional per-checkpoint subsample-interval tables (topology.bootstrap).
# NB: in rules defined in a loop, directive values are evaluated at definition time, but a shell:
# string is evaluated when the job runs (the loop variable has moved on by then), so per-run values
# reach shell commands only through params.
GRANULARITY = config["topology"]["granularity"]
TOPO = config["topology"]
NULLS = TOPO["nulls"]


for _run in RUNS:

    rule:
        name:
            rule_name("topology_extract", _run.name)
        input:
            ckpts=[PATHS.checkpoint(_run.name, s) for s in STEPS[_run.name]],
            probe=PATHS.data("probe.npy"),
        output:
            clouds=[PATHS.cloud(_run.name, s) for s in STEPS[_run.name]],
        params:
            run=_run.to_dict(),
            config={k: config[k] for k in ("seed", "corpus", "training", "topology")},
        log:
            PATHS.log("extract", f"{_run.name}.log"),
        threads: 1
        resources:
            mem_mb=2000,
            runtime=30,
        conda:
            ENV_TRAIN
        script:
            "../scripts/extract.py"


# The persistence jobs are the one exception to `script:`: a small CLI that imports only numpy and the
# compiled backend starts in ~1.7 s, a `script:` job in ~2.5 s (design doc section 8), and a study has
# thousands of per-layer jobs. One BLAS thread per job: the homology backends are single-threaded, and
# OpenBLAS threads spinning in the distance computation of two concurrent jobs doubled CPU time without
# shortening either job. Every path is quoted ({...:q}), so a results folder may contain spaces.
# The same job draws the matched nulls of every cloud (issue 15): same backend, same granularity.
PERSIST_CMD = (
    "OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 "
    f"{PYTHON} -m toposcale.topology.persist --max-dim {TOPO['max_dim']} --backend {TOPO['backend']} "
    f"--n-draws {NULLS['n_draws']} --kinds {' '.join(NULLS['kinds'])} --seed {config['seed']}"
)

if GRANULARITY == "layer":

    rule topology_persistence_layer:
        input:
            PATHS.cloud("{run}", "{step}"),
        output:
            PATHS.diagram("{run}", "{source}", "{step}", "{layer}"),
            PATHS.null_diagram("{run}", "{source}", "{step}", "{layer}"),
        params:
            root=lambda wc: PATHS.diagrams_root(wc.run),
            nulls=lambda wc: PATHS.nulls_root(wc.run),
            only=lambda wc: f"{wc.source}/{wc.layer}",
        log:
            PATHS.log("persistence", "{run}/{source}-{step}-{layer}.log"),
        group:
            "persistence"
        threads: 1
        resources:
            mem_mb=1000,
            runtime=10,
        conda:
            ENV_TOPOLOGY
        shell:
            f"{PERSIST_CMD} --out-root {{params.root:q}} --null-root {{params.nulls:q}} --only {{params.only:q}} "
            "{input:q} 2> {log:q}"

elif GRANULARITY == "checkpoint":
    for _run in TOPO_RUNS:

        rule:
            name:
                rule_name("topology_persistence", _run.name)
            input:
                PATHS.cloud(_run.name, "{step}"),
            output:
                [
                    path(_run.name, src, "{step}", layer)
                    for path in (PATHS.diagram, PATHS.null_diagram)
                    for src in SOURCES
                    for layer in run_layers(_run.name, src)
                ],
            params:
                root=lambda wc, run=_run.name: PATHS.diagrams_root(run),
                nulls=lambda wc, run=_run.name: PATHS.nulls_root(run),
            log:
                PATHS.log("persistence", f"{_run.name}/step{{step}}.log"),
            group:
                "persistence"
            threads: 1
            resources:
                mem_mb=1000,
                runtime=20,
            conda:
                ENV_TOPOLOGY
            shell:
                f"{PERSIST_CMD} --out-root {{params.root:q}} --null-root {{params.nulls:q}} {{input:q}} 2> {{log:q}}"

else:
    for _run in TOPO_RUNS:

        rule:
            name:
                rule_name("topology_persistence", _run.name)
            input:
                [PATHS.cloud(_run.name, s) for s in STEPS[_run.name]],
            output:
                run_diagrams(_run.name) + run_nulls(_run.name),
            # longest jobs first (they scale with layers x width): less idle time at the stage's end
            priority: _run.n_layers * _run.d_model // 16
            params:
                root=lambda wc, run=_run.name: PATHS.diagrams_root(run),
                nulls=lambda wc, run=_run.name: PATHS.nulls_root(run),
            log:
                PATHS.log("persistence", f"{_run.name}.log"),
            threads: 1
            resources:
                mem_mb=1000,
                runtime=120,
            conda:
                ENV_TOPOLOGY
            shell:
                f"{PERSIST_CMD} --out-root {{params.root:q}} --null-root {{params.nulls:q}} {{input:q}} 2> {{log:q}}"


rule topology_summarise:
    input:
        diagrams=lambda wc: run_diagrams(wc.run),
        nulls=lambda wc: run_nulls(wc.run),
        log_csv=PATHS.run_log("{run}"),
        run_json=PATHS.run_json("{run}"),
    output:
        metrics=PATHS.metrics("{run}"),
        betti=PATHS.betti("{run}"),
    params:
        topology=TOPO,
        sources=SOURCES,
        layers=lambda wc: {src: run_layers(wc.run, src) for src in SOURCES},
        steps=lambda wc: STEPS[wc.run],
        diagrams_root=lambda wc: PATHS.diagrams_root(wc.run),
        nulls_root=lambda wc: PATHS.nulls_root(wc.run),
    log:
        PATHS.log("summarise", "{run}.log"),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    conda:
        ENV_TOPOLOGY
    script:
        "../scripts/summarise.py"


rule topology_bootstrap:
    input:
        PATHS.cloud("{run}", "{step}"),
    output:
        PATHS.bootstrap("{run}", "{step}"),
    params:
        topology=TOPO,
        seed=config["seed"],
    log:
        PATHS.log("bootstrap", "{run}-{step}.log"),
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
        [PATHS.metrics(r.name) for r in TOPO_RUNS],
        [b for r in RUNS for b in run_bootstraps(r.name)],


rule diagrams_all:
    """Every persistence diagram and null-draw file of the study (the whole persistence stage; used by the benchmark)."""
    input:
        [d for r in TOPO_RUNS for d in run_diagrams(r.name) + run_nulls(r.name)],
