"""Figures of the pretrained-model comparison (tables from :mod:`toposcale.experiments.pretrained`).

Per (model, corpus): :func:`plot_summary` (H0/H1 total persistence, lifetimes and counts across layers
with interval bands), :func:`plot_h0_h1` (H0 against H1 across layers) and :func:`plot_betti` (Betti
curves of selected layers). Across models: :func:`plot_expansion` (H0 total persistence relative to the
embedding layer against relative depth, encoders against decoders, and the expansion ratios with
intervals). Bands and error bars are the subsampling intervals of the tables (NaN intervals, e.g. for
trained runs, are not drawn).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D

from toposcale.report.plots import style

DIM_COLORS = {"h0": style.PALETTE[0], "h1": style.PALETTE[3]}
KIND_COLORS = {"encoder": style.PALETTE[2], "decoder": style.PALETTE[1], "trained": "#555555"}


def _ordered(layers):
    return layers.sort_values("layer_index").reset_index(drop=True)


def _layer_axis(ax, names) -> None:
    n = len(names)
    step = max(1, int(np.ceil(n / 12)))
    ticks = sorted(range(n - 1, -1, -step))  # always label the last layer
    if ticks[0] != 0:  # and the first, replacing a tick too close to it
        ticks = [0] + (ticks[1:] if ticks[0] < step / 2 else ticks)
    ax.set_xticks(ticks)
    ax.set_xticklabels([names[i] for i in ticks], rotation=45, ha="right")
    ax.set_xlim(-0.5, len(names) - 0.5)


def _band(ax, x, df, col, color, label, marker="o", positive=True):
    y = df[col].to_numpy(dtype=float)
    ax.plot(x, y, marker=marker, ms=3.5, color=color, label=label)
    lo, hi = f"{col}_lo", f"{col}_hi"
    if lo in df and np.isfinite(df[lo]).any():
        low = df[lo].to_numpy(dtype=float)
        if positive:
            low = np.maximum(low, np.nanmin(y[y > 0]) * 0.5 if (y > 0).any() else low)
        ax.fill_between(x, low, df[hi].to_numpy(dtype=float), color=color, alpha=0.2, lw=0)


def _log_if_wide(ax, *arrays) -> None:
    vals = np.concatenate([np.asarray(a, dtype=float).ravel() for a in arrays])
    vals = vals[np.isfinite(vals) & (vals > 0)]
    if vals.size and vals.max() / vals.min() > 30:
        ax.set_yscale("log")


def _ci_note(df) -> str:
    n_res = int(df["n_resamples"].iloc[0]) if "n_resamples" in df else 0
    if n_res <= 0:
        return "no intervals"
    return (f"bands: central 95% of each value over {n_res} subsamples of {int(df['m'].iloc[0])}/"
            f"{int(df['n_points'].iloc[0])} texts (at m texts, not rescaled)")


def plot_summary(layers, path, title: str = "", dpi: int = 150) -> None:
    """Four panels across layers: total persistence (raw and scale-normalised), longest bars, bar counts.

    Parameters
    ----------
    layers : pandas.DataFrame
        The per-layer table of :func:`toposcale.experiments.pretrained.analyse_clouds`.
    """
    style.setup()
    df = _ordered(layers)
    names = list(df["layer"])
    x = np.arange(len(names))
    fig, axes = plt.subplots(2, 2, figsize=(12, 8.2), sharex=True)
    a = axes[0, 0]
    for d in ("h0", "h1"):
        _band(a, x, df, f"{d}_total_persistence", DIM_COLORS[d], d.upper())
    _log_if_wide(a, df["h0_total_persistence"], df["h1_total_persistence"])
    a.set_ylabel("total persistence (activation units)")
    a.set_title("(a) total persistence, raw")
    a = axes[0, 1]
    for d in ("h0", "h1"):
        _band(a, x, df, f"{d}_total_persistence_norm", DIM_COLORS[d], d.upper())
    _log_if_wide(a, df["h0_total_persistence_norm"], df["h1_total_persistence_norm"])
    a.set_ylabel("total persistence / scale")
    a.set_title("(b) total persistence, scale-normalised")
    a = axes[1, 0]
    _band(a, x, df, "scale", DIM_COLORS["h0"], "H0 (= scale, longest MST edge)")
    _band(a, x, df, "h1_max_lifetime", DIM_COLORS["h1"], "H1")
    _log_if_wide(a, df["scale"], df["h1_max_lifetime"])
    a.set_ylabel("longest finite bar (activation units)")
    a.set_title("(c) maximum lifetime")
    a = axes[1, 1]
    _band(a, x, df, "h0_n_significant", DIM_COLORS["h0"], "H0 significant", positive=False)
    _band(a, x, df, "h1_n_bars", DIM_COLORS["h1"], "H1 all bars", marker="s", positive=False)
    _band(a, x, df, "h1_n_significant", DIM_COLORS["h1"], "H1 significant", marker="^", positive=False)
    a.lines[-1].set_linestyle("--")
    a.set_ylabel("number of bars")
    a.set_title("(d) bar counts (significant: lifetime > noise fraction x scale)", fontsize=10)
    for a in axes.ravel():
        a.legend(loc="best")
    for a in axes[1]:
        _layer_axis(a, names)
        a.set_xlabel("layer")
    fig.suptitle(f"{title}: persistence across layers ({_ci_note(df)})", fontsize=12)
    fig.tight_layout()
    style.save(fig, path, dpi)


def plot_h0_h1(layers, path, title: str = "", dpi: int = 150) -> None:
    """Scale-normalised H0 against H1 total persistence, one point per layer joined in depth order."""
    style.setup()
    df = _ordered(layers)
    names = list(df["layer"])
    x0 = df["h0_total_persistence_norm"].to_numpy(dtype=float)
    y1 = df["h1_total_persistence_norm"].to_numpy(dtype=float)
    depth = df["depth"].to_numpy(dtype=float)
    fig, axes = plt.subplots(1, 2, figsize=(12, 5), gridspec_kw={"width_ratios": [1.1, 1]})
    a = axes[0]
    a.plot(x0, y1, color="0.6", lw=1, zorder=1)
    for col, err_axis in (("h0_total_persistence_norm", "x"), ("h1_total_persistence_norm", "y")):
        if f"{col}_lo" in df and np.isfinite(df[f"{col}_lo"]).any():
            lo = np.clip((df[col] - df[f"{col}_lo"]).to_numpy(dtype=float), 0, None)
            hi = np.clip((df[f"{col}_hi"] - df[col]).to_numpy(dtype=float), 0, None)
            kw = {"xerr": [lo, hi]} if err_axis == "x" else {"yerr": [lo, hi]}
            a.errorbar(x0, y1, fmt="none", ecolor="0.5", elinewidth=0.8, zorder=1, **kw)
    sc = a.scatter(x0, y1, c=depth, cmap="viridis", s=40, zorder=2, edgecolor="k", lw=0.4)
    fig.colorbar(sc, ax=a, label="relative depth (0 = embed, 1 = last layer)")
    for i in sorted({0, int(np.argmax(x0)), int(np.argmax(y1)), len(names) - 1}):
        a.annotate(names[i], (x0[i], y1[i]), textcoords="offset points", xytext=(5, 5), fontsize=9)
    _log_if_wide(a, y1)
    if np.isfinite(x0).all() and (x0 > 0).all() and x0.max() / x0.min() > 30:
        a.set_xscale("log")
    a.set_xlabel("H0 total persistence / scale")
    a.set_ylabel("H1 total persistence / scale")
    a.set_title("(a) H0 against H1 (error bars: 95% intervals)")
    a = axes[1]
    xi = np.arange(len(names))
    for col, d in (("h0_total_persistence_norm", "h0"), ("h1_total_persistence_norm", "h1")):
        v = df[col].to_numpy(dtype=float)
        top = np.nanmax(v) if np.nanmax(v) > 0 else 1.0
        a.plot(xi, v / top, marker="o", ms=3.5, color=DIM_COLORS[d], label=f"{d.upper()} (max {top:.3g})")
    a.set_ylabel("total persistence / scale, relative to its maximum")
    a.set_ylim(0, 1.05)
    _layer_axis(a, names)
    a.set_xlabel("layer")
    a.legend(loc="best")
    a.set_title("(b) shapes across layers")
    fig.suptitle(f"{title}: H0 and H1 across layers", fontsize=12)
    fig.tight_layout()
    style.save(fig, path, dpi)


def default_layers(names: list[str], show=()) -> list[str]:
    """Layers drawn in per-layer figures.

    The entries of ``show`` (config ``figures.layers_to_show``, shared with the trained runs) that this
    model has, in depth order; when none of them exists (or ``show`` is empty), ``embed``, the middle
    block, the last block and ``final`` when present.
    """
    chosen = [n for n in names if n in set(show)]
    if chosen:
        return chosen
    blocks = [n for n in names if n.startswith("block")]
    out = ["embed"] if "embed" in names else []
    if blocks:
        out += sorted({blocks[len(blocks) // 2], blocks[-1]}, key=names.index)
    if "final" in names:
        out.append("final")
    return out


def plot_betti(betti, layers, path, title: str = "", show=(), dpi: int = 150) -> None:
    """Betti curves beta_0(t) and beta_1(t) of selected layers, t in units of each layer's scale.

    Parameters
    ----------
    betti : pandas.DataFrame
        Long form ``layer, dim, t, betti`` (:func:`toposcale.experiments.pretrained.analyse_clouds`).
    show : sequence of str
        Layers to draw (config ``figures.layers_to_show``); empty = :func:`default_layers`.
    """
    style.setup()
    df = _ordered(layers)
    names = list(df["layer"])
    chosen = default_layers(names, show)
    colors = {name: style.PALETTE[i % len(style.PALETTE)] for i, name in enumerate(chosen)}
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6))
    for dim, a in zip((0, 1), axes):
        for name in chosen:
            sub = betti[(betti["layer"] == name) & (betti["dim"] == dim)].sort_values("t")
            info = df.loc[df["layer"] == name].iloc[0]
            label = f"{name} (scale {info['scale']:.3g}"
            if "n_distinct" in info and np.isfinite(info["n_distinct"]) and info["n_distinct"] < info["n_points"]:
                label += f"; {int(info['n_distinct'])} of {int(info['n_points'])} points distinct"
            a.step(sub["t"], sub["betti"], where="post", color=colors[name], label=label + ")")
        a.set_xlabel("filtration value t / scale (scale = longest MST edge of the layer)")
        a.set_ylabel(f"Betti number $\\beta_{dim}$")
        if dim == 0:
            a.set_yscale("log")
            a.set_title("(a) $\\beta_0$: connected components")
        else:
            a.set_title("(b) $\\beta_1$: independent loops")
        a.legend(loc="best")
    fig.suptitle(f"{title}: Betti curves of the Vietoris-Rips filtration", fontsize=12)
    fig.tight_layout()
    style.save(fig, path, dpi)


def _series_style(models_table):
    """Colour per model (kind colour family), line style per corpus."""
    corpora = list(dict.fromkeys(models_table["corpus"]))
    dashes = ["-", "--", ":", "-."]
    per_kind: dict[str, int] = {}
    styles = {}
    for model, kind, origin in models_table[["model", "kind", "origin"]].drop_duplicates("model").itertuples(index=False):
        family = "trained" if origin == "trained" else kind
        k = per_kind.get(family, 0)
        per_kind[family] = k + 1
        base = np.array(_hex_rgb(KIND_COLORS[family]))
        shade = base * (1 - 0.25 * k) if k else base
        styles[model] = (tuple(np.clip(shade, 0, 1)), family)
    return styles, {c: dashes[i % len(dashes)] for i, c in enumerate(corpora)}


def _hex_rgb(h: str):
    h = h.lstrip("#")
    return [int(h[i:i + 2], 16) / 255 for i in (0, 2, 4)]


def _ratio_rows(models_table, styles):
    """Rows of panel (c): every pretrained (model, corpus) as it is; the trained runs one row per corpus,
    model ``'trained (n)'``, with the median over runs of each ratio as the value and the min and max as
    its ``_lo``/``_hi`` (the range over runs, not an interval)."""
    import pandas as pd

    trained = models_table["model"].map(lambda m: styles[m][1] == "trained")
    rows = [models_table[~trained]]
    for corpus, g in models_table[trained].groupby("corpus", sort=False):
        row = {"model": f"trained ({len(g)})", "corpus": corpus}
        for key in ("expansion_ratio", "expansion_ratio_norm", "expansion_ratio_null"):
            if key in g:
                v = g[key].to_numpy(dtype=float)
                ok = np.isfinite(v).any()
                row.update({key: np.nanmedian(v) if ok else np.nan, f"{key}_lo": np.nanmin(v) if ok else np.nan,
                            f"{key}_hi": np.nanmax(v) if ok else np.nan})
        rows.append(pd.DataFrame([row]))
    return pd.concat(rows, ignore_index=True)


def plot_expansion(layer_table, models_table, path, dpi: int = 150) -> None:
    """Encoder-against-decoder expansion: H0 total persistence relative to the embedding layer.

    Panels (a) raw and (b) scale-normalised ``h0_total_persistence[_norm]_rel`` against relative depth,
    one line per (model, corpus) with its paired-subsample band; (c) the expansion ratios (maximum of
    the curves) with intervals, raw, scale-normalised and, where the table has it, null-adjusted
    (``expansion_ratio_null``: 1 = every layer as far from its covariance-matched Gaussian null as the
    embedding); an undefined ratio is annotated with its reason (e.g. a degenerate embedding cloud).
    Encoders green, decoders orange, line style marks the corpus. The study's own trained runs (often
    dozens) are thin grey lines with one legend entry, and one row per corpus in (c): their median with
    the range over runs as its bar (no subsample intervals exist for them).
    """
    style.setup()
    styles, dashes = _series_style(models_table)
    fig, axes = plt.subplots(1, 3, figsize=(17, 5.4), gridspec_kw={"width_ratios": [1, 1, 0.9]})
    for a, col, label in ((axes[0], "h0_total_persistence_rel", "raw"),
                          (axes[1], "h0_total_persistence_norm_rel", "scale-normalised")):
        values = []
        for (model, corpus), sub in layer_table.groupby(["model", "corpus"], sort=False):
            sub = sub.sort_values("layer_index")
            color, _ = styles[model]
            y = sub[col].to_numpy(dtype=float)
            if not np.isfinite(y).any():
                continue
            values.append(y)
            if styles[model][1] == "trained":      # many small runs: background, one legend entry
                a.plot(sub["depth"], y, color=color, ls=dashes.get(corpus, "-"), lw=0.7, alpha=0.45, zorder=1)
                continue
            a.plot(sub["depth"], y, color=color, ls=dashes.get(corpus, "-"), marker="o", ms=2.5, lw=1.4, zorder=3)
            if f"{col}_lo" in sub and np.isfinite(sub[f"{col}_lo"]).any():
                a.fill_between(sub["depth"], sub[f"{col}_lo"], sub[f"{col}_hi"], color=color, alpha=0.15, lw=0)
        a.axhline(1.0, color="0.3", lw=0.8, ls=":")
        if values:
            _log_if_wide(a, *values)
        a.set_xlabel("relative depth (0 = embedding output, 1 = last layer)")
        a.set_ylabel("H0 total persistence / embedding-layer value")
        a.set_title(f"({'a' if label == 'raw' else 'b'}) H0 total persistence relative to embed, {label}", fontsize=10.5)
    a = axes[2]
    rows = _ratio_rows(models_table, styles)
    ypos = np.arange(len(rows))[::-1]
    keys = [("expansion_ratio", "o", 0.2), ("expansion_ratio_norm", "s", 0.0)]
    if "expansion_ratio_null" in rows:
        keys.append(("expansion_ratio_null", "D", -0.2))
    for key, marker, off in keys:
        for y, (_, r) in zip(ypos, rows.iterrows()):
            color = styles[r["model"]][0] if r["model"] in styles else KIND_COLORS["trained"]
            v = r[key]
            if not np.isfinite(v):
                continue
            lo, hi = r.get(f"{key}_lo", np.nan), r.get(f"{key}_hi", np.nan)
            xerr = [[max(v - lo, 0)], [max(hi - v, 0)]] if np.isfinite(lo) else None
            a.errorbar([v], [y + off], xerr=xerr, fmt=marker, color=color, ms=6, capsize=3,
                       mfc="white" if key == "expansion_ratio_norm" else color)
    for y, (_, r) in zip(ypos, rows.iterrows()):
        if not np.isfinite(r["expansion_ratio"]):
            note = r.get("expansion_ratio_note")
            note = note if isinstance(note, str) and note else "embedding H0 total persistence is 0"
            a.annotate(f"undefined: {note}", (0.03, y), xycoords=("axes fraction", "data"),
                       va="center", fontsize=8.5, color="0.35")
    a.set_yticks(ypos)
    a.set_yticklabels([f"{r['model']} / {r['corpus']}" for _, r in rows.iterrows()])
    a.axvline(1.0, color="0.3", lw=0.8, ls=":")
    finite = rows[[k for k, _, _ in keys]].to_numpy(dtype=float)
    finite = finite[np.isfinite(finite) & (finite > 0)]
    if finite.size and finite.max() / max(finite.min(), 1e-12) > 10:
        a.set_xscale("log")
    a.set_xlabel("expansion ratio (peak / embedding H0 total persistence)")
    a.set_title("(c) expansion ratios with 95% intervals", fontsize=10.5)
    if any(str(m).startswith("trained (") for m in rows["model"]):
        a.set_title("(c) expansion ratios, 95% intervals (trained: median, range)", fontsize=10.5)
    markers = [Line2D([], [], marker="o", color="0.3", ls="", label="ratio: raw"),
               Line2D([], [], marker="s", color="0.3", mfc="white", ls="", label="ratio: scale-normalised")]
    if len(keys) > 2:
        markers.append(Line2D([], [], marker="D", color="0.3", ls="", label="ratio vs Gaussian null (1 = geometry only)"))
    handles = [Line2D([], [], color=c, lw=2, label=f"{m} ({fam})") for m, (c, fam) in styles.items()
               if fam != "trained"]
    n_trained = sum(fam == "trained" for _, fam in styles.values())
    if n_trained:
        handles.append(Line2D([], [], color=KIND_COLORS["trained"], lw=0.9, alpha=0.6,
                              label=f"this study's trained decoders ({n_trained})"))
    handles += [Line2D([], [], color="0.3", ls=ls, label=f"corpus {c}") for c, ls in dashes.items()]
    handles += markers
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 4), fontsize=9, frameon=False)
    kinds = sorted({fam for _, fam in styles.values()})
    fig.suptitle(f"Expansion of H0 total persistence with depth: {' vs '.join(kinds)} "
                 f"({len(styles)} models, {len(dashes)} corpora)", fontsize=12)
    fig.tight_layout(rect=(0, 0.06 + 0.035 * ((len(handles) - 1) // 4), 1, 1))
    style.save(fig, path, dpi)
