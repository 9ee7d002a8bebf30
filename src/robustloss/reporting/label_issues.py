"""The samples an experiment's record flags as mislabelled, as a table, worst first (the
command: ``robustloss label-issues DIR``, robustloss.cli.label_issues).

A record's table (``issues_of``): index, given_label, predicted_label, p_given (out-of-fold
probability of the given label), p_predicted, label_quality (cleanlab's normalized margin:
p_given minus the largest other class's probability, rescaled to [0, 1]; low = likely wrong)
and flagged, flagged rows first, lowest quality first. AUM records (detector=aum) list
index, given_label, aum (area under the margin; low = likely wrong) and flagged instead,
lowest AUM first.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from cleanlab.rank import get_label_quality_scores


def label_issues(noisy_labels: np.ndarray, probabilities: np.ndarray, flagged: np.ndarray,
                 sample_index: np.ndarray | None = None) -> pd.DataFrame:
    """noisy_labels int (N,), probabilities float (N, K), flagged bool (N,) -> one row per
    sample, flagged first, then by label quality ascending. ``sample_index`` (N,): each
    row's index in the dataset file (differs from the row with dataset.subset)."""
    probs = probabilities.astype(np.float64)
    probs /= probs.sum(axis=1, keepdims=True)
    frame = pd.DataFrame({
        "index": np.arange(len(noisy_labels)) if sample_index is None else sample_index,
        "given_label": noisy_labels,
        "predicted_label": probs.argmax(axis=1),
        "p_given": probs[np.arange(len(noisy_labels)), noisy_labels],
        "p_predicted": probs.max(axis=1),
        "label_quality": get_label_quality_scores(noisy_labels, probs, method="normalized_margin"),
        "flagged": flagged.astype(bool),
    })
    return frame.sort_values(["flagged", "label_quality"], ascending=[False, True],
                             kind="stable").reset_index(drop=True)


def aum_issues(noisy_labels: np.ndarray, aum: np.ndarray, flagged: np.ndarray,
                sample_index: np.ndarray) -> pd.DataFrame:
    """One row per sample of an AUM record, flagged first, then by AUM ascending (samples
    never judged, e.g. held out, last)."""
    frame = pd.DataFrame({"index": sample_index, "given_label": noisy_labels, "aum": aum,
                          "flagged": flagged.astype(bool)})
    return frame.sort_values(["flagged", "aum"], ascending=[False, True], kind="stable",
                             na_position="last").reset_index(drop=True)


def issues_of(arrays: dict[str, np.ndarray]) -> pd.DataFrame:
    """The issue table of one record's arrays, whichever detector made it."""
    index = arrays.get("sample_index")
    if "probabilities" not in arrays:
        return aum_issues(arrays["noisy_labels"], arrays["aum"], arrays["flagged"],
                          np.arange(len(arrays["noisy_labels"])) if index is None else index)
    return label_issues(arrays["noisy_labels"], arrays["probabilities"], arrays["flagged"], index)

