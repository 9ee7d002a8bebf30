"""Synthetic label noise with a known answer: which labels were corrupted."""

from __future__ import annotations

import numpy as np

NOISE_MODES = ("exact", "bernoulli")


def check_rate(rate: float) -> None:
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"noise.rate must be in [0, 1), got {rate}")


def corrupt_labels(
    labels: np.ndarray, num_classes: int, rate: float, seed: int, mode: str = "exact"
) -> tuple[np.ndarray, np.ndarray]:
    """Flip labels to a uniformly chosen *other* class.

    labels: int array (N,) with values in [0, num_classes).
    mode: ``"exact"`` (default, paper section 5) flips exactly round(rate * N) labels chosen
    without replacement; ``"bernoulli"`` flips each label independently with probability
    ``rate`` (as in the authors' code).
    Returns (noisy_labels (N,) int64, corrupted (N,) bool), with corrupted == (noisy != labels).
    """
    check_rate(rate)
    if mode not in NOISE_MODES:
        raise ValueError(f"unknown noise mode {mode!r}; valid choices: {', '.join(NOISE_MODES)}")
    labels = np.asarray(labels, dtype=np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes}), got [{labels.min()}, {labels.max()}]")
    rng = np.random.default_rng(seed)
    n = labels.shape[0]
    if mode == "exact":
        corrupted = np.zeros(n, dtype=bool)
        corrupted[rng.choice(n, size=int(round(rate * n)), replace=False)] = True
    else:
        corrupted = rng.random(n) < rate
    noisy = labels.copy()
    shift = rng.integers(1, num_classes, size=int(corrupted.sum()))
    noisy[corrupted] = (labels[corrupted] + shift) % num_classes
    return noisy, corrupted
