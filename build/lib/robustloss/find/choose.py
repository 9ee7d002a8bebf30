"""Blurry Loss's gamma and Piecewise-zero's c chosen from the data (``gamma=auto``,
``c=auto``).

The paper finds no universally best value, but its Table 1 shows the best one rising with
the corruption rate eta. So: estimate eta from a first cross-validated pass with
cross-entropy (cleanlab's estimate of the joint distribution of given and true labels:
eta = 1 - its trace), then read gamma / c off the paper's best values at that eta,
averaged over MNIST and Fashion-MNIST (the datasets closest to what a small network trains
on here), interpolated linearly between the tabulated eta = 0.1 ... 0.4 and held constant
outside them. The gap this leaves to the best grid value in hindsight is measured by
``scripts/auto_parameter_check.py`` (README: "How good is the automatic γ?").
"""

from __future__ import annotations

import functools

import numpy as np

from robustloss.reporting.paper import LOSS_COLUMNS, published

# The paper's datasets the relation is read from (its Table 1 rows).
RELATION_DATASETS = ("MNIST", "Fashion-MNIST")
# loss -> the parameter chosen for it: the losses whose parameter the paper's tables sweep
PARAMETER_OF = {loss: param for loss, (_, param) in LOSS_COLUMNS.items() if param}


def estimate_noise_rate(labels: np.ndarray, pred_probs: np.ndarray) -> float:
    """The fraction of wrong labels that cleanlab's confident joint implies: 1 - trace of
    ``cleanlab.count.estimate_joint(labels, pred_probs)``."""
    from cleanlab.count import estimate_joint

    joint = estimate_joint(labels=labels, pred_probs=pred_probs)
    return float(np.clip(1.0 - np.trace(joint), 0.0, 1.0))


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
