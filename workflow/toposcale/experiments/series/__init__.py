"""Published checkpoint series of Hugging Face models analysed as runs (see :mod:`toposcale.plan.series`).

* :mod:`.layers`: weight clouds (MLP input neurons per block) for GPT-NeoX, Llama, GPT-2 and BERT;
* :mod:`.loss`: the model's own NLL per byte on the validation split;
* :mod:`.extract`: per checkpoint the clouds file of the trained runs' format, and the run's log.csv and
  run.json;
* :mod:`.fixture`: a tiny GPT-NeoX series trained here (tests, smoke study).

Submodules import torch and transformers; import them directly (this package's ``__init__`` stays light).
"""
