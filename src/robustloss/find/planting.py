"""Blurry Loss's gamma / Piecewise-zero's c chosen by planting known errors in the user's own
labels and keeping the value that recovers them best (``auto_by="planting"``).

Why not from the noise-rate estimate: cleanlab's estimate runs high on hard data (Fashion-
MNIST subset, eta = 0.1 -> 0.23) and low where wrong labels fall on ambiguous images, so a
value read off it is wrong in both directions. Planting asks the data directly:

1. From the cross-entropy pass, the *pool*: samples whose given label is the model's first
   choice (very probably right). Two disjoint draws of ``fraction`` x N from it: *planted*,
   relabelled to the model's second choice (an error a person could make: the next most
   plausible class), and *control*, left alone.
2. One cross-validated pass per candidate value on the labels with the planted errors; score
   = F1 of Confident Learning's flags over planted (positives) and control (negatives).
3. The best-scoring value wins (ties: the smaller one). Its pass is also the answer: the
   probabilities are out-of-fold, so a sample's own (planted or original) label never
   trained the model that judges it, and the planted samples are judged against their
   original labels. Cost: one pass per candidate (plus the cross-entropy pass).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from robustloss.detection.detect import confident_learning
from robustloss.detection.metrics import detection_scores

# Candidates: the paper's gamma range (Table 1 best values span 0.1-0.8, the noise-kinds
# grid found 0.4-0.8 best) and its c values (0.01-0.1), a few points each to keep passes few.
CANDIDATES = {"blurry": (0.2, 0.4, 0.6, 0.8), "piecewise_zero": (0.01, 0.03, 0.06, 0.1)}
DEFAULT_FRACTION = 0.05


@dataclass(frozen=True)
class Planting:
    """planted / control: sample indices; planted_labels: the labels trained on (given labels
    with the planted ones replaced)."""

    planted: np.ndarray
    control: np.ndarray
    planted_labels: np.ndarray


def plant(labels: np.ndarray, ce_probs: np.ndarray, fraction: float, seed: int) -> Planting:
    """Draw planted and control sets from the samples whose given label is the cross-entropy
    model's first choice; planted ones get its second choice."""
    labels = np.asarray(labels)
    order = np.argsort(-ce_probs, axis=1)
    pool = np.flatnonzero(order[:, 0] == labels)
    size = min(max(1, int(round(fraction * len(labels)))), len(pool) // 2)
    if size < 1:
        raise ValueError("too few samples whose label the model agrees with to plant errors")
    drawn = np.random.default_rng(seed).choice(pool, size=2 * size, replace=False)
    planted, control = np.sort(drawn[:size]), np.sort(drawn[size:])
    relabelled = labels.copy()
    relabelled[planted] = order[planted, 1]
    return Planting(planted, control, relabelled)


def recovery_f1(planting: Planting, probs: np.ndarray) -> float:
    """F1 of Confident Learning (on the planted labels) over planted vs control samples."""
    flagged = confident_learning(planting.planted_labels, probs)
    rows = np.concatenate([planting.planted, planting.control])
    truth = np.zeros(len(rows), dtype=bool)
    truth[:len(planting.planted)] = True
    return float(detection_scores(flagged[rows], truth)["f1"])


@dataclass(frozen=True)
class Choice:
    """value: the chosen parameter; probs: its pass's out-of-fold probabilities (N, K);
    scores: candidate -> recovery F1; planted: how many errors were planted."""

    value: float
    probs: np.ndarray
    scores: dict[float, float]
    planted: int


def choose_by_planting(loss: str, labels: np.ndarray, ce_probs: np.ndarray,
                       run_pass: Callable[[float, np.ndarray], np.ndarray],
                       fraction: float = DEFAULT_FRACTION, seed: int = 0,
                       candidates: tuple[float, ...] | None = None) -> Choice:
    """The candidate of ``loss`` that recovers planted errors best. ``run_pass(value,
    labels)`` returns out-of-fold probabilities of one cross-validated pass."""
    planting = plant(labels, ce_probs, fraction, seed)
    scores, passes = {}, {}
    for value in candidates or CANDIDATES[loss]:
        passes[value] = run_pass(value, planting.planted_labels)
        scores[value] = recovery_f1(planting, passes[value])
    best = max(scores, key=lambda v: (scores[v], -v))
    return Choice(best, passes[best], scores, len(planting.planted))
