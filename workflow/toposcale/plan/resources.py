"""Job resources (memory, wall time) and compute budgets derived from the plan: pure functions of the config.

Runtimes are minutes (Snakemake's ``runtime``), memory is MB (``mem_mb``); the formulas are rough upper
bounds measured on one CPU thread, with headroom, so a cluster job is not killed early.
"""

from __future__ import annotations


def train_mem_mb(run) -> int:
    """Memory of one training job: 1500 MB plus 10 kB per parameter (``run.n_total // 100``).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> train_mem_mb(SimpleNamespace(n_total=250_000))
    4000
    """
    return 1500 + run.n_total // 100


def train_runtime(run) -> int:
    """Minutes of one training job: 10 plus four times ``total_steps x tokens_per_step / 3e5`` seconds
    (about 3e5 tokens per second), in minutes, rounded down.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> train_runtime(SimpleNamespace(total_steps=4500, tokens_per_step=2048))
    12
    """
    return 10 + int(run.total_steps * run.tokens_per_step / 3e5 / 60 * 4)


def grokking_seconds(grok: dict) -> float:
    """Estimated seconds of one grokking training run (the config's ``grokking`` section).

    Measured on one CPU thread: about 3e-5 s per training example per step at d_model 128, d_mlp 512,
    scaled by ``4 d_model^2 + 2 d_model d_mlp`` (the per-example cost of the layers).

    Examples
    --------
    >>> round(grokking_seconds({"steps": 1000, "p": 10, "train_fraction": 0.5, "d_model": 128, "d_mlp": 512}), 9)
    1.5
    """
    return (
        3e-5
        * grok["steps"]
        * grok["p"] ** 2
        * grok["train_fraction"]
        * (4 * grok["d_model"] ** 2 + 2 * grok["d_model"] * grok["d_mlp"])
        / (4 * 128**2 + 2 * 128 * 512)
    )


def grokking_train_runtime(grok: dict) -> int:
    """Minutes of one grokking training job: 10 plus four times :func:`grokking_seconds`, in minutes.

    Examples
    --------
    >>> grokking_train_runtime({"steps": 1500, "p": 59, "train_fraction": 0.4, "d_model": 128, "d_mlp": 512})
    14
    """
    return 10 + int(4 * grokking_seconds(grok) / 60)


def grokking_measure_runtime(n_checkpoints: int, n_null_draws: int = 0) -> int:
    """Minutes of one grokking measurement job: 10 plus one per ten clouds measured (each checkpoint's
    clouds once, and once more for each of its ``n_null_draws`` null draws).

    Examples
    --------
    >>> grokking_measure_runtime(31), grokking_measure_runtime(31, n_null_draws=4)
    (13, 25)
    """
    return 10 + n_checkpoints * (1 + n_null_draws) // 10


def pretrained_resamples(config: dict) -> int:
    """Subsamples per (model, corpus) of the pretrained comparison: ``pretrained.n_resamples`` (schema
    default 200; 0 or at least 200, see :func:`toposcale.config.validate_config`).

    Examples
    --------
    >>> pretrained_resamples({"pretrained": {"n_resamples": 200}})
    200
    """
    return int(config["pretrained"]["n_resamples"])


#: CPU seconds of the series job per (parameter x evaluated token), one thread: the largest rate measured
#: (5.4e-11, a Pythia-14M-shaped GPT-NeoX; 2.7e-11 at the Pythia-70M shape) rounded up
#: (docs/scale-out.md, "Checkpoint series"; benchmarks/series_cost.py).
SERIES_SECONDS_PER_PARAM_TOKEN = 6e-11
#: CPU seconds per parameter of writing one clouds file (baselines of the token-embedding cloud, PCA);
#: measured 2.5e-7 (14M shape) and 1.6e-7 (70M shape), rounded up.
SERIES_SECONDS_PER_PARAM_CLOUDS = 3e-7
#: Fixed seconds per checkpoint of the series job (loading, tokenising; with headroom).
SERIES_SECONDS_FIXED = 5.0


def series_mem_mb(dims: dict | None, max_points: int, loss_tokens: int, batch_size: int = 8) -> int:
    """Memory (MB) of one series job, from the model's shape (:func:`toposcale.plan.series.model_dims`).

    1500 MB for the interpreter and libraries, plus: loading (two float32 copies of the weights while
    ``from_pretrained`` fills the model, 8 bytes per parameter); the loss batch's logits (``batch_size x
    loss_tokens x vocab`` float32, three copies: logits, float cast, cross-entropy); and the largest cloud's
    dense distance matrix (``max_points^2`` float64, three copies). Unknown shape (``dims`` None): 16000.
    An upper bound: measured peaks were 2695 MB (Pythia-14M shape; formula 4109) and 3019 MB (70M shape;
    formula 4560).

    Examples
    --------
    >>> series_mem_mb({"n_params": 162_201_600, "vocab": 50304}, 1024, 512)
    5295
    >>> series_mem_mb(None, 1024, 512)
    16000
    """
    if dims is None:
        return 16000
    load = 8 * dims["n_params"]
    logits = 3 * 4 * batch_size * loss_tokens * dims["vocab"]
    dist = 3 * 8 * max_points ** 2
    return 1500 + int((load + logits + dist) / 1e6)


def series_seconds(dims: dict, loss_bytes: int, n_probe: int, max_tokens: int) -> float:
    """Estimated CPU seconds (one thread) of one checkpoint in the series job.

    :data:`SERIES_SECONDS_FIXED` + :data:`SERIES_SECONDS_PER_PARAM_CLOUDS` x parameters +
    :data:`SERIES_SECONDS_PER_PARAM_TOKEN` x parameters x tokens evaluated (``loss_bytes / 4`` validation
    tokens, at ~4 bytes per subword token, plus at most ``n_probe x max_tokens`` probe tokens).

    Examples
    --------
    >>> round(series_seconds({"n_params": 162_201_600}, 100_000, 256, 64))
    456
    """
    tokens = loss_bytes / 4 + n_probe * max_tokens
    n = dims["n_params"]
    return SERIES_SECONDS_FIXED + SERIES_SECONDS_PER_PARAM_CLOUDS * n + SERIES_SECONDS_PER_PARAM_TOKEN * n * tokens


def series_runtime(dims: dict | None, n_checkpoints: int, loss_bytes: int, n_probe: int, max_tokens: int) -> int:
    """Minutes of one series job: 10 plus twice :func:`series_seconds` per checkpoint, in minutes; unknown
    shape: 600.

    Examples
    --------
    >>> series_runtime({"n_params": 162_201_600}, 10, 100_000, 256, 64)
    162
    """
    if dims is None:
        return 600
    return 10 + int(2 * n_checkpoints * series_seconds(dims, loss_bytes, n_probe, max_tokens) / 60)
