import numpy as np
import pytest
from scipy.stats import chisquare

from robustloss.components.noise import corrupt_labels

K = 10


def clean_labels(n=5000, seed=1):
    return np.random.default_rng(seed).integers(0, K, n)


@pytest.mark.parametrize("rate", [0.1, 0.25, 0.4])
def test_exact_mode_moves_exactly_round_rate_n_labels_to_other_classes(rate):
    labels = clean_labels(n=1234)
    noisy, mask = corrupt_labels(labels, K, rate, seed=0)
    assert mask.sum() == round(rate * 1234)
    assert np.array_equal(mask, noisy != labels)        # no label maps to itself
    assert np.array_equal(noisy[~mask], labels[~mask])


def test_targets_are_uniform_over_the_other_classes():
    labels = np.zeros(20000, dtype=np.int64)  # all class 0: targets must spread over 1..9
    noisy, mask = corrupt_labels(labels, K, 0.5, seed=3)
    counts = np.bincount(noisy[mask], minlength=K)
    assert counts[0] == 0
    assert chisquare(counts[1:]).pvalue > 0.001


def test_seeded_determinism():
    labels = clean_labels()
    a = corrupt_labels(labels, K, 0.3, seed=7)
    b = corrupt_labels(labels, K, 0.3, seed=7)
    c = corrupt_labels(labels, K, 0.3, seed=8)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])


def test_zero_rate_changes_nothing():
    labels = clean_labels()
    for mode in ("exact", "bernoulli"):
        noisy, mask = corrupt_labels(labels, K, 0.0, seed=0, mode=mode)
        assert np.array_equal(noisy, labels) and not mask.any()


def test_bernoulli_mode_rate_is_close_but_not_exact():
    labels = clean_labels(n=20000)
    noisy, mask = corrupt_labels(labels, K, 0.2, seed=0, mode="bernoulli")
    assert abs(mask.mean() - 0.2) < 0.015
    assert np.array_equal(mask, noisy != labels)


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5])
def test_bad_rate_rejected(rate):
    with pytest.raises(ValueError, match=r"noise.rate must be in \[0, 1\)"):
        corrupt_labels(clean_labels(), K, rate, seed=0)


def test_bad_mode_rejected():
    with pytest.raises(ValueError, match="valid choices: exact, bernoulli"):
        corrupt_labels(clean_labels(), K, 0.1, seed=0, mode="pairwise")
