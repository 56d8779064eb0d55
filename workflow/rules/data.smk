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


rule data_ngram_levels:
    input:
        train=PATHS.data("train.bin"),
        val=PATHS.data("val.bin"),
    output:
        levels=PATHS.ngram_levels(),
    params:
        vocab=vocab_size(config),
        max_order=config["stages"]["max_order"],
        corpus=CORPUS,
    log:
        PATHS.log("corpus", f"{CORPUS}.ngram_levels.log"),
    threads: 1
    resources:
        mem_mb=3000,
        runtime=10,
    conda:
        ENV_TRAIN
    script:
        "../scripts/ngram_levels.py"
