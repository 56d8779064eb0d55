"""Point clouds from checkpoints: weights and activations, per layer.

*weights*: each block's cloud has one point per neuron, a ``d_model``-dimensional vector: rows of the
input maps (``attn_qkv``: q, k and v rows; ``mlp_in``: the GELU input map, or SwiGLU's gate and up
maps), rows of ``attn_out``, and columns of ``mlp_out`` (a hidden unit's output weights). Which matrices
is ``topology.weight_matrices``; ``embed`` is the token-embedding matrix (one point per token). Weight
clouds are not PCA-projected.

*activations*: hidden states of the fixed probe set (``probe.npy``) after the embedding (token +
position), after each block and after the final LayerNorm, from one forward pass per checkpoint,
pooled per sequence (``last`` token, or ``mean`` over positions), centred and projected onto the top
``pca_components`` principal components fitted per layer and checkpoint (skipped when the width is
already <= k).

Clouds with more than ``max_points`` points are subsampled without replacement with a seed that depends
only on (config seed, source, layer), so the same points are kept at every checkpoint.

Output per (run, step): ``clouds/{run}/step{step}.npz`` holding ``{source}/{layer}`` (float64 points) and
``{source}/{layer}/baselines`` = [Frobenius norm, total variance, mean pairwise distance] of the cloud
before PCA and subsampling (mean pairwise distance on at most 2000 points).
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import torch

from toposcale.io import load_model_weights, savez_atomic
from toposcale.plan.study import layer_names
from toposcale.train.model import GPT, GPTConfig
from toposcale.train.trainer import pick_device

MATRIX_CHOICES = ("attn_qkv", "attn_out", "mlp_in", "mlp_out")


class ExtractionError(ValueError):
    """A point cloud could not be built (non-finite values, missing tensors)."""


def weight_clouds(state: dict, n_layers: int, matrices=("mlp_in",)) -> dict[str, np.ndarray]:
    """Neuron point clouds from a state dict of numpy arrays (see module docstring)."""
    out = {"embed": np.asarray(state["wte.weight"], dtype=np.float64)}
    for i in range(n_layers):
        p = f"blocks.{i}."
        parts = []
        for m in matrices:
            if m == "attn_qkv":
                parts.append(state[p + "attn.qkv.weight"])
            elif m == "attn_out":
                parts.append(state[p + "attn.out.weight"])
            elif m == "mlp_in":
                parts.append(state[p + "mlp.fc.weight"])
                if p + "mlp.up.weight" in state:
                    parts.append(state[p + "mlp.up.weight"])
            elif m == "mlp_out":
                parts.append(np.asarray(state[p + "mlp.proj.weight"]).T)
            else:
                raise ExtractionError(f"topology.weight_matrices: unknown matrix {m!r}; use {MATRIX_CHOICES}")
        out[f"block{i:02d}"] = np.concatenate([np.asarray(x, dtype=np.float64) for x in parts], axis=0)
    return out


def pool(hidden: np.ndarray, how: str) -> np.ndarray:
    """(batch, seq, d) -> (batch, d): last position or mean over positions (probe rows have no padding)."""
    if how == "last":
        return hidden[:, -1, :]
    if how == "mean":
        return hidden.mean(axis=1)
    raise ExtractionError(f"topology.pooling = {how!r}; use 'last' or 'mean'")


def pca_project(X: np.ndarray, k: int, return_explained: bool = False):
    """Centre ``X`` and project it on its top-``k`` principal axes (numpy SVD): the one PCA of the project.

    A cloud whose width is already <= ``k`` is returned unchanged (not centred: persistence only sees
    distances, which centring and rotation keep).

    Parameters
    ----------
    X : numpy.ndarray, shape (n, width)
    k : int
        Components kept (``topology.pca_components``).
    return_explained : bool
        Also return the fraction of the total variance the kept components carry (1.0 when nothing is
        dropped or the cloud has no variance).

    Returns
    -------
    Y or (Y, explained)
        ``Y`` of shape (n, min(k, n, width)) when projected.

    Examples
    --------
    >>> X = np.random.default_rng(0).normal(size=(40, 8))
    >>> pca_project(X, 3).shape, pca_project(X, 8) is X
    ((40, 3), True)
    >>> pca_project(X, 8, return_explained=True)[1]
    1.0
    """
    X = np.asarray(X, dtype=np.float64)
    if X.shape[1] <= k:
        return (X, 1.0) if return_explained else X
    Xc = X - X.mean(axis=0)
    _, s, vt = np.linalg.svd(Xc, full_matrices=False)
    Y = Xc @ vt[:k].T
    if not return_explained:
        return Y
    total = float((s ** 2).sum())
    return Y, (float((s[:k] ** 2).sum() / total) if total > 0 else 1.0)


def baselines(X: np.ndarray, max_pairs_points: int = 2000) -> np.ndarray:
    """[Frobenius norm, total variance (sum of coordinate variances), mean pairwise Euclidean distance]."""
    n = len(X)
    frob = float(np.linalg.norm(X))
    tv = float(X.var(axis=0).sum()) if n > 0 else 0.0
    Y = X[np.linspace(0, n - 1, min(n, max_pairs_points)).astype(int)] if n > max_pairs_points else X
    sq = np.einsum("ij,ij->i", Y, Y)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * Y @ Y.T, 0.0)
    m = len(Y)
    mpd = float(np.sqrt(d2)[np.triu_indices(m, 1)].mean()) if m > 1 else 0.0
    return np.array([frob, tv, mpd])


def subsample(X: np.ndarray, max_points: int, seed: int, source: str, layer: str) -> np.ndarray:
    """``max_points`` rows of ``X`` without replacement, in their original order (``X`` itself if it has no more).

    The generator is seeded with ``(seed, crc32("{source}/{layer}"))``, so a layer keeps the same row
    indices at every checkpoint.
    """
    if len(X) <= max_points:
        return X
    rng = np.random.default_rng([seed, zlib.crc32(f"{source}/{layer}".encode())])
    return X[np.sort(rng.choice(len(X), size=max_points, replace=False))]


def _check_finite(X: np.ndarray, where: str) -> None:
    bad = ~np.isfinite(X)
    if bad.any():
        raise ExtractionError(f"{where}: {int(bad.sum())} non-finite values (NaN/Inf) in the point cloud; the "
                              f"checkpoint has diverged. Lower training.lr and retrain this run")


def activation_clouds(model, probe: np.ndarray, pooling: str, batch_size: int = 64) -> dict[str, np.ndarray]:
    """Pooled hidden states of every layer for the probe set, from one forward pass per batch.

    Runs in float32 on every device, also on CUDA where training uses bf16 autocast: bf16 keeps 8
    significant bits, which would move points by ~0.4 % of their norm and merge near neighbours into
    spurious short H0 bars, while one forward pass of the probe set per checkpoint costs little anyway.
    """
    model.eval()
    pooled: list[list[np.ndarray]] | None = None
    with torch.no_grad():
        for i in range(0, len(probe), batch_size):
            x = torch.as_tensor(probe[i:i + batch_size], dtype=torch.long, device=next(model.parameters()).device)
            _, _, hidden = model(x, return_hidden=True)
            h = [pool(z.float().cpu().numpy().astype(np.float64), pooling) for z in hidden]
            pooled = [[a] for a in h] if pooled is None else [p + [a] for p, a in zip(pooled, h)]
    names = layer_names("activations", model.cfg.n_layers)
    return {name: np.concatenate(parts) for name, parts in zip(names, pooled)}


def write_clouds(path, clouds: dict[str, dict[str, np.ndarray]], topo: dict, seed: int, where: str) -> None:
    """Apply PCA (activations), subsampling and checks; save ``{source}/{layer}`` arrays atomically."""
    arrays = {}
    for source, layers in clouds.items():
        for layer, X in layers.items():
            _check_finite(X, f"{where}, source {source}, layer {layer}")
            arrays[f"{source}/{layer}/baselines"] = baselines(X)
            Y = pca_project(X, topo["pca_components"]) if source == "activations" else X
            arrays[f"{source}/{layer}"] = subsample(Y, topo["max_points"], seed, source, layer)
    savez_atomic(path, **arrays)


def extract_run(run: dict, config: dict, checkpoints: list, probe_path, outputs: list, threads: int = 1,
                log=print) -> None:
    """Write one clouds file per checkpoint of ``run`` (``checkpoints`` and ``outputs`` aligned)."""
    torch.set_num_threads(max(1, threads))
    topo = config["topology"]
    device = pick_device(config["training"]["device"])
    probe = np.load(probe_path)
    model = GPT(GPTConfig.from_run(run, config["corpus"]["seq_len"])).to(device)
    for ckpt, out in zip(checkpoints, outputs):
        load_model_weights(model, ckpt)
        clouds = {}
        if "weights" in topo["sources"]:
            state = {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}
            clouds["weights"] = weight_clouds(state, run["n_layers"], topo["weight_matrices"])
        if "activations" in topo["sources"]:
            clouds["activations"] = activation_clouds(model, probe, topo["pooling"])
        write_clouds(out, clouds, topo, config["seed"], where=f"run {run['name']}, checkpoint {ckpt}")
        log(f"[{run['name']}] clouds {Path(out).name} done")
