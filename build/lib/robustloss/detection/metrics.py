"""Scores of a flagged set against the known corruption, and held-out accuracies."""

from __future__ import annotations

import math

import numpy as np
from sklearn.metrics import balanced_accuracy_score, f1_score, precision_score, recall_score


def detection_scores(flagged: np.ndarray, corrupted: np.ndarray) -> dict[str, float]:
    """flagged, corrupted: bool (N,). Positive class = "label is wrong"."""
    flagged = np.asarray(flagged, dtype=bool)
    corrupted = np.asarray(corrupted, dtype=bool)
    if flagged.shape != corrupted.shape:
        raise ValueError(f"flagged {flagged.shape} and corrupted {corrupted.shape} differ")
    both_classes = corrupted.any() and not corrupted.all()
    if not corrupted.any():  # no known corruption (your own data as given): nothing to score
        return {"precision": math.nan, "recall": math.nan, "f1": math.nan,
                "balanced_accuracy": math.nan, "n_flagged": int(flagged.sum()), "n_corrupted": 0}
    return {
        "precision": float(precision_score(corrupted, flagged, zero_division=0)),
        "recall": float(recall_score(corrupted, flagged, zero_division=0)),
        "f1": float(f1_score(corrupted, flagged, zero_division=0)),
        "balanced_accuracy": (
            float(balanced_accuracy_score(corrupted, flagged)) if both_classes else float("nan")
        ),
        "n_flagged": int(flagged.sum()),
        "n_corrupted": int(corrupted.sum()),
    }


def accuracy(pred_probs: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of rows whose arg-max class equals ``labels``."""
    return float(np.mean(np.asarray(pred_probs).argmax(axis=1) == np.asarray(labels)))


def separation(values: np.ndarray, corrupted: np.ndarray) -> dict[str, float]:
    """How far apart a per-sample score lies for clean and corrupted samples (paper Figure 6):
    Cohen's d = (mean clean - mean corrupted) / pooled std, and the Wasserstein-1 distance
    between the two distributions (scipy). NaN where a group is empty."""
    from scipy.stats import wasserstein_distance

    values = np.asarray(values, dtype=np.float64)
    corrupted = np.asarray(corrupted, dtype=bool)
    clean, bad = values[~corrupted], values[corrupted]
    if len(clean) < 2 or len(bad) < 2:
        return {"cohens_d": float("nan"), "wasserstein": float("nan")}
    pooled = np.sqrt(((len(clean) - 1) * clean.var(ddof=1) + (len(bad) - 1) * bad.var(ddof=1))
                     / (len(clean) + len(bad) - 2))
    return {"cohens_d": float((clean.mean() - bad.mean()) / pooled),
            "wasserstein": float(wasserstein_distance(clean, bad))}
