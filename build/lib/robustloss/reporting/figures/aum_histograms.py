"""Figure 6: AUM histograms of clean and corrupted samples, one panel per loss (CE, BL, PZ),
their means dashed, Cohen's d and the Wasserstein distance in the legend (paper: CIFAR-100,
eta = 0.1)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from robustloss.reporting.figures.records import MissingRecords, arrays, pick_dataset, pick_eta
from robustloss.reporting.figures.style import CLEAN, CORRUPTED, loss_label, new_figure, swept_params

LOSSES = ("ce", "blurry", "piecewise_zero")
NEEDS = ("AUM records (detector=aum) for CE, BL and PZ: `make reproduce-table5` or "
         "`make reproduce-figures`")


def choose(records: pd.DataFrame, dataset=None):
    aum = records[(records["detector"] == "aum") & records["loss"].isin(LOSSES)]
    aum = pick_dataset(aum, dataset, NEEDS)
    eta, aum = pick_eta(aum, 0.1)
    for _, group in aum.sort_values("seed").groupby("seed"):
        if set(group["loss"]) >= set(LOSSES):
            return eta, [group[group["loss"] == n].sort_values("created").iloc[-1] for n in LOSSES]
    raise MissingRecords(f"AUM records of CE, BL and PZ at one seed are missing; {NEEDS}")


def make(records: pd.DataFrame, dataset=None):
    eta, rows = choose(records, dataset)
    fig, axes = new_figure(1, 3, width=9.0, height=2.8, sharey=False)
    numbers, values = [], {}
    for row in rows:
        a = arrays(row)
        judged = a["judged"].astype(bool) & np.isfinite(a["aum"])
        values[row["id"]] = (a["aum"][judged], a["corrupted"].astype(bool)[judged])
    everything = np.concatenate([v for v, _ in values.values()])
    bins = np.linspace(everything.min(), everything.max(), 50)
    for ax, row in zip(axes[0], rows, strict=True):
        aum, corrupted = values[row["id"]]
        label = loss_label(row)
        for group, mask, colour in (("clean", ~corrupted, CLEAN), ("corrupted", corrupted, CORRUPTED)):
            ax.hist(aum[mask], bins=bins, color=colour, alpha=0.55, label=group)
            ax.axvline(aum[mask].mean(), color=colour, ls="--", lw=1.2)
        ax.text(0.03, 0.97, f"Cohen's d = {row['cohens_d']:.2f}\nWasserstein = {row['wasserstein']:.2f}",
                transform=ax.transAxes, va="top", ha="left", fontsize=8,
                bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "none"})
        ax.set(title=label, xlabel="AUM")
        param = next(iter(swept_params(row).values()), None)
        numbers.append({"loss": row["loss"], "label": label, "record": row["id"], "eta": eta,
                        "param": param,
                        "mean_clean": float(aum[~corrupted].mean()),
                        "mean_corrupted": float(aum[corrupted].mean()),
                        "cohens_d": row["cohens_d"], "wasserstein": row["wasserstein"],
                        "f1": row["f1"], "n_clean": int((~corrupted).sum()),
                        "n_corrupted": int(corrupted.sum())})
    axes[0, 0].set_ylabel("samples")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center left", frameon=False, bbox_to_anchor=(1.0, 0.5))
    fig.suptitle(f"{rows[0]['dataset']}, η = {eta:g}: AUM of clean and corrupted samples "
                 "(dashed: means)", x=0.02, ha="left", fontsize=10)
    return fig, with_paper_values(pd.DataFrame(numbers), rows[0]["dataset"])


def with_paper_values(numbers: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """The paper's Figure 6 numbers beside ours where they describe the same cell (CIFAR-100,
    eta = 0.1, BL gamma = 0.05, PZ c = 0.025); NaN elsewhere."""
    from robustloss.reporting.paper import DATASET_LABELS, published

    paper = published()
    paper = paper[paper["table"].str.startswith("figure6")
                  & (paper["dataset"] == DATASET_LABELS.get(dataset, dataset))]
    columns = {"CE": "ce", "BL": "blurry", "PZ": "piecewise_zero"}

    def key(loss, eta, param):
        return loss, float(eta), None if param is None or pd.isna(param) else float(param)

    for metric in ("cohens_d", "wasserstein"):
        values = {key(columns[r.loss], r.eta, r.param_value): r.mean
                  for r in paper[paper["metric"] == metric].itertuples()}
        numbers[f"paper_{metric}"] = [values.get(key(row.loss, row.eta, row.param), float("nan"))
                                      for row in numbers.itertuples()]
    return numbers
