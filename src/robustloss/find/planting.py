"""Blurry Loss's gamma / Piecewise-zero's c chosen by planting known errors in the user's own
labels and keeping the value that recovers them best (``auto_by="planting"``).

An alternative to reading the value off cleanlab's noise estimates (the default,
robustloss.find.choose), which runs high on hard data (Fashion-MNIST subset, eta = 0.1 ->
0.23) and low where wrong labels fall on ambiguous images. Planting asks the data directly:

1. A random draw of ``fraction`` x N samples is *planted*: half of them get the
   cross-entropy model's most likely class other than the given one (an error a person
   could make on an ambiguous image), half a uniformly drawn other class (an error of
   carelessness); the real errors' kind is unknown, so both.
2. One cross-validated pass per candidate value on the labels with the planted errors; score
   = F1 of Confident Learning's flags at finding the planted errors among the planted
   samples and an equally large random draw of the others (``control="draw"``, the
   default). ``control="all"`` counts every other sample as a negative instead (real errors
   and hard images included, so a value that flags much pays for it): on digits (3 seeds,
   eta 0.1-0.4, scripts/auto_parameter_check.py) it came closer to the best gamma under
   symmetric noise (mean gap 0.006 vs 0.010) and further under class-dependent (0.043 vs
   0.037) and instance-dependent noise (0.031 vs 0.014), so "draw" is the default.
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
DEFAULT_CONTROL = "draw"  # closer to the best gamma than "all" on digits averaged over the
# three noise kinds (module docstring;
# docs/find_issues_measurements.md: "How good is the automatic γ?")


@dataclass(frozen=True)
class Planting:
    """planted / control: sample indices; planted_labels: the labels trained on (given labels
    with the planted ones replaced)."""

    planted: np.ndarray
    control: np.ndarray
    planted_labels: np.ndarray


def plant(labels: np.ndarray, ce_probs: np.ndarray, fraction: float, seed: int) -> Planting:
    """Draw planted and control sets; planted ones get a label other than their given one:
    the first half the cross-entropy model's most likely other class, the rest a uniformly
    drawn other class."""
    labels = np.asarray(labels)
    n, k = ce_probs.shape
    size = min(max(1, int(round(fraction * n))), n // 2)
    rng = np.random.default_rng(seed)
    drawn = rng.choice(n, size=2 * size, replace=False)
    planted, control = drawn[:size], np.sort(drawn[size:])
    relabelled = labels.copy()
    likely = ce_probs[planted].copy()
    likely[np.arange(size), labels[planted]] = -np.inf
    half = size // 2
    relabelled[planted[:half]] = likely[:half].argmax(axis=1)
    rest = planted[half:]
    relabelled[rest] = (labels[rest] + rng.integers(1, k, len(rest))) % k
    return Planting(np.sort(planted), control, relabelled)


CONTROLS = {
    "draw": "negatives = an equally large random draw of the other samples",
    "all": "negatives = every other sample (real errors among them count against a value)",
}


def recovery_f1(planting: Planting, probs: np.ndarray, control: str = DEFAULT_CONTROL) -> float:
    """F1 of Confident Learning (on the planted labels) at recovering the planted errors,
    with the negatives of ``control`` (CONTROLS)."""
    flagged = confident_learning(planting.planted_labels, probs)
    if control == "all":
        truth = np.zeros(len(flagged), dtype=bool)
        truth[planting.planted] = True
        return float(detection_scores(flagged, truth)["f1"])
    rows = np.concatenate([planting.planted, planting.control])
    truth = np.zeros(len(rows), dtype=bool)
    truth[:len(planting.planted)] = True
    return float(detection_scores(flagged[rows], truth)["f1"])


@dataclass(frozen=True)
class Choice:
    """value: the chosen parameter; probs: its pass's out-of-fold probabilities (N, K);
    scores: candidate -> recovery F1; planted: how many errors were planted; passes:
    candidate -> its probabilities (for measurements)."""

    value: float
    probs: np.ndarray
    scores: dict[float, float]
    planted: int
    passes: dict[float, np.ndarray]
    planting: Planting


def best_value(scores: dict[float, float]) -> float:
    """The best-scoring candidate; ties go to the smaller value."""
    return max(scores, key=lambda v: (scores[v], -v))


def choose_by_planting(loss: str, labels: np.ndarray, ce_probs: np.ndarray,
                       run_pass: Callable[[float, np.ndarray], np.ndarray],
                       fraction: float = DEFAULT_FRACTION, seed: int = 0,
                       candidates: tuple[float, ...] | None = None,
                       control: str = DEFAULT_CONTROL) -> Choice:
    """The candidate of ``loss`` that recovers planted errors best. ``run_pass(value,
    labels)`` returns out-of-fold probabilities of one cross-validated pass."""
    planting = plant(labels, ce_probs, fraction, seed)
    scores, passes = {}, {}
    for value in candidates or CANDIDATES[loss]:
        passes[value] = run_pass(value, planting.planted_labels)
        scores[value] = recovery_f1(planting, passes[value], control)
    best = best_value(scores)
    return Choice(best, passes[best], scores, len(planting.planted), passes, planting)
