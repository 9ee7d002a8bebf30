import numpy as np
import pytest

from robustloss.detection.detect import detect
from robustloss.detection.metrics import accuracy, detection_scores


def synthetic_case(n=600, k=3, n_errors=60, seed=0):
    """Confident, correct probabilities; the first n_errors labels then flipped."""
    rng = np.random.default_rng(seed)
    true = np.arange(n) % k
    probs = np.full((n, k), 0.05 / (k - 1))
    probs[np.arange(n), true] = 0.95
    probs += rng.uniform(0, 0.01, probs.shape)
    probs /= probs.sum(1, keepdims=True)
    given = true.copy()
    given[:n_errors] = (true[:n_errors] + 1) % k
    mask = given != true
    return given, probs, mask


def test_confident_learning_finds_exactly_the_flipped_labels():
    given, probs, mask = synthetic_case()
    flagged = detect("confident_learning", given, probs, filter_by="both")
    assert flagged.dtype == bool and flagged.shape == mask.shape
    assert np.array_equal(flagged, mask)
    scores = detection_scores(flagged, mask)
    assert scores["f1"] == 1.0 and scores["balanced_accuracy"] == 1.0


def test_unfilled_probabilities_are_refused():
    given, probs, _ = synthetic_case()
    probs[5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        detect("confident_learning", given, probs)


def test_unknown_detector_lists_valid_names():
    given, probs, _ = synthetic_case()
    with pytest.raises(ValueError, match="unknown detector 'magic'; valid choices: aum, confident_learning"):
        detect("magic", given, probs)


def test_detection_scores_on_a_hand_counted_case():
    mask = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0], bool)
    flagged = np.array([1, 1, 1, 0, 1, 0, 0, 0, 0, 0], bool)
    s = detection_scores(flagged, mask)
    # TP=3, FP=1, FN=1, TN=5
    assert s["precision"] == pytest.approx(3 / 4)
    assert s["recall"] == pytest.approx(3 / 4)
    assert s["f1"] == pytest.approx(3 / 4)
    assert s["balanced_accuracy"] == pytest.approx((3 / 4 + 5 / 6) / 2)
    assert (s["n_flagged"], s["n_corrupted"]) == (4, 4)


def test_accuracy_is_argmax_agreement():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    assert accuracy(probs, np.array([0, 1, 1])) == pytest.approx(2 / 3)


def test_no_known_corruption_scores_nothing():
    """Labels as given (no planted or human-known errors): no F1 of 0, only the count."""
    s = detection_scores(np.array([True, False, True]), np.zeros(3, dtype=bool))
    assert np.isnan(s["f1"]) and np.isnan(s["balanced_accuracy"]) and np.isnan(s["precision"])
    assert (s["n_flagged"], s["n_corrupted"]) == (2, 0)
