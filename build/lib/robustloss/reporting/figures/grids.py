"""Figures 3, 4 and 5, from Confident Learning records over the loss grids.

3: precision and recall against gamma (BL) and against c (PZ); Focal's as dotted lines.
4: heatmap of F1, rows eta; a block of baselines, a block over gamma, a block over c; the
   best cell of each row marked and boxed.
5: F1 against the CE warm-up delay d for PZ, one line per c, one panel per eta.
Values are means over seeds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.patches import Rectangle

from robustloss.reporting.figures.records import MissingRecords, pick_dataset, pick_eta
from robustloss.reporting.figures.style import LOSS_LABELS, PALETTE, new_figure

BASELINES = ("ce", "focal", "gce", "anl_ce", "anl_fl")
NEEDS_GRID = ("Confident Learning records of the BL and PZ grids and the baselines: `make demo`, "
              "`make reproduce-table1` or `make reproduce-figures`")
NEEDS_DELAY = ("PZ records over several delays: `make reproduce-figures` (sweep "
               "conf/experiment/fig5.yaml)")
PAPER_DELAY = {"blurry": 0, "piecewise_zero": 1}


def _cl(records: pd.DataFrame) -> pd.DataFrame:
    return records[records["detector"] == "confident_learning"]


def _paper_delay(records: pd.DataFrame) -> pd.DataFrame:
    """Grid records at the paper's delay (BL 0, PZ 1), so the delay sweep does not mix in."""
    keep = records["loss"].map(PAPER_DELAY).fillna(records["delay"]) == records["delay"]
    return records[keep]


def precision_recall(records: pd.DataFrame, dataset=None):
    """Figure 3 (paper: CIFAR-100, eta = 0.1)."""
    grid = _paper_delay(_cl(records))
    grid = pick_dataset(grid[grid["loss"].isin(["blurry", "piecewise_zero", "focal"])],
                        dataset, NEEDS_GRID)
    eta, grid = pick_eta(grid, 0.1)
    data = []
    for name, param in (("blurry", "gamma"), ("piecewise_zero", "c"), ("focal", None)):
        part = grid[grid["loss"] == name]
        if part.empty:
            raise MissingRecords(f"no {name} records at eta={eta}; {NEEDS_GRID}")
        keys = [param] if param else []
        means = part.groupby(keys)[["precision", "recall"]].mean() if keys else \
            part[["precision", "recall"]].mean().to_frame().T
        means = means.reset_index()
        data.append(means.assign(loss=name, param=param or "", value=means[param] if param else np.nan,
                                 seeds=part["seed"].nunique())[
            ["loss", "param", "value", "precision", "recall", "seeds"]])
    data = pd.concat(data, ignore_index=True)
    fig, axes = new_figure(1, 2, height=2.8, sharey=True)
    focal = data[data["loss"] == "focal"].iloc[0]
    for ax, name, symbol in ((axes[0, 0], "blurry", "γ"), (axes[0, 1], "piecewise_zero", "c")):
        part = data[data["loss"] == name].sort_values("value")
        for metric, colour in (("precision", PALETTE[0]), ("recall", PALETTE[1])):
            ax.plot(part["value"], part[metric], "o-", color=colour, ms=3, label=metric)
            ax.axhline(focal[metric], color=colour, ls=":", lw=1.2, label=f"FL {metric}")
        ax.set(xlabel=symbol, title=f"{LOSS_LABELS[name]} over {symbol}")
    axes[0, 0].set_ylabel("precision / recall")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center left", frameon=False, bbox_to_anchor=(1.0, 0.5))
    fig.suptitle(f"{grid['dataset'].iloc[0]}, η = {eta:g}", x=0.02, ha="left", fontsize=10)
    return fig, data


def f1_matrix(records: pd.DataFrame, dataset=None) -> pd.DataFrame:
    """Rows eta, columns baselines, BL over gamma, PZ over c: mean F1 over seeds."""
    grid = pick_dataset(_paper_delay(_cl(records)), dataset, NEEDS_GRID)
    columns = {}
    for name in BASELINES:
        part = grid[grid["loss"] == name]
        if not part.empty:
            columns[LOSS_LABELS[name]] = part.groupby("eta")["f1"].mean()
    for name, param, symbol in (("blurry", "gamma", "γ"), ("piecewise_zero", "c", "c")):
        part = grid[grid["loss"] == name]
        for value, sub in part.groupby(param):
            columns[f"{LOSS_LABELS[name]} {symbol}={value:g}"] = sub.groupby("eta")["f1"].mean()
    if not any(c.startswith("BL") for c in columns) or not any(c.startswith("PZ") for c in columns):
        raise MissingRecords(f"BL and PZ grid records are missing; {NEEDS_GRID}")
    matrix = pd.DataFrame(columns)
    matrix.index.name = "eta"
    matrix.attrs["dataset"] = grid["dataset"].iloc[0]
    return matrix


def heatmap(records: pd.DataFrame, dataset=None):
    """Figure 4 (paper: MNIST and CIFAR-100)."""
    matrix = f1_matrix(records, dataset)
    values = matrix.to_numpy(dtype=float)
    fig, axes = new_figure(1, 1, width=min(1.6 + 0.62 * matrix.shape[1], 14),
                           height=max(2.4, 1.3 + 0.42 * len(matrix)))
    ax = axes[0, 0]
    image = ax.imshow(values, cmap="viridis", aspect="auto")
    ax.set_xticks(range(matrix.shape[1]), matrix.columns, rotation=60, ha="right")
    ax.set_yticks(range(len(matrix)), [f"η={e:g}" for e in matrix.index])
    best = np.nanargmax(np.where(np.isnan(values), -np.inf, values), axis=1)
    for i, j in enumerate(best):
        ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, ec="white", lw=2.2))
    low, high = np.nanmin(values), np.nanmax(values)
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            if np.isnan(values[i, j]):
                ax.text(j, i, "–", ha="center", va="center", fontsize=7, color="grey")
            else:
                light = values[i, j] < low + 0.6 * (high - low)
                text = f"{values[i, j]:.3f}" + ("*" if j == best[i] else "")
                ax.text(j, i, text, ha="center", va="center", fontsize=6.5,
                        color="white" if light else "black",
                        fontweight="bold" if j == best[i] else "normal")
    blocks = [sum(not c.startswith(("BL", "PZ")) for c in matrix.columns),
              sum(c.startswith("BL") for c in matrix.columns)]
    for edge in np.cumsum(blocks):
        ax.axvline(edge - 0.5, color="white", lw=3)
    fig.colorbar(image, ax=ax, label="F1", fraction=0.025, pad=0.01)
    ax.set_title(f"F1, {matrix.attrs['dataset']} (mean over seeds; * and box: best of the row; "
                 "– not run)")
    data = matrix.reset_index()
    data["best_column"] = [matrix.columns[j] for j in best]
    return fig, data


def delays(records: pd.DataFrame, dataset=None):
    """Figure 5 (paper: CIFAR-100): F1 against delay d for PZ."""
    pz = _cl(records)
    pz = pz[pz["loss"] == "piecewise_zero"]
    counts = pz.groupby(["dataset"])["delay"].nunique()
    if pz.empty or counts.max() < 2:
        raise MissingRecords(NEEDS_DELAY)
    pz = pick_dataset(pz[pz["dataset"].isin(counts[counts >= 2].index)], dataset, NEEDS_DELAY)
    data = (pz.groupby(["eta", "c", "delay"])["f1"].agg(["mean", "std", "count"]).reset_index())
    swept = data.groupby(["eta", "c"])["delay"].transform("nunique") >= 2
    data = data[swept]  # a c run at one delay only (the grid's) is no line
    etas = sorted(data["eta"].unique())
    fig, axes = new_figure(1, len(etas), width=2.6 * len(etas), height=2.6, sharey=True)
    for ax, eta in zip(axes[0], etas, strict=True):
        for i, (c, line) in enumerate(data[data["eta"] == eta].groupby("c")):
            ax.plot(line["delay"], line["mean"], "o-", ms=3, color=PALETTE[i % len(PALETTE)],
                    label=f"c = {c:g}")
        ax.set(title=f"η = {eta:g}", xlabel="delay d (epochs of CE first)")
        ax.set_xticks(sorted(data["delay"].unique()))
    axes[0, 0].set_ylabel("F1")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center left", frameon=False, bbox_to_anchor=(1.0, 0.5))
    fig.suptitle(f"PZ, {pz['dataset'].iloc[0]}: F1 (mean over seeds) against the CE warm-up",
                 x=0.02, ha="left", fontsize=10)
    return fig, data
