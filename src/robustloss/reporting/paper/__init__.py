"""The paper's published numbers (Tables 1-5; see SOURCE.md) and how our cells map to them."""

from __future__ import annotations

import functools
from importlib import resources

import numpy as np
import pandas as pd

# our dataset name -> the paper's row label
DATASET_LABELS = {
    "mnist": "MNIST", "fashion_mnist": "Fashion-MNIST", "cifar10": "CIFAR-10",
    "cifar100": "CIFAR-100", "cifar100_cleaned_test": "CIFAR-100 cleaned test set",
    "cifar10n_aggregate": "CIFAR-10N eta~0.1 (aggregate)",
    "cifar10n_worst": "CIFAR-10N eta~0.4 (worst)", "cifar100n": "CIFAR-100N eta~0.4 (noisy fine)",
}
# our loss name -> (the paper's column label, the parameter its tables sweep)
LOSS_COLUMNS = {
    "ce": ("CE", None), "focal": ("FL", None), "gce": ("GCE", None),
    "anl_ce": ("ANL-CE", None), "anl_fl": ("ANL-FL", None),
    "blurry": ("BL", "gamma"), "piecewise_zero": ("PZ", "c"),
}
# (table prefix in the csv) -> (metric, detector)
TABLES = {
    "table1_f1": ("f1", "confident_learning"),
    "table2_balanced_accuracy": ("balanced_accuracy", "confident_learning"),
    "table3_f1_cifar100_clean_test": ("f1", "confident_learning"),
    "table4_f1_cifar_n": ("f1", "confident_learning"),
    "table5_f1_aum_cifar100": ("f1", "aum"),
    "figure6_cohens_d_aum": ("cohens_d", "aum"),
    "figure6_wasserstein_aum": ("wasserstein", "aum"),
}
# The paper prints 3 decimals; a printed std of 0.000 still means up to half a unit.
MIN_STD = 0.0005


@functools.lru_cache(maxsize=1)
def published() -> pd.DataFrame:
    """Columns: table, dataset, eta ("human" for CIFAR-N rows), loss (paper column), param,
    param_value, mean, std, metric, detector."""
    with resources.files(__package__).joinpath("published_results.csv").open() as handle:
        frame = pd.read_csv(handle)
    frame["metric"] = frame["table"].map(lambda t: TABLES[t][0])
    frame["detector"] = frame["table"].map(lambda t: TABLES[t][1])
    frame["eta"] = frame["eta"].map(lambda e: "human" if pd.isna(e) else float(e))
    return frame


def parameter_text(name: str, value: float) -> str:
    """A swept parameter as the tables and figures print it: 'γ=0.4', 'c=0.01'."""
    return f"{'γ' if name == 'gamma' else name}={value:g}"


def attach_published(summary: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Add paper_mean, paper_std, paper_param, diff (ours - paper) and outside_2sigma (|diff| >
    2 * max(paper std, 0.0005)) to a tables.summarise() frame; NaN where the paper has no cell
    (the paper has symmetric noise and CIFAR-N's human labels only)."""
    paper = published()
    paper = paper[paper["metric"] == metric].assign(
        dataset=lambda f: f["dataset"].map({v: k for k, v in DATASET_LABELS.items()}))
    paper = paper.rename(columns={"loss": "column", "mean": "paper_mean", "std": "paper_std"})
    paper["paper_param"] = [
        "" if pd.isna(p) else parameter_text(p, v)
        for p, v in zip(paper["param"], paper["param_value"], strict=True)]
    paper["noise"] = paper["eta"].map(lambda e: "human" if e == "human" else "symmetric")
    keys = ["detector", "dataset", "noise", "eta_key", "column"]
    paper["eta_key"] = paper["eta"].map(str)
    merged = summary.assign(eta_key=summary["eta"].map(str)).merge(
        paper[keys + ["paper_mean", "paper_std", "paper_param"]], on=keys, how="left"
    ).drop(columns="eta_key")
    merged["diff"] = merged["mean"] - merged["paper_mean"]
    sigma = np.maximum(merged["paper_std"], MIN_STD)
    merged["outside_2sigma"] = (merged["diff"].abs() > 2 * sigma).where(merged["paper_mean"].notna())
    return merged
