# One training rule per run: its outputs are the run's own checkpoint schedule (a pure function of the
# config), so every checkpoint file is a known target before training starts.
for _run in RUNS:

    rule:
        name:
            rule_name("train", _run.name)
        input:
            train=f"{DATA}/train.bin",
            val=f"{DATA}/val.bin",
        output:
            ckpts=[ckpt_path(_run.name, s) for s in STEPS[_run.name]],
            log_csv=f"{RESULTS}/runs/{_run.name}/log.csv",
            run_json=f"{RESULTS}/runs/{_run.name}/run.json",
        params:
            run=_run.to_dict(),
            config={k: config[k] for k in ("seed", "corpus", "model", "training")},
        log:
            f"{RESULTS}/logs/train/{_run.name}.log",
        threads: 1
        resources:
            mem_mb=lambda wc, attempt, r=_run: 1500 + r.n_total // 100,
            runtime=lambda wc, attempt, r=_run: 10 + int(r.total_steps * r.tokens_per_step / 3e5 / 60 * 4),
        conda:
            ENV_TRAIN
        script:
            "../scripts/train.py"


rule train_all:
    input:
        train_targets(),
