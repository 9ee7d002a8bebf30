"""Blurry Loss's gamma and Piecewise-zero's c chosen from the data (``gamma=auto``,
``c=auto``).

The paper finds no universally best value, but its Table 1 shows the best one rising with
the corruption rate eta. So: estimate eta from a first cross-validated pass with
cross-entropy (cleanlab's estimate of the joint distribution of given and true labels:
eta = 1 - its trace), then read gamma / c off the paper's best values at that eta,
averaged over MNIST and Fashion-MNIST (the datasets closest to what a small network trains
on here), interpolated linearly between the tabulated eta = 0.1 ... 0.4 and held constant
outside them. The gap this leaves to the best grid value in hindsight is measured by
``scripts/auto_parameter_check.py`` (docs/find_issues_measurements.md:
"How good is the automatic γ?").

That relation was read off symmetric noise, where a class's wrong labels spread over all
other classes. Where they concentrate in one wrong class (class-dependent noise: 3 -> 8,
5 <-> 6), the model learns part of the flip, and the best gamma is higher (digits: 0.6-0.8
at eta 0.2-0.3 vs 0.3-0.5 under symmetric noise). ``noise_structure`` reads that off the
same cross-entropy pass: the *flip rate*, the fraction of a class's samples carrying its
most common wrong label (cleanlab's noise matrix, averaged over classes with the weight of
their wrong labels), about eta / (K - 1) under symmetric noise and eta under pair flips;
gamma is then at least BASE + SLOPE x flip rate (STRUCTURE): 3 x flip, fitted on digits
(symmetric and class-dependent noise, 3 seeds; scripts/gamma_rule_fit.py). A variant with a
floor, 0.3 + 1.5 x flip, came close there and did better on digits' instance-dependent
noise, but on the independent check (a Fashion-MNIST subset, symmetric eta 0.1, where hard
images make the model unsure and the best gamma is low) its floor cost 0.033 F1 against the
paper relation (0.677 vs 0.710), which 3 x flip leaves alone there. On a MNIST subset
(class-dependent eta 0.2, 2 seeds) 3 x flip picked 0.52 where the paper relation picks
0.20: F1 0.887 vs 0.846 (best grid value 0.905 at 0.6). On data the model finds hard
(Fashion-MNIST) a larger gamma also backs off clean hard samples: the raise is capped at
LARGEST, 0.6, and still costs F1 there against the paper relation
(docs/find_issues_measurements.md: "How good is the automatic γ?"). A gate that raised
gamma only where the wrong labels look like pairs
(the pair share, scripts/gamma_rule_fit.py) failed its check on Fashion-MNIST.

``confusion_gate`` reads how hard the data are for the model off the same
pass: the *unsure share*, the fraction of samples whose largest probability is below 0.5.
Where it is small, the structure rule's raise stands, up to 0.7; where it is large, the
model finds the data hard and gamma is the paper's value. Fixed before its check on
held-out subsets (docs/measurements/confusion_gate_preregistered.md), which it passed.

``confusion_cap`` is the gate with the structure rule, up to 0.6, kept where
the gate is shut. Under instance-dependent noise the noise itself makes the model unsure,
the gate shuts and the paper's value falls short of the best gamma (0.6 at eta 0.3-0.4 on
the subsets); under class-dependent noise on Fashion-MNIST, where the gate was set, the two
branches score the same. Chosen by its own registered check
(docs/measurements/gated_caps_preregistered.md).

``confusion_spread`` is confusion_cap with a steeper raise, gamma >= 4 x flip,
where the gate is shut and the wrong labels spread over several classes (flip at most 0.85 x
the noise rate; a pair flip has flip ~ rate). On MNIST's instance-dependent noise the best
gamma is 0.6 where 3 x flip stops at 0.42-0.55. Chosen by its own registered check
(docs/measurements/spread_raise_preregistered.md).

``confusion_spread_only`` (the default) is the gate again where it is shut and the wrong
labels come in pairs: the paper's value, not the capped raise. On Fashion-MNIST under class-dependent
noise (gate shut, pairs) the raise to 0.6 cost 0.02-0.04 F1 at eta 0.2-0.3. Registered
with its check before the held-out passes ran, and passed it
(docs/measurements/pair_gate_preregistered.md).
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
# noise_structure: gamma >= BASE + SLOPE x flip rate, at most LARGEST. LARGEST is 0.6, not
# the paper's largest best value (0.8): Blurry Loss weights a sample's gradient by p_y^gamma
# (p_y = 0.1: 0.16 at 0.8, 0.25 at 0.6), and where the model finds the data hard, many clean
# samples start at a low p_y and stay unlearned under a large gamma. 5,000-image subsets,
# class-dependent eta 0.3, F1 at gamma 0.6 / 0.7 / 0.8: Fashion-MNIST 0.59 / 0.57 / 0.33
# (seed 0), MNIST 0.90 / 0.90 / 0.78 (2 seeds). Of the caps 0.6, 0.7 and 0.8, 0.6 has the
# smallest worst mean gap to the best gamma over digits, MNIST and Fashion-MNIST (0.019 /
# 0.030 / 0.167; scripts/structure_cap_check.py); 0.7 is better on digits alone
# (docs/find_issues_measurements.md: "How good is the automatic γ?").
STRUCTURE = {"blurry": (0.0, 3.0)}
LARGEST = {"blurry": 0.6}
# confusion_gate: the structure rule's raise, up to GATED_LARGEST, only where the
# cross-entropy model is unsure (largest out-of-fold probability below 0.5) of at most
# UNSURE_GATE of the samples; elsewhere the paper's value. A pair flip splits the model's
# belief between two classes, so the top one keeps about half or more; hard images (shirt,
# T-shirt, pullover, coat) split it over three or more. Class-dependent noise, readings of
# the cases the cap was chosen on: digits 0.008-0.046 (eta 0.1-0.4, 3 seeds), MNIST subset
# 0.015 / 0.022, Fashion-MNIST subset 0.072 / 0.102 (eta 0.2 / 0.3); the gate sits between
# (0.06), and the cap where it is open is 0.7, the best for digits and MNIST
# (scripts/structure_cap_check.py). Fixed before its check on held-out cases
# (docs/find_issues_measurements.md: "How good is the automatic γ?").
UNSURE_GATE = 0.06
GATED_LARGEST = {"blurry": 0.7}
# confusion_spread: confusion_cap, but where the gate is shut and the wrong labels spread over
# several wrong classes (flip rate at most SPREAD_RATIO x the noise rate), gamma >=
# SPREAD_SLOPE x flip (up to LARGEST). A pair flip puts a class's wrong labels on one class,
# so flip ~ rate or more: 1.07-1.99 on every class-dependent case cached (digits, both
# subsets); under instance-dependent noise 0.40-0.70, under symmetric 0.15-0.39. The ratio
# sits halfway between (0.85). Chosen on seen passes, scored between them (MNIST
# instance-dependent: best gamma 0.6 where 3 x flip gives 0.42-0.55); registered before its
# held-out check ran (docs/measurements/spread_raise_preregistered.md).
SPREAD_RATIO = 0.85
SPREAD_SLOPE = {"blurry": 4.0}


@dataclass(frozen=True)
class NoiseEstimate:
    """rate: the fraction of wrong labels; flip: the fraction of a class's samples that
    carry its most common wrong label, averaged over true classes weighted by their wrong
    labels; unsure: the fraction of samples whose largest probability is below 0.5
    (estimate_noise; 0 where it was not read, which leaves the confusion gate open)."""

    rate: float
    flip: float
    unsure: float = 0.0


def noise_matrix(labels: np.ndarray, pred_probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """cleanlab's estimated joint J[given, true] (``cleanlab.count.estimate_joint``) and the
    noise matrix T = J / its column sums, T[s, k] = P(given = s | true = k)."""
    from cleanlab.count import estimate_joint

    joint = estimate_joint(labels=labels, pred_probs=pred_probs)
    return joint, joint / np.maximum(joint.sum(axis=0), 1e-12)


def estimate_noise(labels: np.ndarray, pred_probs: np.ndarray) -> NoiseEstimate:
    """The readings of the joint J and noise matrix T (``noise_matrix``), the noise rate
    (``noise_rate``) and the flip rate (``flip_rate``), and of the probabilities, the
    unsure share (``unsure_share``)."""
    joint, matrix = noise_matrix(labels, pred_probs)
    return NoiseEstimate(noise_rate(joint), flip_rate(joint, matrix), unsure_share(pred_probs))


def unsure_share(pred_probs: np.ndarray) -> float:
    """The fraction of samples whose largest (normalised) probability is below 0.5."""
    probs = np.asarray(pred_probs, dtype=np.float64)
    top = probs.max(axis=1) / np.maximum(probs.sum(axis=1), 1e-12)
    return float(np.mean(top < 0.5))


def noise_rate(joint: np.ndarray) -> float:
    """The fraction of wrong labels the joint J[given, true] implies: 1 - trace(J)."""
    return float(np.clip(1.0 - np.trace(joint), 0.0, 1.0))


def flip_rate(joint: np.ndarray, matrix: np.ndarray) -> float:
    """With r_k = 1 - T[k, k]: sum_k w_k max_{s != k} T[s, k] / sum_k w_k, w_k = r_k *
    P(true = k) (0 when no label looks wrong)."""
    wrong = off_diagonal(matrix)
    return weighted_by_errors(wrong.max(axis=0), joint, wrong)


def off_diagonal(matrix: np.ndarray) -> np.ndarray:
    """T with its diagonal zeroed: the wrong labels' cells."""
    wrong = matrix.copy()
    np.fill_diagonal(wrong, 0.0)
    return wrong


def weighted_by_errors(values: np.ndarray, joint: np.ndarray, wrong: np.ndarray) -> float:
    """The mean of per-class ``values`` weighted by w_k = r_k P(true = k) (0 when all w_k are)."""
    weight = joint.sum(axis=0) * wrong.sum(axis=0)
    return float((values * weight).sum() / weight.sum()) if weight.sum() > 0 else 0.0


def estimate_noise_rate(labels: np.ndarray, pred_probs: np.ndarray) -> float:
    """The fraction of wrong labels that cleanlab's confident joint implies: 1 - trace of
    ``cleanlab.count.estimate_joint(labels, pred_probs)``."""
    return estimate_noise(labels, pred_probs).rate


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
    """gamma (``loss="blurry"``) or c (``"piecewise_zero"``) for corruption rate ``eta``."""
    if loss not in PARAMETER_OF:
        raise ValueError(f"automatic parameters exist for {sorted(PARAMETER_OF)}, not {loss!r}")
    etas, values = best_values(loss)
    return round(float(np.interp(eta, etas, values)), 4)


def parameter_for_structure(loss: str, noise: NoiseEstimate,
                            rule: tuple[float, float] | None = None,
                            largest: float | None = None) -> float:
    """``parameter_for_noise`` at the noise rate, raised to BASE + SLOPE x the flip rate
    where that is larger, at most ``largest`` (default LARGEST[loss]): (BASE, SLOPE) =
    ``rule``, else STRUCTURE[loss] (Blurry Loss; other losses: ``parameter_for_noise``
    alone, not measured)."""
    value = parameter_for_noise(loss, noise.rate)
    rule = rule or STRUCTURE.get(loss)
    if rule is not None:
        base, slope = rule
        cap = LARGEST[loss] if largest is None else largest
        value = max(value, min(base + slope * noise.flip, cap))
    return round(value, 4)


def parameter_for_confusion(loss: str, noise: NoiseEstimate) -> float:
    """``parameter_for_structure`` with the cap GATED_LARGEST[loss] where the unsure share is
    at most UNSURE_GATE, else ``parameter_for_noise`` at the noise rate (losses without a
    gated cap: ``parameter_for_structure``)."""
    if loss in GATED_LARGEST and not gate_open(noise.unsure):
        return parameter_for_noise(loss, noise.rate)
    return parameter_for_confusion_cap(loss, noise)


def parameter_for_confusion_cap(loss: str, noise: NoiseEstimate) -> float:
    """``parameter_for_structure`` with the cap GATED_LARGEST[loss] where the unsure share is
    at most UNSURE_GATE, else with its own cap LARGEST[loss]: the confusion gate with the
    structure rule kept where the gate is shut (docs/measurements/gated_caps_preregistered.md)."""
    if loss in GATED_LARGEST and gate_open(noise.unsure):
        return parameter_for_structure(loss, noise, largest=GATED_LARGEST[loss])
    return parameter_for_structure(loss, noise)


def parameter_for_confusion_spread(loss: str, noise: NoiseEstimate, slope: float | None = None,
                                   ratio: float | None = None) -> float:
    """``parameter_for_confusion_cap``, raised to ``slope`` (default SPREAD_SLOPE[loss]) x
    the flip rate (up to LARGEST[loss]) where the gate is shut and the wrong labels spread
    (``spread`` at ``ratio``; other values of both are for scoring variants)."""
    slope = SPREAD_SLOPE.get(loss) if slope is None else slope
    if slope is not None and not gate_open(noise.unsure) and spread(noise, ratio):
        return parameter_for_structure(loss, noise, rule=(0.0, slope))
    return parameter_for_confusion_cap(loss, noise)


def parameter_for_confusion_spread_only(loss: str, noise: NoiseEstimate) -> float:
    """``parameter_for_confusion`` (the gate: the paper's value where it is shut), except
    where the gate is shut and the wrong labels spread: there ``confusion_spread``'s raise.
    Where the model finds the data hard, gamma rises above the paper's value for spreading
    wrong labels only, never for pairs (docs/measurements/pair_gate_preregistered.md)."""
    if loss in SPREAD_SLOPE and not gate_open(noise.unsure) and spread(noise):
        return parameter_for_structure(loss, noise, rule=(0.0, SPREAD_SLOPE[loss]))
    return parameter_for_confusion(loss, noise)


def spread(noise: NoiseEstimate, ratio: float | None = None) -> bool:
    """Whether the wrong labels spread over several wrong classes: the flip rate is at most
    ``ratio`` (default SPREAD_RATIO) x the noise rate (and some labels look wrong)."""
    return 0.0 < noise.flip <= (SPREAD_RATIO if ratio is None else ratio) * noise.rate


# the --auto-by rules that read the whole NoiseEstimate (noise_estimate reads its rate alone)
RULES_ON_READINGS = {"noise_structure": parameter_for_structure,
                     "confusion_gate": parameter_for_confusion,
                     "confusion_cap": parameter_for_confusion_cap,
                     "confusion_spread": parameter_for_confusion_spread,
                     "confusion_spread_only": parameter_for_confusion_spread_only}


def gate_open(unsure: float) -> bool:
    """Whether the confusion gate lets gamma rise with the flip rate: the unsure share is at
    most UNSURE_GATE."""
    return unsure <= UNSURE_GATE
