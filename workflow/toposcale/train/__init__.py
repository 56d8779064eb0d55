"""Training: the corpus and tokenizer, the GPT model, the resumable trainer."""
