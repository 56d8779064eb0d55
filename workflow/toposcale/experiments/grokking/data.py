"""The grokking task: modular addition and its one train/test split.

Inputs are the three tokens ``a b =`` with ``a, b`` in ``0 .. p-1`` and ``=`` the token ``p``; the
target is ``(a + b) mod p`` read out at the last position. All ``p**2`` pairs are split once, by seed,
into a training set (``train_fraction`` of the pairs) and a test set (the rest).
"""

from __future__ import annotations

import numpy as np


def make_dataset(p: int):
    """All ``p**2`` inputs and labels of modular addition.

    Returns
    -------
    inputs : numpy.ndarray of int64, shape (p*p, 3)
        Row ``a*p + b`` is ``(a, b, p)``; ``p`` is the ``=`` token.
    labels : numpy.ndarray of int64, shape (p*p,)
        ``(a + b) mod p``.

    Examples
    --------
    >>> inputs, labels = make_dataset(5)
    >>> inputs[3 * 5 + 4].tolist(), int(labels[3 * 5 + 4])
    ([3, 4, 5], 2)
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
