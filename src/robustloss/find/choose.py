"""Blurry Loss's gamma and Piecewise-zero's c chosen from the data (``gamma=auto``,
``c=auto``): one rule, ``choose_parameter``, which returns the value and the reason for it.

The rule reads two numbers off a first cross-validated pass with cross-entropy, both from
cleanlab's estimated joint J[given, true] of given and true labels:

- the noise rate eta = 1 - trace(J); the paper's best values at that rate (its Table 1,
  mean of MNIST and Fashion-MNIST: gamma 0.2 / 0.3 / 0.4 / 0.5, c 0.005 / 0.0075 / 0.02 /
  0.04 at eta 0.1 / 0.2 / 0.3 / 0.4, linear in between, constant outside) give the value;
- for Blurry Loss, the flip rate f, the fraction of a class's samples carrying its most
  common wrong label (averaged over the true classes, weighted by their wrong labels):
  about eta / (K - 1) where a class's wrong labels spread over all other classes, about
  eta where they all go to one. Where 3 f is larger than the paper's value, gamma is 3 f,
  at most 0.6: where the model has learnt part of a pair flip, backing off the flipped
  images takes a larger gamma. Piecewise-zero's c has no such term (never measured).

Why this rule and no other (studies/README.md, "One automatic rule"; numbers from
studies/measurements/, every value a real pass, paper protocol). The fixed value it has to
beat is the paper's gamma 0.4 (its MNIST eta = 0.2 choice, conf/loss/blurry.yaml), by more
than twice the largest measured pass-to-pass sd (2 x 0.027 = 0.054 F1:
studies/measurements/pass_noise_mnist_subset.md), in the seed mean of a (dataset, noise
kind, eta) cell, on at least two datasets. This rule does, under class-dependent noise:
digits eta 0.4 +0.073 (3 seeds), MNIST 5,000-image subset eta 0.3 +0.094 (2 seeds); it
loses no cell by more than 0.022 (36 cells: digits, MNIST and Fashion-MNIST subsets,
symmetric / class-dependent / instance-dependent, eta 0.1-0.4). The paper's relation
alone wins no cell by 0.054. The four rules that added a gate on how unsure the model is
and steeper raises to this one won over it by more than 0.054 in one cell of one dataset
(MNIST class-dependent eta 0.4, +0.085), not two, and were deleted.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from robustloss.reporting.paper import LOSS_COLUMNS, published

# The paper's datasets the relation is read from (its Table 1 rows).
RELATION_DATASETS = ("MNIST", "Fashion-MNIST")
# loss -> the parameter chosen for it: the losses whose parameter the paper's tables sweep
PARAMETER_OF = {loss: param for loss, (_, param) in LOSS_COLUMNS.items() if param}
# Blurry Loss: gamma >= SLOPE x the flip rate, at most LARGEST. A larger cap hurts where the
# model finds the data hard: Blurry Loss weights a sample's gradient by p_y^gamma, and many
# clean samples start at a low p_y there (Fashion-MNIST subset, class-dependent eta 0.3:
# F1 0.59 / 0.57 / 0.33 at gamma 0.6 / 0.7 / 0.8).
SLOPE = 3.0
LARGEST = 0.6
# find-issues' default loss ("auto"), the candidate the declared benchmark's rule picked
# (studies/find_issues_benchmark.md, amendment 2; studies/measurements/
# find_issues_benchmark_results.md): cross-entropy's own flags where its pass estimates a
# noise rate under LOW_NOISE (one pass), else Blurry Loss at the automatic gamma (two).
# Blurry Loss everywhere led it by 0.015 mean F1 over the 18 cells, under twice that lead's
# standard error (0.018), at 2 passes a case against 1.4: a tie, which goes to fewer passes.
LOW_NOISE = 0.20


@dataclass(frozen=True)
class NoiseEstimate:
    """rate: the fraction of wrong labels; flip: the fraction of a class's samples that
    carry its most common wrong label, averaged over true classes weighted by their wrong
    labels (``estimate_noise``)."""

    rate: float
    flip: float


@dataclass(frozen=True)
class Choice:
    """An automatic value and why: ``reason`` is one sentence for the log and the report."""

    value: float | str
    reason: str


def noise_matrix(labels: np.ndarray, pred_probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """cleanlab's estimated joint J[given, true] (``cleanlab.count.estimate_joint``) and the
    noise matrix T = J / its column sums, T[s, k] = P(given = s | true = k)."""
    from cleanlab.count import estimate_joint

    joint = estimate_joint(labels=labels, pred_probs=pred_probs)
    return joint, joint / np.maximum(joint.sum(axis=0), 1e-12)


def estimate_noise(labels: np.ndarray, pred_probs: np.ndarray) -> NoiseEstimate:
    """The noise rate and the flip rate of labels (N,) under out-of-fold probabilities (N, K)."""
    joint, matrix = noise_matrix(labels, pred_probs)
    return NoiseEstimate(noise_rate(joint), flip_rate(joint, matrix))


def noise_rate(joint: np.ndarray) -> float:
    """The fraction of wrong labels the joint J[given, true] implies: 1 - trace(J)."""
    return float(np.clip(1.0 - np.trace(joint), 0.0, 1.0))


def flip_rate(joint: np.ndarray, matrix: np.ndarray) -> float:
    """With r_k = 1 - T[k, k]: sum_k w_k max_{s != k} T[s, k] / sum_k w_k, w_k = r_k *
    P(true = k) (0 when no label looks wrong)."""
    wrong = matrix.copy()
    np.fill_diagonal(wrong, 0.0)
    weight = joint.sum(axis=0) * wrong.sum(axis=0)
    return float((wrong.max(axis=0) * weight).sum() / weight.sum()) if weight.sum() > 0 else 0.0


@functools.cache
def best_values(loss: str) -> tuple[np.ndarray, np.ndarray]:
    """(eta, mean best parameter) over RELATION_DATASETS from the paper's Table 1."""
    column, param = LOSS_COLUMNS[loss]
    rows = published()
    rows = rows[(rows.table == "table1_f1") & (rows.loss == column)
                & rows.dataset.isin(RELATION_DATASETS) & (rows.param == param)]
    means = rows.groupby(rows.eta.astype(float)).param_value.mean().sort_index()
    return means.index.to_numpy(float), means.to_numpy(float)


def parameter_for_noise(loss: str, eta: float) -> float:
    """The paper's best gamma (``loss="blurry"``) or c (``"piecewise_zero"``) at corruption
    rate ``eta``."""
    if loss not in PARAMETER_OF:
        raise ValueError(f"automatic parameters exist for {sorted(PARAMETER_OF)}, not {loss!r}")
    etas, values = best_values(loss)
    return round(float(np.interp(eta, etas, values)), 4)


def choose_parameter(loss: str, noise: NoiseEstimate) -> Choice:
    """The automatic gamma / c for ``noise`` (read off the cross-entropy pass), and why."""
    name = PARAMETER_OF.get(loss, "parameter")
    paper = parameter_for_noise(loss, noise.rate)
    read = (f"the paper's best {name} at the estimated noise rate {100 * noise.rate:.1f}% "
            f"is {paper:g}")
    if loss != "blurry":
        return Choice(paper, f"{read.capitalize()}.")
    raised = SLOPE * noise.flip
    concentrate = (f"{SLOPE:g} x the flip rate {100 * noise.flip:.1f}% (a class's samples "
                   f"carrying its most common wrong label) is {raised:.2f}")
    if raised <= paper:
        return Choice(paper, f"{read.capitalize()}; {concentrate}, not more: the wrong labels "
                             "spread over several classes.")
    if raised <= LARGEST:
        return Choice(round(raised, 4), f"{concentrate.capitalize()}, above {read}: the wrong "
                                        "labels concentrate in one other class.")
    return Choice(LARGEST, f"{concentrate.capitalize()}, above {read}, capped at {LARGEST:g}: "
                           "a larger gamma leaves clean hard samples unlearned.")


def choose_loss(noise: NoiseEstimate) -> Choice:
    """find-issues' default loss for ``noise`` (read off the cross-entropy pass): "ce" under
    LOW_NOISE, where that pass's flags stand, else "blurry"; and why."""
    rate = f"the estimated noise rate {100 * noise.rate:.1f}%"
    if noise.rate < LOW_NOISE:
        return Choice("ce", f"Cross-entropy's flags stand: {rate} is under "
                            f"{100 * LOW_NOISE:.0f}% (--loss blurry runs Blurry Loss anyway).")
    return Choice("blurry", f"Blurry Loss: {rate} is {100 * LOW_NOISE:.0f}% or more.")
