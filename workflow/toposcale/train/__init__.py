"""Training: the corpus and tokenizer, the GPT model, the resumable trainer."""
from toposcale._exports import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "corpus": ["CorpusError", "load_tokens", "make_probe", "prepare_corpus", "read_source", "split_blocks"],
    "model": ["GPT", "GPTConfig"],
    "ngram": ["ESTIMATOR", "kneser_ney_levels", "load_levels", "ngram_keys", "ngram_levels", "order_name",
              "plugin_entropies"],
    "pydocs": ["docstrings_in_order", "stdlib_docstrings"],
    "trainer": ["Trainer", "batch_offsets", "lr_at", "pick_device", "train_run"],
})
