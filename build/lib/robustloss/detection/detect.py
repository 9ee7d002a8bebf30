"""Label-error detectors, looked up by name: (given labels, out-of-fold probabilities) ->
boolean mask of samples flagged as mislabelled."""

from __future__ import annotations

import inspect

import numpy as np
from cleanlab.filter import find_label_issues

from robustloss.registry import Registry

DETECTORS = Registry("detector")
# What a detector judges from; a registered detector may declare ``evidence`` (default: the
# first). Out-of-fold detectors are called as detector(labels, pred_probs, **params); a
# training-runs detector is a settings class built from its params (see aum_detector).
EVIDENCE = ("out_of_fold_probabilities", "training_runs")


def evidence_of(name: str) -> str:
    """What detector ``name`` needs: one of EVIDENCE."""
    return getattr(DETECTORS.get(name), "evidence", EVIDENCE[0])


def check_probabilities(labels: np.ndarray, pred_probs: np.ndarray) -> None:
    """cleanlab wants one row per sample in dataset order, every row a filled distribution."""
    if pred_probs.ndim != 2 or len(pred_probs) != len(labels):
        raise ValueError(f"pred_probs must be (N={len(labels)}, K), got {pred_probs.shape}")
    if not np.isfinite(pred_probs).all():
        raise ValueError("pred_probs has NaN or infinite entries (rows never predicted?)")
    if not np.allclose(pred_probs.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError("pred_probs rows must sum to 1")
    if labels.min() < 0 or labels.max() >= pred_probs.shape[1]:
        raise ValueError(f"labels must lie in [0, {pred_probs.shape[1]})")


@DETECTORS.register("confident_learning")
def confident_learning(labels, pred_probs, filter_by: str = "both", n_jobs: int = 1, **kwargs):
    """Confident Learning (Northcutt et al. 2021) through
    ``cleanlab.filter.find_label_issues(labels, pred_probs, filter_by=...)``.

    labels: int (N,); pred_probs: float (N, K) out-of-fold probabilities, columns in class
    order. filter_by: "both" (paper section 5), "prune_by_class", "prune_by_noise_rate",
    "confident_learning", "predicted_neq_given", ... (cleanlab's options). n_jobs=1 avoids
    multiprocessing inside cluster jobs. Returns bool (N,).
    """
    labels = np.asarray(labels, dtype=np.int64)
    pred_probs = np.asarray(pred_probs, dtype=np.float64)
    check_probabilities(labels, pred_probs)
    pred_probs = pred_probs / pred_probs.sum(axis=1, keepdims=True)
    return find_label_issues(labels, pred_probs, filter_by=filter_by, n_jobs=n_jobs, **kwargs)


# cleanlab.filter.find_label_issues' filter_by options (cleanlab 2.x documentation)
FILTER_BY = ("prune_by_noise_rate", "prune_by_class", "both", "confident_learning",
             "predicted_neq_given", "low_normalized_margin", "low_self_confidence")


def check_detector_params(name: str, params: dict) -> None:
    """Unknown detectors, parameters or option strings fail here, before any training."""
    detector = DETECTORS.get(name)
    if evidence_of(name) == "training_runs":
        DETECTORS.create(name, params)  # unknown names and bad values fail here
    elif name == "confident_learning":
        accepted = set(inspect.signature(find_label_issues).parameters) - {"labels", "pred_probs"}
        unknown = sorted(set(params) - accepted)
        if unknown:
            raise ValueError(f"detector {name!r} got unknown parameter(s) {unknown}; "
                             f"cleanlab's find_label_issues accepts {sorted(accepted)}")
        if params.get("filter_by", "both") not in FILTER_BY:
            raise ValueError(f"detector.filter_by {params['filter_by']!r} is not one of {FILTER_BY}")
    else:
        inspect.signature(detector).bind(None, None, **params)


def detect(name: str, labels: np.ndarray, pred_probs: np.ndarray, **params) -> np.ndarray:
    """Run detector ``name`` (one of ``DETECTORS.names()``); returns bool (N,) flags."""
    return np.asarray(DETECTORS.get(name)(labels, pred_probs, **params), dtype=bool)
