"""Figure 9 (ours): the paper's Table 1 / Table 2 rows over seeds, as one grid. A row of
panels per (dataset, metric): F1 (Table 1) then balanced accuracy (Table 2); a column per
noise rate η with records. In each panel, per loss, each seed's score is a ring and our mean a
dash, over the paper's mean ± 2σ (20 trials) as a grey band; the losses sit in the paper's
column order in every panel, so a column of the grid reads down. BL and PZ at the γ / c the
tables pick (``seed_statistics.choose``: the paper's own for that table when recorded), named
in the panel's title with the paper's where it differs. Confident Learning, symmetric noise."""

from __future__ import annotations

import numpy as np
import pandas as pd

from robustloss.reporting.figures.records import MissingRecords
from robustloss.reporting.figures.style import LOSS_LABELS, LOSS_ORDER, loss_colour, new_figure
from robustloss.reporting.paper import DATASET_LABELS, LOSS_COLUMNS, MIN_STD, parameter_text
from robustloss.reporting.seed_statistics import choose, paper_cell, paper_parameter

NEEDS = "Table 1 records over seeds: `make reproduce-table1-rows` (docs: reproducing)"
METRICS = {"f1": ("F1", "table1_f1"), "balanced_accuracy": ("balanced accuracy",
                                                            "table2_balanced_accuracy")}


def chosen_records(records: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Confident Learning, symmetric noise; per (dataset, eta, loss) the variant the tables pick
    for ``metric`` (``seed_statistics.choose`` over ``tables.variant_of``, newest record per
    seed, each record once); ``param`` holds its γ / c (NaN for losses without one)."""
    records = records[(records["detector"] == "confident_learning") & (records["noise"] == "symmetric")
                      & (records["eta"] > 0)]
    if records.empty:
        raise MissingRecords(NEEDS)
    records = (records.drop_duplicates("id").sort_values("created")
               .drop_duplicates(["dataset", "eta", "loss", "variant", "seed"], keep="last"))
    swept = records["loss"].map(lambda loss: LOSS_COLUMNS[loss][1])
    param = np.where(swept == "gamma", records["gamma"], np.where(swept == "c", records["c"], np.nan))
    param = pd.Series(param, index=records.index, dtype=float)
    chosen = choose(records.assign(param=param), metric, "variant")
    if chosen.groupby(["dataset", "eta", "loss"])["seed"].nunique().max() < 2:
        raise MissingRecords(f"one seed per cell only; {NEEDS}")
    return chosen


def paper_band(dataset: str, eta: float, loss: str, metric: str) -> tuple[float, float]:
    """The paper's (mean, sd) of a Table 1 / 2 cell; NaNs where it has none (a subset too)."""
    cell = paper_cell(dataset, eta, loss, metric)
    if cell is None:
        return np.nan, np.nan
    return float(cell["mean"]), max(float(cell["std"]), MIN_STD)


def paper_elsewhere(data: pd.DataFrame, dataset: str, eta: float, loss: str,
                    metric: str) -> float | None:
    """The paper's γ / c for this cell where ours differs from it; None where they agree,
    where the loss has no parameter or where we have no records of it."""
    ours = data.loc[data["loss"] == loss, "param"]
    if ours.empty or np.isnan(ours.iloc[0]):
        return None
    paper = paper_parameter(dataset, eta, loss, metric)
    return None if np.isnan(paper) or np.isclose(paper, ours.iloc[0]) else paper


def settings_text(data: pd.DataFrame, dataset: str, eta: float, metric: str) -> str:
    """'BL γ=0.4, PZ c=0.01', each followed by the paper's value where that differs."""
    parts = []
    for loss in ("blurry", "piecewise_zero"):
        ours = data.loc[data["loss"] == loss, "param"]
        if ours.empty:
            continue
        name = LOSS_COLUMNS[loss][1]
        text = f"{LOSS_LABELS[loss]} {parameter_text(name, ours.iloc[0])}"
        paper = paper_elsewhere(data, dataset, eta, loss, metric)
        if paper is not None:
            text += f" (paper {parameter_text(name, paper)})"
        parts.append(text)
    return ", ".join(parts)


def y_range(scores, bands) -> tuple[float, float]:
    """A panel's y limits: our ``scores`` and the paper's means, and the paper's ± 2σ bands
    (``bands``: (mean, sd) pairs, ``paper_band``) no wider than that span; a wider band
    (Fashion-MNIST η 0.4 Focal: 0.896 ± 0.033) runs off the panel rather than flattening
    every other cell."""
    values = [*scores, *(mean for mean, _ in bands if not np.isnan(mean))]
    span = max(values) - min(values)
    for mean, sd in bands:
        if not np.isnan(mean) and 4 * sd <= span:
            values += [mean - 2 * sd, mean + 2 * sd]
    low, high = min(values), max(values)
    pad = 0.06 * (high - low) or 0.001
    return low - pad, high + pad


def _panel(ax, data: pd.DataFrame, dataset: str, eta: float, metric: str, rng, rows: list):
    bands = [paper_band(dataset, eta, loss, metric) for loss in LOSS_ORDER]
    for x, (loss, (mean, sd)) in enumerate(zip(LOSS_ORDER, bands, strict=True)):
        scores = data.loc[data["loss"] == loss, metric].to_numpy()
        if not np.isnan(mean):   # hatched: the paper's cell is at a γ / c we did not run
            elsewhere = paper_elsewhere(data, dataset, eta, loss, metric) is not None
            ax.fill_between([x - 0.38, x + 0.38], mean - 2 * sd, mean + 2 * sd, lw=0,
                            **({"facecolor": "none", "hatch": "////", "edgecolor": "0.6",
                                "label": "paper ± 2σ, at a γ / c we did not run"} if elsewhere
                               else {"color": "0.85", "label": "paper mean ± 2σ"}))
            ax.plot([x - 0.38, x + 0.38], [mean, mean], color="0.55", lw=0.8)
        if len(scores) == 0:
            continue
        # rings over the dash: every seed stays visible, PZ's black ones included
        ax.scatter(x + rng.uniform(-0.15, 0.15, len(scores)), scores, s=14, zorder=4,
                   facecolor="none", edgecolor=loss_colour(loss), linewidth=1.1, label="one seed")
        ax.plot([x - 0.28, x + 0.28], [scores.mean()] * 2, color="black", lw=1.4, zorder=3,
                label="our mean")
        param = data.loc[data["loss"] == loss, "param"].iloc[0]
        rows.append({"dataset": dataset, "eta": eta, "loss": loss, "metric": metric,
                     "parameter": None if np.isnan(param) else param, "seeds": len(scores),
                     "mean": scores.mean(), "paper_mean": mean, "paper_sd": sd})
    ax.set_ylim(*y_range(data[metric], bands))
    ax.set_xlim(-0.6, len(LOSS_ORDER) - 0.4)
    ax.set_xticks(range(len(LOSS_ORDER)))
    ax.set_xticklabels([LOSS_LABELS[loss] for loss in LOSS_ORDER], rotation=45, ha="right")


def make(records: pd.DataFrame, dataset=None):
    if dataset is not None:
        records = records[records["dataset"] == dataset]
    chosen = {metric: chosen_records(records, metric) for metric in METRICS}
    datasets = sorted(chosen["f1"]["dataset"].unique(),
                      key=lambda d: (list(DATASET_LABELS).index(d) if d in DATASET_LABELS else 99, d))
    etas = sorted(chosen["f1"]["eta"].unique())
    fig, axes = new_figure(len(datasets) * len(METRICS), len(etas), width=3.1 * len(etas) + 0.6,
                           height=2.5)
    rng = np.random.default_rng(0)   # horizontal jitter of the rings only
    rows: list[dict] = []
    for i, name in enumerate(datasets):
        for j, (metric, (label, _)) in enumerate(METRICS.items()):
            for k, eta in enumerate(etas):
                ax = axes[i * len(METRICS) + j][k]
                data = chosen[metric][(chosen[metric]["dataset"] == name)
                                      & (chosen[metric]["eta"] == eta)]
                if data.empty:
                    ax.set_axis_off()
                    ax.text(0.5, 0.5, f"{DATASET_LABELS.get(name, name)}, η {eta:g}:\nno records yet",
                            ha="center", va="center", transform=ax.transAxes, color="0.4")
                    continue
                _panel(ax, data, name, eta, metric, rng, rows)
                seeds = data.groupby("loss")["seed"].nunique()
                count = f"n {seeds.min()}–{seeds.max()}" if seeds.min() != seeds.max() else f"n {seeds.min()}"
                ax.set_title(f"{DATASET_LABELS.get(name, name)}, η {eta:g} ({count})\n"
                             f"{settings_text(data, name, eta, metric)}", fontsize=8)
                if k == 0:
                    ax.set_ylabel(label)
    handles, labels = [], []
    for ax in axes.flat:
        for handle, text in zip(*ax.get_legend_handles_labels(), strict=True):
            if text not in labels:
                handles.append(handle)
                labels.append(text)
    fig.legend(handles, labels, loc="lower center", ncol=2, frameon=False,
               bbox_to_anchor=(0.5, 1.0))
    return fig, pd.DataFrame(rows)
