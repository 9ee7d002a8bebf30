"""Figure 8 (ours, not the paper's): F1 against eta, a line per loss, a panel per noise kind
(a row per detector), so one look says whether Blurry and Piecewise-zero Loss still help
under realistic noise. BL and PZ at their best gamma / c per eta (mean over seeds), as the
tables choose; error bars: std over seeds."""

from __future__ import annotations

import pandas as pd

from robustloss.reporting.figures.records import MissingRecords, pick_dataset
from robustloss.reporting.figures.style import LOSS_LABELS, LOSS_ORDER, loss_colour, new_figure

KIND_ORDER = ("symmetric", "asymmetric", "pairflip", "instance")
NEEDS = ("records of several noise kinds: `make reproduce-noise` (conf/experiment/noise_kinds.yaml) "
         "or `robustloss run -m noise=symmetric,asymmetric,pairflip,instance ...`")
DETECTOR_LABELS = {"confident_learning": "Confident Learning", "aum": "AUM"}


def best_per_eta(records: pd.DataFrame) -> pd.DataFrame:
    """One row per (detector, noise, loss, eta): the variant (gamma / c / delay) with the best
    mean F1 over seeds; mean, std, seeds, that variant's parameter and the realised rate."""
    keys = ["detector", "noise", "loss", "eta"]
    stats = (records.assign(param=records["gamma"].fillna(records["c"]))
             .groupby([*keys, "param", "delay"], dropna=False)
             .agg(f1=("f1", "mean"), std=("f1", "std"), seeds=("seed", "nunique"),
                  realised=("realised", "mean"))
             .reset_index())
    best = stats.sort_values("f1", ascending=False).groupby(keys).head(1)
    return best.sort_values(keys).reset_index(drop=True)


def make(records: pd.DataFrame, dataset=None):
    records = pick_dataset(records, dataset, NEEDS)
    if records["noise"].nunique() < 2:
        raise MissingRecords(f"only {records['noise'].iloc[0]} noise for "
                             f"{records['dataset'].iloc[0]}; {NEEDS}")
    data = best_per_eta(records)
    kinds = [k for k in KIND_ORDER if k in set(data["noise"])]
    kinds += sorted(set(data["noise"]) - set(kinds))
    detectors = [d for d in DETECTOR_LABELS if d in set(data["detector"])]
    fig, axes = new_figure(len(detectors), len(kinds), width=2.3 * len(kinds) + 1.2,
                           height=2.6, sharey="row", sharex=True)
    losses = [name for name in LOSS_ORDER if name in set(data["loss"])]
    for row, detector in enumerate(detectors):
        for col, kind in enumerate(kinds):
            ax = axes[row, col]
            part = data[(data["detector"] == detector) & (data["noise"] == kind)]
            for name in losses:
                line = part[part["loss"] == name]
                if line.empty:
                    continue
                bold = name in ("blurry", "piecewise_zero")
                ax.errorbar(line["eta"], line["f1"], yerr=line["std"].fillna(0),
                            color=loss_colour(name), marker="o", ms=3,
                            lw=2.0 if bold else 1.0, ls="-" if bold else "--", capsize=2,
                            label=LOSS_LABELS[name] + (" (best γ)" if name == "blurry" else
                                                       " (best c)" if name == "piecewise_zero" else ""))
            title = kind if row == 0 else ""
            if kind == "asymmetric" and not part.empty:
                title += "\n(realised " + ", ".join(
                    f"{r:.2f}" for r in part.groupby("eta")["realised"].mean()) + ")"
            ax.set_title(title, fontsize=9)
            if row == len(detectors) - 1:
                ax.set_xlabel("η (as set)")
            if col == 0:
                ax.set_ylabel(f"F1, {DETECTOR_LABELS[detector]}")
            ax.set_xticks(sorted(set(data["eta"])))
            ax.grid(alpha=0.3, lw=0.5)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    for ax in axes.flat:  # a legend entry for every loss drawn in any panel
        for h, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if label not in labels:
                handles.append(h)
                labels.append(label)
    fig.legend(handles, labels, loc="center left", frameon=False, bbox_to_anchor=(1.0, 0.5))
    seeds = sorted(set(data["seeds"]))
    fig.suptitle(f"{records['dataset'].iloc[0]}: F1 against η per noise kind "
                 f"(mean ± std over {'/'.join(map(str, seeds))} seed(s))", x=0.02, ha="left",
                 fontsize=10)
    return fig, data
