# One training rule per run: its outputs are the run's own checkpoint schedule (a pure function of the
# config), so every checkpoint file is a known target before training starts.
from toposcale.plan.resources import train_mem_mb, train_runtime

for _run in RUNS:

    rule:
        name:
            rule_name("train", _run.name)
        input:
            train=PATHS.data("train.bin"),
            val=PATHS.data("val.bin"),
        output:
            ckpts=[PATHS.checkpoint(_run.name, s) for s in STEPS[_run.name]],
            log_csv=PATHS.run_log(_run.name),
            dense_csv=PATHS.dense_log(_run.name),
            run_json=PATHS.run_json(_run.name),
        params:
            run=_run.to_dict(),
            config={k: config[k] for k in ("seed", "corpus", "model", "training")},
        log:
            PATHS.log("train", f"{_run.name}.log"),
        threads: 1
        resources:
            mem_mb=train_mem_mb(_run),
            runtime=train_runtime(_run),
        conda:
            ENV_TRAIN
        script:
            "../scripts/train.py"


rule train_all:
    input:
        [PATHS.run_json(r.name) for r in RUNS],
