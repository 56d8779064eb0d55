"""Tests on serially dependent series (checkpoints of one run): detrending in time, Fourier-phase
surrogates and Monte Carlo p-values. The one home of each; numpy only.

Neighbouring checkpoints are autocorrelated, so the t approximation for a correlation between two
trajectories (which assumes independent pairs) is anti-conservative. The null used here keeps the
autocorrelation: one series is replaced by *phase-randomised surrogates* (Ebisuzaki 1997, J. Climate
10:2147), series with the same mean and the same periodogram (hence the same circular
autocorrelation) whose Fourier phases are drawn uniformly at random, so they are independent of the
other series by construction. The statistic is recomputed on every surrogate exactly as on the data
(ranking, detrending, residualising included) and the p-value is the Monte Carlo rank of the observed
statistic among them (:func:`monte_carlo_pvalue`).
"""

from __future__ import annotations

import numpy as np


def detrend_degree(n: int) -> int:
    """Degree of the polynomial trend removed from a series of ``n`` points: ``min(3, n - 5)`` (>= 0)."""
    return int(max(0, min(3, n - 5)))


def detrend_rows(values, t, degree: int) -> np.ndarray:
    """Residuals of each row of ``values`` after a least-squares polynomial of ``degree`` in ``t``.

    Parameters
    ----------
    values : array_like, shape (..., n)
    t : array_like, shape (n,) or (B, n)
        Time of each point (e.g. log training step): shared by every row (1-D, then ``values`` may have
        any leading shape) or one row per row of a 2-D ``values``. Standardised per row before the fit.
        A row with fewer distinct times than coefficients gets a tiny ridge (``1e-10 * trace`` of its
        Gram matrix) so that it stays solvable.

    Returns
    -------
    numpy.ndarray, shape of ``values``
        ``values - X beta`` with ``X = [1, u, ..., u^degree]``, ``u`` the standardised ``t`` and
        ``beta`` the (ridge-stabilised) least-squares coefficients of each row.

    Examples
    --------
    >>> bool(np.allclose(detrend_rows([[1.0, 3.0, 5.0, 7.0]], [0.0, 1.0, 2.0, 3.0], 1), 0.0))
    True
    """
    values = np.asarray(values, dtype=float)
    t = np.asarray(t, dtype=float)
    u = (t - t.mean(axis=-1, keepdims=True)) / np.maximum(t.std(axis=-1, keepdims=True), 1e-12)
    design = np.stack([u ** k for k in range(degree + 1)], axis=-1)           # ([B,] n, degree + 1)
    gram = np.einsum("...nk,...nl->...kl", design, design)
    gram = gram + 1e-10 * np.eye(degree + 1) * np.trace(gram, axis1=-2, axis2=-1)[..., None, None]
    if t.ndim == 1:  # one projection for every row: residual maker I - X (X'X)^-1 X'
        hat = design @ np.linalg.solve(gram, design.T)
        return values - values @ hat.T
    rhs = np.einsum("bnk,bn->bk", design, values)
    coef = np.linalg.solve(gram, rhs[..., None])[..., 0]
    return values - np.einsum("bnk,bk->bn", design, coef)


def phase_surrogates(x, n_surrogates: int, seed: int = 0, symmetric: bool = True) -> np.ndarray:
    """Fourier-phase-randomised copies of a series (Ebisuzaki 1997), by default of its symmetric extension.

    With ``symmetric`` the series ``x`` (length ``n``) is first extended to ``e = (x, reversed x)``
    (length ``2n``), which joins its ends without a jump; otherwise ``e = x``. With ``E_k`` the discrete
    Fourier transform of ``e - mean(e)``, surrogate ``b`` is the inverse transform of
    ``|E_k| exp(i phi_bk)`` for ``0 < k < len(e) / 2`` with ``phi_bk`` uniform on ``[0, 2 pi)``
    independently, ``E_0 = 0`` and the real Nyquist coefficient of an even length multiplied by a
    random sign, plus ``mean(x)``; its first ``n`` points are kept. Every surrogate of ``e`` has the
    periodogram of ``e``, so the kept window has the autocorrelation of a stationary series with that
    spectrum and is independent of any other series. Without the extension the jump between the two
    ends of a strongly autocorrelated short series shows up as high-frequency power and the
    surrogates are too rough (a test on them is anti-conservative; see the README calibration table).

    Parameters
    ----------
    x : array_like, shape (..., n)
        Finite values in time order (leading axes: independent series).
    n_surrogates : int
        Number of surrogates ``B`` per series (>= 1).
    seed : int
        Seed of the phases (``numpy.random.default_rng``).
    symmetric : bool
        Randomise the symmetric extension (default) or ``x`` itself.

    Returns
    -------
    numpy.ndarray, shape (..., B, n)

    Examples
    --------
    >>> s = phase_surrogates([1.0, 3.0, 2.0, 5.0, 4.0], 3, seed=1, symmetric=False)
    >>> s.shape, bool(np.allclose(s.mean(axis=-1), 3.0))
    ((3, 5), True)
    """
    x = np.asarray(x, dtype=float)
    if x.ndim < 1 or not np.all(np.isfinite(x)):
        raise ValueError(f"x must be finite series along its last axis, got shape {x.shape}")
    if n_surrogates < 1:
        raise ValueError(f"n_surrogates={n_surrogates} must be positive")
    n = x.shape[-1]
    mean = x.mean(axis=-1, keepdims=True)
    e = np.concatenate([x, x[..., ::-1]], axis=-1) if symmetric else x
    m = e.shape[-1]
    spec = np.fft.rfft(e - mean, axis=-1)[..., None, :]                        # (..., 1, m // 2 + 1)
    rng = np.random.default_rng(seed)
    phases = np.exp(2j * np.pi * rng.random(x.shape[:-1] + (n_surrogates, spec.shape[-1])))
    phases[..., 0] = 0.0
    if m % 2 == 0:
        phases[..., -1] = rng.choice([-1.0, 1.0], size=phases.shape[:-1])
    return np.fft.irfft(spec * phases, n=m, axis=-1)[..., :n] + mean[..., None, :]


def unit_rows(a) -> np.ndarray:
    """Each row (last axis) of ``a`` centred and scaled to unit Euclidean norm, so that the dot product
    of two such rows is their Pearson correlation; a row with norm <= ``1e-12 * n`` times
    ``max(1, its largest absolute value)`` becomes NaN (a constant row has no correlation)."""
    a = np.asarray(a, dtype=float)
    c = a - a.mean(axis=-1, keepdims=True)
    norm = np.sqrt(np.sum(c * c, axis=-1, keepdims=True))
    scale = np.maximum(np.abs(a).max(axis=-1, keepdims=True), 1.0)
    ok = norm > 1e-12 * a.shape[-1] * scale
    return np.where(ok, c / np.where(ok, norm, 1.0), np.nan)


def monte_carlo_pvalue(observed, null):
    """Two-sided Monte Carlo p-value ``(1 + #{|T*| >= |T|}) / (1 + B)`` of a statistic ``T``.

    ``null`` holds the statistic on ``B`` surrogates along its last axis (leading axes match
    ``observed``); NaN entries are dropped (and not counted in ``B``), and ``|T*| >= |T| - 1e-12``
    counts as reaching it, so ties are never in the data's favour. NaN where ``T`` is NaN or no
    surrogate statistic is finite. The smallest attainable value is ``1 / (1 + B)``.

    Returns
    -------
    float for a scalar ``observed``, else numpy.ndarray of its shape.

    Examples
    --------
    >>> monte_carlo_pvalue(0.5, [0.1, -0.6, 0.2, np.nan, 0.3])
    0.4
    """
    obs = np.asarray(observed, dtype=float)
    null = np.asarray(null, dtype=float)
    finite = np.isfinite(null)
    count = np.sum(finite & (np.abs(np.where(finite, null, 0.0)) >= np.abs(obs)[..., None] - 1e-12), axis=-1)
    size = finite.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(np.isfinite(obs) & (size > 0), (1.0 + count) / (1.0 + size), np.nan)
    return float(p) if p.ndim == 0 else p
