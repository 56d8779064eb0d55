"""Grokking positive control: modular addition, its progress measures and an honest detection test.

Task
----
Inputs are the three tokens ``a b =`` with ``a, b`` in ``0 .. p-1`` and ``=`` the token ``p``; the
target is ``(a + b) mod p`` read out at the last position. All ``p**2`` pairs are split once, by seed,
into a training set (``train_fraction`` of the pairs) and a test set (the rest).

Model
-----
One transformer layer without LayerNorm: learned token (``p + 1`` rows) and position (3 rows)
embeddings of width ``d_model``, multi-head attention (``n_heads``), a ReLU MLP of width ``d_mlp``,
both added to the residual stream, then an untied unembedding to ``p`` logits. Only the last
position's output is read, and in a single layer nothing else depends on the other positions'
queries or MLP outputs, so the forward pass computes queries, the attention output and the MLP at
the last position only (keys and values at all three). The loss is identical to the full forward.

Training
--------
Full-batch AdamW (betas 0.9, 0.98) with linear warm-up over ``warmup_steps`` steps, then a constant
learning rate. The grokking arm uses ``weight_decay``; the control arm is identical except for
``control_weight_decay`` (0 by default), which memorises without generalising.

Progress measures (per checkpoint)
----------------------------------
* Fourier share: fraction of the (token-centred) embedding's variance carried by its 5 strongest
  Fourier frequencies over the token axis (see :func:`fourier_power`).
* Topology of three point clouds (see :func:`cloud_measures`): the ``p`` embedding rows of the number
  tokens (``embed``), the final-position residual stream for the inputs ``(a, 0, =)`` (``resid``), and
  the embedding projected onto the plane of its strongest Fourier frequency (``plane``); plus the
  plane's loop size (:func:`loop_size`) and the parameters' L2 norm (a non-topological reference).

Positive control (:func:`positive_control`)
-------------------------------------------
On the final checkpoint the grokked embedding's Fourier plane is a circle (one dominant, round H1
loop); the no-weight-decay control's is not.

Detection test (:func:`detection_summary`)
------------------------------------------
Checkpoints of both arms are labelled pre-grok (test accuracy < 0.2) or post-grok (> 0.99); each
measure's AUC for telling them apart gets a seed-cluster bootstrap interval. The control arm's
memorised checkpoints are pre-grok negatives at the same training steps as the grokked ones, so a
measure that merely tracks training time does not separate perfectly. Timing compares, per grok-arm
run, when the measure settles past the midpoint of its pre/post medians with when test accuracy
settles above 0.5.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from toposcale.io import atomic_path, savez_atomic, write_csv_atomic

ARMS = ("grok", "control")
#: Number of strongest Fourier frequencies whose power share is the Fourier progress measure.
TOP_FREQUENCIES = 5
#: Test-accuracy thresholds that define pre-grok and post-grok checkpoints in the detection test.
PRE_GROK_ACC = 0.2
POST_GROK_ACC = 0.99
#: Test accuracy at which grokking "happens" for the timing comparison.
GROK_ACC = 0.5
LOG_COLUMNS = ["step", "train_loss", "test_loss", "train_acc", "test_acc", "lr", "weight_norm", "elapsed_s"]


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------

def make_dataset(p: int):
    """All ``p**2`` inputs and labels of modular addition.

    Returns
    -------
    inputs : numpy.ndarray of int64, shape (p*p, 3)
        Row ``a*p + b`` is ``(a, b, p)``; ``p`` is the ``=`` token.
    labels : numpy.ndarray of int64, shape (p*p,)
        ``(a + b) mod p``.
    """
    if int(p) < 2:
        raise ValueError(f"p = {p} is too small; use a prime p >= 5 (e.g. 59)")
    a, b = np.divmod(np.arange(p * p, dtype=np.int64), p)
    inputs = np.stack([a, b, np.full_like(a, p)], axis=1)
    return inputs, (a + b) % p


def split_pairs(p: int, train_fraction: float, seed: int):
    """Deterministic train/test split of the ``p**2`` pair indices (``a*p + b``).

    A permutation drawn from ``numpy.random.default_rng(seed)``; the first
    ``round(train_fraction * p**2)`` indices (at least 1, at most ``p**2 - 1``) are the training set.
    Both index arrays are returned sorted.
    """
    if not 0.0 < float(train_fraction) < 1.0:
        raise ValueError(f"train_fraction = {train_fraction} must lie strictly between 0 and 1")
    n = int(p) * int(p)
    n_train = min(max(int(round(train_fraction * n)), 1), n - 1)
    perm = np.random.default_rng(int(seed)).permutation(n)
    return np.sort(perm[:n_train]), np.sort(perm[n_train:])


# --------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------

def _torch_model_class():
    import torch
    from torch import nn

    class GrokTransformer(nn.Module):
        """One-layer, LayerNorm-free transformer for ``a b =`` -> ``(a + b) mod p`` (see module doc)."""

        def __init__(self, p: int, d_model: int = 128, n_heads: int = 4, d_mlp: int = 512):
            super().__init__()
            if d_model % n_heads:
                raise ValueError(f"d_model = {d_model} is not divisible by n_heads = {n_heads}; "
                                 f"pick n_heads dividing d_model")
            self.p, self.d_model, self.n_heads, self.d_mlp = p, d_model, n_heads, d_mlp
            self.embed = nn.Embedding(p + 1, d_model)
            self.pos = nn.Parameter(torch.empty(3, d_model))
            self.q = nn.Linear(d_model, d_model, bias=False)
            self.k = nn.Linear(d_model, d_model, bias=False)
            self.v = nn.Linear(d_model, d_model, bias=False)
            self.o = nn.Linear(d_model, d_model, bias=False)
            self.mlp_in = nn.Linear(d_model, d_mlp)
            self.mlp_out = nn.Linear(d_mlp, d_model)
            self.unembed = nn.Linear(d_model, p, bias=False)
            for w in (self.embed.weight, self.pos):
                nn.init.normal_(w, std=d_model ** -0.5)

        def residual(self, x):
            """Final-position residual stream after the block, shape (batch, d_model)."""
            h = self.embed(x) + self.pos                                   # (B, 3, d)
            bsz, hd = x.shape[0], self.d_model // self.n_heads
            last = h[:, -1]                                                # (B, d)
            q = self.q(last).view(bsz, self.n_heads, 1, hd)
            k = self.k(h).view(bsz, 3, self.n_heads, hd).transpose(1, 2)   # (B, H, 3, hd)
            v = self.v(h).view(bsz, 3, self.n_heads, hd).transpose(1, 2)
            att = torch.softmax((q @ k.transpose(-1, -2)) / math.sqrt(hd), dim=-1)
            last = last + self.o((att @ v).reshape(bsz, self.d_model))
            return last + self.mlp_out(torch.relu(self.mlp_in(last)))

        def forward(self, x):
            """Logits over the ``p`` answers at the last position, shape (batch, p)."""
            return self.unembed(self.residual(x))

    return GrokTransformer


def build_model(p: int, d_model: int = 128, n_heads: int = 4, d_mlp: int = 512, seed: int = 0):
    """A freshly initialised :class:`GrokTransformer` (initialisation seeded by ``seed``)."""
    import torch

    torch.manual_seed(int(seed))
    return _torch_model_class()(int(p), int(d_model), int(n_heads), int(d_mlp))


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------

def checkpoint_steps(cfg: dict) -> list[int]:
    """Log-spaced checkpoint steps for the ``grokking`` config section (step 0 and ``steps`` included).

    The same schedule as the GPT runs (:func:`toposcale.plan.study.checkpoint_steps`), a pure function of
    ``cfg['steps']`` and ``cfg['n_checkpoints']``.
    """
    from toposcale.plan.study import checkpoint_steps as _steps

    return _steps(int(cfg["steps"]), int(cfg["n_checkpoints"]))


def arm_weight_decay(cfg: dict, arm: str) -> float:
    """Weight decay of an arm: ``weight_decay`` for ``grok``, ``control_weight_decay`` for ``control``."""
    if arm == "grok":
        return float(cfg["weight_decay"])
    if arm == "control":
        return float(cfg["control_weight_decay"])
    raise ValueError(f"unknown arm {arm!r}; use one of {ARMS}")


def checkpoint_path(outdir, step: int) -> Path:
    """``{outdir}/checkpoints/step{step:07d}.safetensors``."""
    return Path(outdir) / "checkpoints" / f"step{int(step):07d}.safetensors"


def _evaluate(model, x, y):
    import torch

    with torch.no_grad():
        logits = model(x)
        loss = torch.nn.functional.cross_entropy(logits, y).item()
        acc = (logits.argmax(-1) == y).float().mean().item()
    return loss, acc


def _save_state(model, path: Path) -> None:
    from safetensors.torch import save_file

    with atomic_path(path) as tmp:
        save_file({k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}, str(tmp))



def train(cfg: dict, arm: str, seed: int, outdir, threads: int = 1, log=print):
    """Train one arm of the grokking experiment and write its checkpoints and log.

    Parameters
    ----------
    cfg : dict
        The validated ``grokking`` config section (keys p, train_fraction, lr, weight_decay,
        control_weight_decay, steps, warmup_steps, d_model, n_heads, d_mlp, n_checkpoints).
    arm : {'grok', 'control'}
        Selects the weight decay (see :func:`arm_weight_decay`); everything else is shared.
    seed : int
        Seeds both the train/test split and the initialisation, so the two arms of one seed see the
        same split and start from the same weights.
    outdir : path
        Receives ``checkpoints/step{step:07d}.safetensors`` for every step of
        :func:`checkpoint_steps` (weights before that step's update; step 0 = initialisation) and
        ``log.csv`` with columns :data:`LOG_COLUMNS` (losses are mean cross-entropy in nats,
        accuracies fractions, ``weight_norm`` the L2 norm of all parameters, ``elapsed_s`` wall
        seconds since the start).
    threads : int
        ``torch.set_num_threads``.

    Returns
    -------
    pandas.DataFrame
        The log.
    """
    import time

    import pandas as pd
    import torch

    torch.set_num_threads(max(1, int(threads)))
    p = int(cfg["p"])
    wd = arm_weight_decay(cfg, arm)
    inputs, labels = make_dataset(p)
    tr, te = split_pairs(p, cfg["train_fraction"], seed)
    x_tr, y_tr = torch.from_numpy(inputs[tr]), torch.from_numpy(labels[tr])
    x_te, y_te = torch.from_numpy(inputs[te]), torch.from_numpy(labels[te])
    model = build_model(p, cfg["d_model"], cfg["n_heads"], cfg["d_mlp"], seed=seed)
    opt = torch.optim.AdamW(model.parameters(), lr=float(cfg["lr"]), betas=(0.9, 0.98), weight_decay=wd)
    warm = int(cfg["warmup_steps"])
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm) if warm > 0 else 1.0)
    steps = checkpoint_steps(cfg)
    wanted, rows, t0 = set(steps), [], time.perf_counter()
    for step in range(int(cfg["steps"]) + 1):
        if step in wanted:
            tr_loss, tr_acc = _evaluate(model, x_tr, y_tr)
            te_loss, te_acc = _evaluate(model, x_te, y_te)
            with torch.no_grad():
                norm = math.sqrt(sum(float((w ** 2).sum()) for w in model.parameters()))
            rows.append(dict(step=step, train_loss=tr_loss, test_loss=te_loss, train_acc=tr_acc,
                             test_acc=te_acc, lr=opt.param_groups[0]["lr"], weight_norm=norm,
                             elapsed_s=time.perf_counter() - t0))
            _save_state(model, checkpoint_path(outdir, step))
            log(f"[grokking {arm} s{seed}] step {step:6d}  train {tr_loss:.4f}/{tr_acc:.3f}  "
                f"test {te_loss:.4f}/{te_acc:.3f}  {rows[-1]['elapsed_s']:.1f}s")
        if step == int(cfg["steps"]):
            break
        loss = torch.nn.functional.cross_entropy(model(x_tr), y_tr)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    df = pd.DataFrame(rows, columns=LOG_COLUMNS)
    write_csv_atomic(df, Path(outdir) / "log.csv")
    return df


def load_checkpoint(path, cfg: dict):
    """Rebuild a model from a safetensors checkpoint written by :func:`train`."""
    from safetensors.torch import load_file

    model = build_model(cfg["p"], cfg["d_model"], cfg["n_heads"], cfg["d_mlp"])
    model.load_state_dict(load_file(str(path)))
    model.eval()
    return model


# --------------------------------------------------------------------------------------------
# Progress measures
# --------------------------------------------------------------------------------------------

def _check_embedding(E, p: int) -> np.ndarray:
    E = np.asarray(E, dtype=np.float64)
    if E.ndim != 2 or E.shape[0] != int(p):
        raise ValueError(f"embedding must have shape (p, d) = ({p}, d) (one row per number token), "
                         f"got {E.shape}; pass model.embed.weight[:p]")
    if not np.isfinite(E).all():
        raise ValueError("embedding contains NaN or Inf; the checkpoint is broken (diverged training?)")
    return E


def fourier_power(E, p: int) -> np.ndarray:
    """Power of the token-centred embedding at each Fourier frequency of the token axis.

    With ``Ec = E - mean_a E[a]`` and ``F_k = sum_a Ec[a] exp(-2 pi i k a / p)`` (a vector in
    embedding space), the power of frequency ``k = 1 .. p // 2`` is ``c_k |F_k|^2 / p`` summed over
    embedding dimensions, with ``c_k = 2`` (frequencies ``k`` and ``p - k`` together) except
    ``c_k = 1`` at ``k = p / 2`` for even ``p``. By Parseval the powers sum to the total variance
    ``sum_a ||Ec[a]||^2``.

    Parameters
    ----------
    E : array_like, shape (p, d)
        Embedding rows of the number tokens ``0 .. p-1``, in token order.
    p : int

    Returns
    -------
    numpy.ndarray, shape (p // 2,)
        Entry ``k - 1`` is the power of frequency ``k``.
    """
    E = _check_embedding(E, p)
    Ec = E - E.mean(axis=0, keepdims=True)
    F = np.fft.rfft(Ec, axis=0)[1:]                       # frequencies 1 .. p // 2
    power = (np.abs(F) ** 2).sum(axis=1) / p
    weight = np.full(power.shape, 2.0)
    if p % 2 == 0:
        weight[-1] = 1.0
    return power * weight


def fourier_share(E, p: int, top: int = TOP_FREQUENCIES) -> float:
    """Share of the embedding's variance on its ``top`` strongest Fourier frequencies, in [0, 1].

    ``sum of the top largest fourier_power(E, p) / sum of all``. A circular embedding
    ``E[a] = (cos 2 pi k a / p, sin 2 pi k a / p) R`` gives 1; isotropic noise gives about
    ``top / (p // 2)``. 0 for a constant embedding (no variance).
    """
    power = fourier_power(E, p)
    if not 1 <= int(top) <= power.size:
        raise ValueError(f"top = {top} must lie in [1, {power.size}] (the number of frequencies for p = {p})")
    total = power.sum()
    return float(np.sort(power)[::-1][:top].sum() / total) if total > 0 else 0.0


def strongest_frequency(E, p: int) -> int:
    """The frequency ``k`` in ``1 .. p // 2`` with the largest :func:`fourier_power`."""
    return int(np.argmax(fourier_power(E, p))) + 1


def fourier_plane(E, p: int, k: int | None = None) -> np.ndarray:
    """The token-centred embedding projected orthogonally onto the plane of Fourier frequency ``k``.

    The plane is spanned by ``u = sum_a Ec[a] cos(2 pi k a / p)`` and ``v = sum_a Ec[a] sin(2 pi k a /
    p)`` (real and imaginary parts of ``F_k``, see :func:`fourier_power`); the coordinates are those
    of every centred row ``Ec[a]`` in an orthonormal basis of that plane. The whole embedding is
    projected, not only its frequency-``k`` component, so a circle appears only if frequency ``k``
    dominates the variance in that plane.

    Parameters
    ----------
    E : array_like, shape (p, d)
    p : int
    k : int, optional
        Defaults to :func:`strongest_frequency`.

    Returns
    -------
    numpy.ndarray, shape (p, 2)
    """
    E = _check_embedding(E, p)
    if k is None:
        k = strongest_frequency(E, p)
    if not 1 <= int(k) <= p // 2:
        raise ValueError(f"frequency k = {k} must lie in [1, {p // 2}] for p = {p}")
    Ec = E - E.mean(axis=0, keepdims=True)
    angle = 2 * np.pi * int(k) * np.arange(p) / p
    basis, _ = np.linalg.qr(np.stack([np.cos(angle) @ Ec, np.sin(angle) @ Ec], axis=1))
    return Ec @ basis


def h1_lifetimes(h1) -> np.ndarray:
    """Lifetimes ``death - birth`` of the finite H1 bars with positive lifetime, longest first."""
    h1 = np.asarray(h1, dtype=np.float64).reshape(-1, 2)
    life = h1[:, 1] - h1[:, 0]
    life = life[np.isfinite(life) & (life > 0)]
    return np.sort(life)[::-1]


def dominance_ratio(h1) -> float:
    """Longest H1 lifetime over the second longest: ``inf`` with one bar, ``nan`` with none."""
    life = h1_lifetimes(h1)
    if life.size == 0:
        return float("nan")
    return float(life[0] / life[1]) if life.size > 1 else float("inf")


def dominance(h1) -> float:
    """Bounded form of :func:`dominance_ratio`: ``l1 / (l1 + l2)`` of the two longest H1 lifetimes.

    1 with a single bar, 0.5 when the two longest tie, 0 with no bar. ``ratio >= 3`` is
    ``dominance >= 0.75``.
    """
    life = h1_lifetimes(h1)
    if life.size == 0:
        return 0.0
    second = life[1] if life.size > 1 else 0.0
    return float(life[0] / (life[0] + second))


def rms_radius(X) -> float:
    """Root-mean-square distance of the points of ``X`` (n, k) from their centroid."""
    X = np.asarray(X, dtype=np.float64)
    return float(np.sqrt(((X - X.mean(axis=0)) ** 2).sum(axis=1).mean()))


def loop_size(X, h1) -> float:
    """Longest H1 lifetime of a cloud divided by its :func:`rms_radius` (0 with no bar or no spread).

    Scale-free size of the main loop relative to the cloud: ``sqrt(3) - 2 sin(pi / n)`` for ``n``
    evenly spaced points on a circle (1.63 for n = 59; the Rips loop is born at the neighbour
    spacing and dies at the side of the inscribed equilateral triangle), about 0.2-0.3 for the
    plane of a random Gaussian embedding (:func:`fourier_plane`).
    """
    life = h1_lifetimes(h1)
    radius = rms_radius(X)
    return float(life[0] / radius) if life.size and radius > 0 else 0.0


#: Per-cloud measure names (column suffixes of :func:`checkpoint_measures`).
CLOUD_MEASURES = ("scale", "h1_max_lifetime", "h1_max_lifetime_norm", "h1_n_long", "h1_dominance")
CLOUDS = ("embed", "resid", "plane")


def cloud_measures(X, noise_fraction: float = 0.05, backend: str = "auto", where: str = "cloud"):
    """Topological measures of one point cloud from its Vietoris-Rips diagrams.

    Returns
    -------
    measures : dict
        ``scale`` = largest finite H0 death (longest MST edge, coordinate units);
        ``h1_max_lifetime`` = longest H1 lifetime (coordinate units); ``h1_max_lifetime_norm`` =
        that divided by ``scale``; ``h1_n_long`` = number of H1 bars with lifetime
        ``> noise_fraction * scale`` (``h1_n_significant`` of :func:`toposcale.topology.metrics.diagram_metrics`);
        ``h1_dominance`` = :func:`dominance` of the H1 diagram.
    diagrams : toposcale.topology.homology.Diagrams
    """
    from toposcale.topology.homology import rips_persistence
    from toposcale.topology.metrics import diagram_metrics

    dg = rips_persistence(X, max_dim=1, backend=backend, where=where)
    m = diagram_metrics(dg.h0, dg.h1, noise_fraction=noise_fraction)
    finite = dg.h0[:, 1][np.isfinite(dg.h0[:, 1])]
    out = {"scale": float(finite.max()) if finite.size else 0.0,
           "h1_max_lifetime": m["h1_max_lifetime"], "h1_max_lifetime_norm": m["h1_max_lifetime_norm"],
           "h1_n_long": int(m["h1_n_significant"]), "h1_dominance": dominance(dg.h1)}
    return out, dg


def point_clouds(model) -> dict:
    """The three point clouds of a model, each with ``p`` rows (one per number ``a``).

    ``embed``: token embedding rows of ``0 .. p-1``; ``resid``: final-position residual stream after
    the block for the inputs ``(a, 0, =)``; ``plane``: :func:`fourier_plane` of ``embed``.
    """
    import torch

    p = model.p
    with torch.no_grad():
        E = model.embed.weight[:p].double().numpy()
        x = torch.stack([torch.arange(p), torch.zeros(p, dtype=torch.long), torch.full((p,), p)], dim=1)
        R = model.residual(x).double().numpy()
    return {"embed": E, "resid": R, "plane": fourier_plane(E, p)}


def checkpoint_measures(model, noise_fraction: float = 0.05, backend: str = "auto"):
    """All progress measures of one checkpoint.

    Returns
    -------
    row : dict
        ``fourier_share`` (:func:`fourier_share`, top 5), ``fourier_freq``
        (:func:`strongest_frequency`), ``plane_ratio`` (:func:`dominance_ratio` of the plane cloud),
        ``plane_loop_size`` (:func:`loop_size` of the plane cloud) and ``{cloud}_{measure}`` for
        cloud in :data:`CLOUDS` and measure in :data:`CLOUD_MEASURES`.
    diagrams : dict
        cloud name -> :class:`toposcale.topology.homology.Diagrams`; ``'plane_points'`` -> the (p, 2) plane.
    """
    clouds = point_clouds(model)
    row = {"fourier_share": fourier_share(clouds["embed"], model.p),
           "fourier_freq": strongest_frequency(clouds["embed"], model.p)}
    diagrams = {"plane_points": clouds["plane"]}
    for name in CLOUDS:
        m, dg = cloud_measures(clouds[name], noise_fraction, backend, where=f"grokking {name} cloud")
        row.update({f"{name}_{k}": v for k, v in m.items()})
        diagrams[name] = dg
    row["plane_ratio"] = dominance_ratio(diagrams["plane"].h1)
    row["plane_loop_size"] = loop_size(clouds["plane"], diagrams["plane"].h1)
    return row, diagrams


def measure_run(run_dir, cfg: dict, arm: str, seed: int, noise_fraction: float = 0.05,
                backend: str = "auto", threads: int = 1, diagrams_path=None):
    """Measures of every checkpoint of one run, joined with its log.

    Parameters
    ----------
    run_dir : path
        A folder written by :func:`train` (``log.csv`` and ``checkpoints/``).
    cfg : dict
        The ``grokking`` config section it was trained with.
    arm, seed
        Copied into the table.
    noise_fraction, backend
        See :func:`cloud_measures`.
    diagrams_path : path, optional
        If given, the embedding's H0/H1 diagrams and its Fourier-plane points and diagrams at every
        checkpoint are written there (see :func:`save_run_diagrams`).

    Returns
    -------
    pandas.DataFrame
        One row per checkpoint step: ``seed``, ``arm``, the :data:`LOG_COLUMNS` of ``log.csv`` and
        the keys of :func:`checkpoint_measures`.
    """
    import pandas as pd
    import torch

    torch.set_num_threads(max(1, int(threads)))
    log = pd.read_csv(Path(run_dir) / "log.csv")
    missing = [s for s in checkpoint_steps(cfg) if s not in set(log["step"])]
    if missing:
        raise ValueError(f"{run_dir}/log.csv lacks checkpoint steps {missing[:5]}; the run was trained "
                         f"with a different grokking config (steps / n_checkpoints); retrain it")
    rows, per_step = [], {}
    for step in log["step"]:
        model = load_checkpoint(checkpoint_path(run_dir, step), cfg)
        row, dg = checkpoint_measures(model, noise_fraction, backend)
        rows.append({"seed": int(seed), "arm": arm, "step": int(step), **row})
        per_step[int(step)] = dg
    if diagrams_path is not None:
        save_run_diagrams(diagrams_path, per_step)
    measures = [k for k in rows[0] if k not in ("seed", "arm", "step")]
    return pd.DataFrame(rows).merge(log, on="step")[["seed", "arm", *LOG_COLUMNS, *measures]]


def save_run_diagrams(path, per_step: dict) -> None:
    """Write the embedding and Fourier-plane diagrams of a run to one ``.npz`` (atomically).

    Keys: ``steps`` (int64), and per step ``embed_h0_{step}``, ``embed_h1_{step}``, ``plane_h1_{step}``
    ((k, 2) float64 ``(birth, death)`` rows) and ``plane_points_{step}`` ((p, 2) float64).
    """
    path = Path(path)
    payload = {"steps": np.array(sorted(per_step), dtype=np.int64)}
    for step, dg in per_step.items():
        payload[f"embed_h0_{step}"] = np.asarray(dg["embed"].h0, dtype=np.float64)
        payload[f"embed_h1_{step}"] = np.asarray(dg["embed"].h1, dtype=np.float64).reshape(-1, 2)
        payload[f"plane_h1_{step}"] = np.asarray(dg["plane"].h1, dtype=np.float64).reshape(-1, 2)
        payload[f"plane_points_{step}"] = np.asarray(dg["plane_points"], dtype=np.float64)
    savez_atomic(path, **payload)


def load_run_diagrams(path) -> dict:
    """Read :func:`save_run_diagrams`: ``{step: {'embed_h0', 'embed_h1', 'plane_h1', 'plane_points'}}``."""
    with np.load(Path(path), allow_pickle=False) as npz:
        return {int(s): {k: npz[f"{k}_{s}"] for k in ("embed_h0", "embed_h1", "plane_h1", "plane_points")}
                for s in npz["steps"]}


#: Positive-control thresholds: one dominant loop (longest H1 bar >= 3x the second) that is also
#: round (longest H1 lifetime >= 0.75 x the plane cloud's RMS radius, about half a perfect circle's).
MIN_DOMINANCE_RATIO = 3.0
MIN_LOOP_SIZE = 0.75


def positive_control(df, min_ratio: float = MIN_DOMINANCE_RATIO, min_loop: float = MIN_LOOP_SIZE):
    """The positive control on each run's final checkpoint.

    The grokked embedding, projected onto the plane of its strongest Fourier frequency
    (:func:`fourier_plane`), should be a circle: one dominant H1 bar (``plane_ratio``, longest over
    second-longest lifetime, ``>= min_ratio``) that is round (``plane_loop_size``, longest lifetime
    over the cloud's RMS radius, ``>= min_loop``). The no-grokking control should not be.

    The loop-size condition is needed because dominance alone is not specific: the plane is chosen
    for its strongest frequency, so even a random embedding is slightly circular in it (ratio about
    1.2-2 for p = 59, d = 128), and memorising controls reach ratios above 3 with small, noisy loops.

    Returns
    -------
    pandas.DataFrame
        One row per (seed, arm): ``step``, ``test_acc``, ``fourier_freq``, ``fourier_share``,
        ``plane_ratio``, ``plane_loop_size``, ``dominant`` (ratio >= min_ratio), ``round``
        (loop size >= min_loop), ``circle`` (both), ``expected`` (True for the grok arm), ``ok``
        (circle == expected) and ``ok_ratio_only`` (dominant == expected: the test with dominance
        alone).
    """
    final = df.sort_values("step").groupby(["seed", "arm"], as_index=False).tail(1)
    cols = ["seed", "arm", "step", "test_acc", "fourier_freq", "fourier_share", "plane_ratio", "plane_loop_size"]
    out = final[cols].copy()
    out["dominant"] = out["plane_ratio"].fillna(0) >= float(min_ratio)
    out["round"] = out["plane_loop_size"] >= float(min_loop)
    out["circle"] = out["dominant"] & out["round"]
    out["expected"] = out["arm"] == "grok"
    out["ok"] = out["circle"] == out["expected"]
    out["ok_ratio_only"] = out["dominant"] == out["expected"]
    return out.sort_values(["seed", "arm"], ascending=[True, False]).reset_index(drop=True)


def phase_steps(run) -> dict:
    """Checkpoints before, during and after grokking in one grok-arm run (for figures).

    ``before``: the last step with test accuracy < :data:`PRE_GROK_ACC` (the memorised state);
    ``during``: the step whose test accuracy is closest to :data:`GROK_ACC` after it; ``after``: the
    final step. Missing phases (a run that never grokked) are left out.
    """
    run = run.sort_values("step")
    steps, acc = run["step"].to_numpy(), run["test_acc"].to_numpy()
    out = {}
    pre = np.flatnonzero(acc < PRE_GROK_ACC)
    if pre.size:
        out["before"] = int(steps[pre[-1]])
    later = np.arange(pre[-1] + 1 if pre.size else 0, steps.size)
    mid = later[(acc[later] >= PRE_GROK_ACC) & (acc[later] <= POST_GROK_ACC)]
    if mid.size:
        out["during"] = int(steps[mid[np.argmin(np.abs(acc[mid] - GROK_ACC))]])
    out["after"] = int(steps[-1])
    return out


# --------------------------------------------------------------------------------------------
# Detection test
# --------------------------------------------------------------------------------------------

#: Measures tested for detecting grokking: name -> kind ('topological' or 'reference').
DETECTION_METRICS = {
    **{f"{c}_{m}": "topological" for c in CLOUDS for m in CLOUD_MEASURES if m != "scale"},
    **{f"{c}_scale": "topological" for c in ("embed", "resid")},
    "plane_loop_size": "topological",
    "fourier_share": "reference",
    "weight_norm": "reference",
}
SUMMARY_COLUMNS = ["metric", "kind", "direction", "auc", "auc_lo", "auc_hi", "auc_seed_min", "auc_seed_max",
                   "separates", "n_pre", "n_post", "n_seeds", "lead_steps", "lead_min", "lead_max",
                   "acc_cross_step", "metric_cross_step", "train_cross_step", "resolution_steps", "verdict",
                   "seed_verdicts"]


def auc(scores, labels) -> float:
    """Area under the ROC curve of ``scores`` for ``labels`` (Mann-Whitney form).

    ``P(s_pos > s_neg) + 0.5 P(s_pos == s_neg)`` over all (positive, negative) pairs: 1 when every
    positive scores higher than every negative, 0 when every one scores lower, 0.5 for no
    separation. NaN scores are dropped.

    Raises
    ------
    ValueError
        If, after dropping NaN, either class is empty.
    """
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels).astype(bool)
    if s.shape != y.shape:
        raise ValueError(f"scores {s.shape} and labels {y.shape} must have the same shape")
    keep = ~np.isnan(s)
    s, y = s[keep], y[keep]
    pos, neg = s[y], s[~y]
    if pos.size == 0 or neg.size == 0:
        raise ValueError(f"auc needs both classes; got {pos.size} positive and {neg.size} negative scores")
    from scipy.stats import rankdata

    ranks = rankdata(np.concatenate([pos, neg]))
    return float((ranks[: pos.size].sum() - pos.size * (pos.size + 1) / 2) / (pos.size * neg.size))


def grok_labels(test_acc) -> np.ndarray:
    """1 for post-grok (test accuracy > :data:`POST_GROK_ACC`), 0 for pre-grok (< :data:`PRE_GROK_ACC`),
    -1 for checkpoints in between (left out of the detection test)."""
    acc = np.asarray(test_acc, dtype=np.float64)
    return np.where(acc > POST_GROK_ACC, 1, np.where(acc < PRE_GROK_ACC, 0, -1))


def seed_bootstrap_auc(df, metric: str, n_boot: int = 2000, seed: int = 0, level: float = 0.95):
    """AUC of ``metric`` for post- vs pre-grok checkpoints, with a seed-cluster bootstrap interval.

    Every checkpoint of ``df`` (both arms) with a label from :func:`grok_labels` enters; the
    interval resamples whole seeds with replacement (checkpoints of one seed are not independent)
    and takes the percentile interval of the AUC over resamples that contain both classes.

    Returns
    -------
    (auc, lo, hi, n_pre, n_post)
    """
    lab = grok_labels(df["test_acc"])
    keep = lab >= 0
    d, lab = df.loc[keep], lab[keep]
    n_pre, n_post = int((lab == 0).sum()), int((lab == 1).sum())
    if n_pre == 0 or n_post == 0:
        return float("nan"), float("nan"), float("nan"), n_pre, n_post
    point = auc(d[metric].to_numpy(), lab)
    seeds = np.array(sorted(d["seed"].unique()))
    groups = {s: (d[metric].to_numpy()[d["seed"].to_numpy() == s], lab[d["seed"].to_numpy() == s]) for s in seeds}
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(int(n_boot)):
        pick = rng.choice(seeds, size=seeds.size, replace=True)
        s = np.concatenate([groups[k][0] for k in pick])
        y = np.concatenate([groups[k][1] for k in pick])
        if 0 < y.sum() < y.size and not np.isnan(s[y == 1]).all() and not np.isnan(s[y == 0]).all():
            boots.append(auc(s, y))
    if not boots:
        return point, float("nan"), float("nan"), n_pre, n_post
    alpha = (1 - level) / 2
    lo, hi = np.quantile(boots, [alpha, 1 - alpha])
    return point, float(lo), float(hi), n_pre, n_post


def per_seed_auc(df, metric: str) -> np.ndarray:
    """AUC of ``metric`` (post- vs pre-grok, both arms) within each seed that has both classes."""
    out = []
    for _, d in df.groupby("seed"):
        lab = grok_labels(d["test_acc"])
        keep = (lab >= 0) & d[metric].notna().to_numpy()
        if (lab[keep] == 0).any() and (lab[keep] == 1).any():
            out.append(auc(d[metric].to_numpy()[keep], lab[keep]))
    return np.array(out, dtype=np.float64)


def settle_step(steps, values, threshold: float, rising: bool = True) -> float:
    """Step from which ``values`` stay on the far side of ``threshold`` until the end.

    The far side is ``> threshold`` when ``rising`` (``< threshold`` otherwise). The crossing is
    located by linear interpolation between the last checkpoint on the near side and the next one;
    a series that starts on the far side settles at its first step; one that ends on the near side
    never settles (``nan``).
    """
    t = np.asarray(steps, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    far = v > threshold if rising else v < threshold
    if v.size == 0 or not far[-1]:
        return float("nan")
    near = np.flatnonzero(~far)
    if near.size == 0:
        return float(t[0])
    i = near[-1]
    v0, v1 = v[i], v[i + 1]
    frac = (threshold - v0) / (v1 - v0) if v1 != v0 else 0.0
    return float(t[i] + frac * (t[i + 1] - t[i]))


def seed_timing(run, metric: str) -> dict:
    """When one grok-arm run's ``metric`` moves, compared with its test accuracy.

    ``pre`` and ``post`` are the metric's medians over the run's pre- and post-grok checkpoints
    (:func:`grok_labels`); the metric's crossing is :func:`settle_step` at ``(pre + post) / 2``
    in the direction of ``post - pre``; accuracy's is :func:`settle_step` of test accuracy at
    :data:`GROK_ACC`. ``lead = acc_cross - metric_cross`` in steps (positive: the metric moves
    first). ``train_cross`` is the same for training accuracy (memorisation), for context.
    ``resolution`` is the gap between the two checkpoints around the accuracy crossing;
    the verdict is ``before`` if ``lead > resolution``, ``after`` if ``lead < -resolution``,
    ``with`` otherwise, and ``never`` if the run has no pre- or post-grok checkpoint, the medians
    are equal, or the metric does not settle. A measure that moves long before (after) grokking,
    so that its pre-grok (post-grok) median already sits at the other level, also reads ``never``.
    """
    run = run.sort_values("step")
    steps, lab = run["step"].to_numpy(), grok_labels(run["test_acc"])
    v = run[metric].to_numpy(dtype=np.float64)
    acc_cross = settle_step(steps, run["test_acc"], GROK_ACC, rising=True)
    train_cross = settle_step(steps, run["train_acc"], GROK_ACC) if "train_acc" in run else float("nan")
    out = dict(acc_cross=acc_cross, train_cross=train_cross, metric_cross=float("nan"), lead=float("nan"),
               resolution=float("nan"), direction="none", verdict="never")
    if np.isnan(acc_cross) or not (lab == 0).any() or not (lab == 1).any():
        return out
    k = int(np.searchsorted(steps, acc_cross))
    out["resolution"] = float(steps[min(k, steps.size - 1)] - steps[max(k - 1, 0)])
    pre, post = np.nanmedian(v[lab == 0]), np.nanmedian(v[lab == 1])
    if not np.isfinite(pre) or not np.isfinite(post) or pre == post:
        return out
    out["direction"] = "up" if post > pre else "down"
    cross = settle_step(steps, v, (pre + post) / 2, rising=post > pre)
    if np.isnan(cross):
        return out
    lead = acc_cross - cross
    verdict = "before" if lead > out["resolution"] else "after" if lead < -out["resolution"] else "with"
    out.update(metric_cross=cross, lead=lead, verdict=verdict)
    return out


def _overall_verdict(verdicts: list[str]) -> str:
    """The verdict shared by a strict majority of seeds, else ``mixed``."""
    values, counts = np.unique(verdicts, return_counts=True)
    best = int(np.argmax(counts))
    return str(values[best]) if counts[best] * 2 > len(verdicts) else "mixed"


def detection_summary(df, metrics=None, n_boot: int = 2000, seed: int = 0):
    """One row per metric: how well it separates pre- from post-grok checkpoints, and when it moves.

    Parameters
    ----------
    df : pandas.DataFrame
        The per-checkpoint table (:func:`measure_run` rows of every seed and arm).
    metrics : dict, optional
        name -> kind; defaults to :data:`DETECTION_METRICS` (those present in ``df``).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SUMMARY_COLUMNS`: ``auc`` (post- vs pre-grok checkpoints of both arms,
        :func:`seed_bootstrap_auc`; 1 = larger after grokking, 0 = smaller, 0.5 = no separation)
        with its 95 % seed-bootstrap interval ``auc_lo``/``auc_hi``; ``auc_seed_min``/``max`` over
        per-seed AUCs (:func:`per_seed_auc`); ``separates`` = the interval excludes 0.5 and every
        seed's AUC lies on the same side of 0.5 (a statement about consistency, not effect size:
        with 3 seeds the interval comes from at most 10 distinct resamples and is narrow, so read
        the AUC itself); ``n_pre``/``n_post`` checkpoints; ``direction`` = majority of per-seed
        directions (``up``: larger after grokking); timing over grok-arm runs
        (:func:`seed_timing`): ``lead_steps`` median lead (steps, positive = metric first),
        ``lead_min``/``lead_max`` over seeds, medians of ``acc_cross_step``, ``metric_cross_step``,
        ``train_cross_step`` (training accuracy settles above 0.5: memorisation) and
        ``resolution_steps``, ``verdict`` (majority of ``seed_verdicts``, or ``mixed``).
    """
    import pandas as pd

    metrics = {k: v for k, v in (metrics or DETECTION_METRICS).items() if k in df.columns}
    grok = df[df["arm"] == "grok"]
    rows = []
    for name, kind in metrics.items():
        a, lo, hi, n_pre, n_post = seed_bootstrap_auc(df, name, n_boot=n_boot, seed=seed)
        per_seed = per_seed_auc(df, name)
        consistent = per_seed.size > 0 and (bool((per_seed > 0.5).all()) or bool((per_seed < 0.5).all()))
        timings = [seed_timing(run, name) for _, run in grok.groupby("seed")]
        leads = np.array([t["lead"] for t in timings], dtype=np.float64)
        verdicts = [t["verdict"] for t in timings]
        finite = leads[np.isfinite(leads)]

        def med(key):
            vals = np.array([t[key] for t in timings], dtype=np.float64)
            return float(np.nanmedian(vals)) if np.isfinite(vals).any() else float("nan")

        direction = _overall_verdict([t["direction"] for t in timings]) if timings else "none"
        rows.append(dict(
            metric=name, kind=kind, direction=direction,
            auc=a, auc_lo=lo, auc_hi=hi,
            auc_seed_min=float(per_seed.min()) if per_seed.size else float("nan"),
            auc_seed_max=float(per_seed.max()) if per_seed.size else float("nan"),
            separates=bool(np.isfinite(lo) and (lo > 0.5 or hi < 0.5) and consistent),
            n_pre=n_pre, n_post=n_post, n_seeds=int(df["seed"].nunique()),
            lead_steps=float(np.median(finite)) if finite.size else float("nan"),
            lead_min=float(finite.min()) if finite.size else float("nan"),
            lead_max=float(finite.max()) if finite.size else float("nan"),
            acc_cross_step=med("acc_cross"), metric_cross_step=med("metric_cross"),
            train_cross_step=med("train_cross"),
            resolution_steps=med("resolution"),
            verdict=_overall_verdict(verdicts) if verdicts else "never", seed_verdicts=";".join(verdicts)))
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
