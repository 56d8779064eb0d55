rule corpus:
    output:
        train=f"{DATA}/train.bin",
        val=f"{DATA}/val.bin",
        tokenizer=f"{DATA}/tokenizer.json",
        probe=f"{DATA}/probe.npy",
        meta=f"{DATA}/meta.json",
    params:
        cfg=config["corpus"],
    log:
        f"{RESULTS}/logs/corpus/{CORPUS}.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    conda:
        ENV_TRAIN
    script:
        "../scripts/corpus.py"
