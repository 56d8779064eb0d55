"""Experiments beside the trained grid: the grokking control, pretrained models, external training logs."""
