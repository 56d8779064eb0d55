# Direct probes of every checkpoint (toposcale.analysis.probes): KL divergence of the model's next-token
# distribution from the training split's unigram and bigram tables on the probe set, and induction
# (attention to the token after the previous occurrence, loss drop on a repeat). One job per run, torch
# on the CPU, seconds per run.


rule analysis_probes:
    input:
        ckpts=lambda wc: [PATHS.checkpoint(wc.run, s) for s in STEPS[wc.run]],
        probe=PATHS.data("probe.npy"),
        train=PATHS.data("train.bin"),
    output:
        csv=PATHS.probes("{run}"),
    params:
        run=lambda wc: RUN_BY_NAME[wc.run].to_dict(),
        steps=lambda wc: STEPS[wc.run],
        config={k: config[k] for k in ("seed", "corpus", "probes")},
    log:
        PATHS.log("probes", "{run}.log"),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        ENV_TRAIN
    script:
        "../scripts/probes.py"
