# Checkpoint series as runs (config `series`, toposcale.plan.series): one job per series writes, for every
# checkpoint, the clouds file of the trained runs' format, and the run's log.csv (loss per byte) and run.json;
# persistence, summaries, dynamics, transitions and figures then treat series-{name} like a trained run.
# series_fixture (config `series_fixture`): a tiny GPT-NeoX trained here, saved as HF checkpoints, to run
# the series path offline (the smoke study lists its directories as a series).
from toposcale.plan.resources import series_mem_mb, series_runtime
from toposcale.plan.series import model_dims

FIXTURE = config["series_fixture"]

if FIXTURE["enabled"]:

    rule series_fixture:
        input:
            tokenizer=PATHS.data("tokenizer.json"),  # the corpus is prepared (and its source checked) first
        output:
            [
                f"{PATHS.series_fixture(s)}/{name}"
                for s in FIXTURE["steps"]
                for name in ("config.json", "model.safetensors", "tokenizer.json")
            ],
            meta=f"{PATHS.series_fixture()}/series.json",
        params:
            corpus=config["corpus"],
            fixture=FIXTURE,
            out=PATHS.series_fixture(),
            seed=config["seed"],
        log:
            PATHS.log("series", "fixture.log"),
        threads: 1
        resources:
            mem_mb=2000,
            runtime=30,
        conda:
            ENV_PRETRAINED
        script:
            "../scripts/series_fixture.py"


for _s in SERIES:
    _dims = model_dims(_s)

    rule:
        name:
            rule_name("series_extract", _s.name)
        input:
            probe=PATHS.data("probe.npy"),
            tokenizer=PATHS.data("tokenizer.json"),
            ckpts=[f"{c['path']}/config.json" for c in _s.checkpoints if "path" in c],
        output:
            clouds=[PATHS.cloud(_s.name, step) for step in _s.steps],
            log_csv=PATHS.run_log(_s.name),
            run_json=PATHS.run_json(_s.name),
        params:
            spec=_s.to_dict(),
            config={k: config[k] for k in ("seed", "corpus", "topology", "training")},
        log:
            PATHS.log("series", f"{_s.name}.log"),
        threads: 1
        resources:
            mem_mb=series_mem_mb(_dims, _s.max_points, _s.loss_tokens),
            runtime=series_runtime(
                _dims, len(_s.checkpoints), _s.loss_bytes, config["corpus"]["probe_size"], _s.max_tokens
            ),
        conda:
            ENV_PRETRAINED
        script:
            "../scripts/series_extract.py"


rule series_all:
    """Every series' metrics table (clouds, diagrams with their nulls, summaries)."""
    input:
        [PATHS.metrics(s.name) for s in SERIES],
