"""Fourier measures of the number-token embedding: power per frequency, the Fourier share, the Fourier plane.

The Fourier share is the fraction of the (token-centred) embedding's variance carried by its
:data:`TOP_FREQUENCIES` strongest Fourier frequencies over the token axis (see :func:`fourier_power`);
the Fourier plane is the embedding projected onto the plane of its strongest frequency.
"""

from __future__ import annotations

import numpy as np

#: Number of strongest Fourier frequencies whose power share is the Fourier progress measure.
TOP_FREQUENCIES = 5


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
