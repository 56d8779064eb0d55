# The corpus: tokenised train/val splits, tokenizer and the fixed probe sequences.


rule data_corpus:
    output:
        train=PATHS.data("train.bin"),
        val=PATHS.data("val.bin"),
        tokenizer=PATHS.data("tokenizer.json"),
        probe=PATHS.data("probe.npy"),
        meta=PATHS.data("meta.json"),
    params:
        cfg=config["corpus"],
    log:
        PATHS.log("corpus", f"{CORPUS}.log"),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    conda:
        ENV_TRAIN
    script:
        "../scripts/corpus.py"
