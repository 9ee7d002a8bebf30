"""Figures 2 and 7: per epoch, box plots of p_y (top row) and dL/dp_y (bottom row) for clean
(green) and corrupted (red) samples, one column per loss (CE, BL, PZ), from the training
dynamics recorded in records (``dynamics=first_fold``). Figure 2 truncates the derivative's
y-axis as the paper does; Figure 7 shows it whole."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from matplotlib.patches import Patch

from robustloss.components import losses
from robustloss.reporting.figures.records import MissingRecords, arrays, pick_dataset, pick_eta
from robustloss.reporting.figures.style import CLEAN, CORRUPTED, loss_label, new_figure, swept_params

LOSSES = ("ce", "blurry", "piecewise_zero")
NEEDS = ("records with dynamics for CE, BL and PZ: `make reproduce-figures` (sweep "
         "conf/experiment/fig2.yaml), or `python -m robustloss.run -m loss=ce,blurry dynamics=first_fold` "
         "and `loss=piecewise_zero dynamics=first_fold`")
PAPER_ETA = 0.4          # the paper's Figure 2: CIFAR-100, eta = 0.4
DERIVATIVE_YLIM = (-10.0, 2.0)   # Figure 2's truncation (most of CE's -1/p lies below)
P_FLOOR = 1e-6           # float16 p_y may round to 0; the derivatives need p > 0


def choose(records: pd.DataFrame, dataset: str | None):
    """(eta, rows): one record per loss of LOSSES with dynamics, same dataset, eta and seed;
    where a grid was run (several gamma or c), the setting with the best F1."""
    have = records[(records["dynamics"] != "none") & records["loss"].isin(LOSSES)]
    have = pick_dataset(have, dataset, NEEDS)
    eta, have = pick_eta(have, PAPER_ETA)
    for _seed, group in have.sort_values("seed").groupby("seed"):
        if set(group["loss"]) >= set(LOSSES):
            rows = [group[group["loss"] == name].sort_values(["f1", "created"]).iloc[-1]
                    for name in LOSSES]
            return eta, rows
    raise MissingRecords(f"CE, BL and PZ records with dynamics at one seed are missing; {NEEDS}")


def statistics(rows) -> pd.DataFrame:
    """Per loss, epoch and group (clean / corrupted): the box-plot numbers of p_y and dL/dp_y
    (quartiles, whiskers at the 5th / 95th percentile, mean), from the first fold or run."""
    out = []
    for row in rows:
        a = arrays(row)
        p_y = a["dynamics_p_y"][0].astype(np.float64)  # (N, epochs), first fold / run
        trained = np.isfinite(p_y[:, 0])
        corrupted = a["corrupted"].astype(bool)
        loss = losses.build(row["loss"], 2, **swept_params(row))
        label = loss_label(row, delay=True)
        for epoch in range(p_y.shape[1]):
            schedule_ce = epoch < row["delay"]
            for group, mask in (("clean", ~corrupted), ("corrupted", corrupted)):
                p = np.clip(p_y[trained & mask, epoch], P_FLOOR, 1.0)
                fn = losses.CrossEntropy() if schedule_ce else loss
                grad = fn.dloss_dp(torch.from_numpy(p)).numpy()
                for quantity, values in (("p_y", p), ("dL/dp_y", grad)):
                    q = np.percentile(values, [5, 25, 50, 75, 95])
                    out.append({"loss": row["loss"], "label": label, "record": row["id"],
                                "epoch": epoch + 1, "group": group, "quantity": quantity,
                                "n": len(values), "mean": float(values.mean()),
                                "p5": q[0], "q1": q[1], "median": q[2], "q3": q[3], "p95": q[4]})
    return pd.DataFrame(out)


def draw(stats: pd.DataFrame, eta: float, dataset: str, truncate: bool):
    labels = list(dict.fromkeys(stats["label"]))
    fig, axes = new_figure(2, len(labels), width=3.0 * len(labels), height=2.5)
    for col, label in enumerate(labels):
        for row_i, quantity in enumerate(("p_y", "dL/dp_y")):
            ax = axes[row_i, col]
            part = stats[(stats["label"] == label) & (stats["quantity"] == quantity)]
            boxes, positions, colours = [], [], []
            for _, r in part.iterrows():
                offset = -0.2 if r["group"] == "clean" else 0.2
                boxes.append({"med": r["median"], "q1": r["q1"], "q3": r["q3"],
                              "whislo": r["p5"], "whishi": r["p95"], "fliers": []})
                positions.append(r["epoch"] + offset)
                colours.append(CLEAN if r["group"] == "clean" else CORRUPTED)
            drawn = ax.bxp(boxes, positions=positions, widths=0.35, patch_artist=True,
                           showfliers=False, medianprops={"color": "black", "lw": 0.8})
            for patch, colour in zip(drawn["boxes"], colours, strict=True):
                patch.set(facecolor=colour, alpha=0.75, edgecolor=colour)
            epochs = sorted(part["epoch"].unique())
            ax.set_xticks(epochs)
            ax.set_xticklabels([str(e) if len(epochs) <= 12 or e % 5 == 0 else "" for e in epochs])
            if row_i == 0:
                ax.set(title=label, ylim=(-0.02, 1.02))
                ax.set_ylabel("$p_y$" if col == 0 else "")
            else:
                ax.set_xlabel("epoch")
                ax.set_ylabel(r"$\partial L / \partial p_y$" if col == 0 else "")
                ax.axhline(0, color="grey", lw=0.6, ls=":")
                if truncate:
                    ax.set_ylim(*DERIVATIVE_YLIM)
                else:
                    ax.set_yscale("symlog", linthresh=1.0)
    handles = [Patch(facecolor=CLEAN, alpha=0.75, label="clean"),
               Patch(facecolor=CORRUPTED, alpha=0.75, label="corrupted")]
    fig.legend(handles=handles, loc="upper right", ncol=2, frameon=False)
    fig.suptitle(f"{dataset}, η = {eta:g}: first fold's training samples"
                 + ("" if truncate else " (derivative axis not truncated, symlog)"),
                 x=0.02, ha="left", fontsize=10)
    return fig


def make_figure(records: pd.DataFrame, dataset: str | None, truncate: bool):
    eta, rows = choose(records, dataset)
    stats = statistics(rows)
    return draw(stats, eta, rows[0]["dataset"], truncate), stats


def make2(records, dataset=None):
    return make_figure(records, dataset, truncate=True)


def make7(records, dataset=None):
    return make_figure(records, dataset, truncate=False)
