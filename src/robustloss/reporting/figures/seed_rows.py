"""Figure 9 (ours): Table 1 rows over seeds. Per loss, each seed's score as a dot and our
mean as a dash, over the paper's mean ± 2σ (20 trials) as a band; a panel per dataset (at
the paper's η = 0.2 when recorded), F1 on top and balanced accuracy below. Confident
Learning, symmetric noise; BL and PZ at the γ / c with the most seeds (then the best mean F1)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from robustloss.reporting.figures.records import MissingRecords, pick_eta
from robustloss.reporting.figures.style import LOSS_LABELS, LOSS_ORDER, loss_colour, new_figure
from robustloss.reporting.paper import DATASET_LABELS, LOSS_COLUMNS, MIN_STD, parameter_text, published
from robustloss.reporting.seed_statistics import most_seeded

NEEDS = "Table 1 records over seeds: `make reproduce-table1-rows` (docs: reproducing)"
METRICS = {"f1": "F1", "balanced_accuracy": "balanced accuracy"}
TABLE_OF = {"f1": "table1_f1", "balanced_accuracy": "table2_balanced_accuracy"}


def chosen_records(records: pd.DataFrame) -> pd.DataFrame:
    """Confident Learning, symmetric noise, per (dataset, loss) at one η (0.2 when present)
    the parameter value the tables pick (``seed_statistics.most_seeded``)."""
    records = records[(records["detector"] == "confident_learning") & (records["noise"] == "symmetric")]
    if records.empty:
        raise MissingRecords(NEEDS)
    out = []
    for _, group in records.groupby("dataset"):
        _, group = pick_eta(group, 0.2)
        group = group.assign(param=group["gamma"].fillna(group["c"]).fillna(-1))
        out.append(most_seeded(group, ["loss"], "param"))
    chosen = pd.concat(out, ignore_index=True)
    if chosen.groupby(["dataset", "loss"])["seed"].nunique().max() < 2:
        raise MissingRecords(f"one seed per cell only; {NEEDS}")
    return chosen


def paper_band(dataset: str, eta: float, loss: str, metric: str) -> tuple[float, float, float]:
    """The paper's (mean, sd, γ or c) of a Table 1 / 2 cell; NaNs where it has none (the
    parameter is NaN for the losses without one)."""
    paper = published()
    label = DATASET_LABELS.get(dataset.split(" (n=")[0])
    row = paper[(paper["table"] == TABLE_OF[metric]) & (paper["dataset"] == label)
                & (paper["eta"] == eta) & (paper["loss"] == LOSS_LABELS[loss])]
    if row.empty:
        return np.nan, np.nan, np.nan
    return (float(row["mean"].iloc[0]), max(float(row["std"].iloc[0]), MIN_STD),
            float(row["param_value"].iloc[0]))


def tick_label(loss: str, param: float, paper_param: float) -> str:
    """'BL γ=0.4', and the paper's value under it where its band is at another one (Table 2
    gives BL / PZ at their best parameter for balanced accuracy)."""
    swept = LOSS_COLUMNS[loss][1]
    if swept is None:   # FL's and ANL-FL's gamma are fixed, not swept
        return LOSS_LABELS[loss]
    text = f"{LOSS_LABELS[loss]} {parameter_text(swept, param)}"
    if not np.isnan(paper_param) and not np.isclose(param, paper_param):
        text += f"\n(paper {parameter_text(swept, paper_param)})"
    return text


def make(records: pd.DataFrame, dataset=None):
    chosen = chosen_records(records if dataset is None else records[records["dataset"] == dataset])
    datasets = sorted(chosen["dataset"].unique(), key=lambda d: (d != "mnist", d))
    most = chosen.groupby("dataset")["loss"].nunique().max()
    fig, axes = new_figure(len(METRICS), len(datasets), width=max(3.6, 0.85 * most) * len(datasets),
                           height=2.9)
    rng = np.random.default_rng(0)   # horizontal jitter of the dots only
    rows = []
    for col, name in enumerate(datasets):
        data = chosen[chosen["dataset"] == name]
        eta = float(data["eta"].iloc[0])
        losses = [loss for loss in LOSS_ORDER if loss in set(data["loss"])]
        for row, (metric, label) in enumerate(METRICS.items()):
            ax = axes[row][col]
            ticks = []
            for x, loss in enumerate(losses):
                scores = data.loc[data["loss"] == loss, metric].to_numpy()
                mean, sd, paper_param = paper_band(name, eta, loss, metric)
                if not np.isnan(mean):
                    ax.fill_between([x - 0.35, x + 0.35], mean - 2 * sd, mean + 2 * sd,
                                    color="0.85", lw=0, label="paper mean ± 2σ" if x == 0 else None)
                    ax.plot([x - 0.35, x + 0.35], [mean, mean], color="0.55", lw=0.8)
                ax.scatter(x + rng.uniform(-0.15, 0.15, len(scores)), scores, s=12, zorder=3,
                           color=loss_colour(loss), label=None)
                ax.plot([x - 0.25, x + 0.25], [scores.mean()] * 2, color="black", lw=1.4, zorder=4,
                        label="our mean" if x == 0 else None)
                param = data.loc[data["loss"] == loss, "param"].iloc[0]
                ticks.append(tick_label(loss, param, paper_param))
                rows.append({"dataset": name, "eta": eta, "loss": loss,
                             "parameter": None if param == -1 else param, "metric": metric,
                             "seeds": len(scores), "mean": scores.mean(), "paper_mean": mean,
                             "paper_sd": sd})
            ax.set_xlim(-0.6, max(len(losses), 3) - 0.4)   # a lone loss keeps a loss's width
            ax.set_xticks(range(len(losses)))
            ax.set_xticklabels(ticks, rotation=30, ha="right")
            ax.set_ylabel(label)
            if row == 0:
                low, high = data.groupby("loss")["seed"].nunique().agg(["min", "max"])
                count = (f"{low}–{high} seeds per loss" if low != high
                         else f"{low} seed{'s' if low > 1 else ''}")
                ax.set_title(f"{DATASET_LABELS.get(name, name)}, η = {eta:g} ({count})")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, frameon=False, bbox_to_anchor=(0.5, -0.04))
    return fig, pd.DataFrame(rows)
