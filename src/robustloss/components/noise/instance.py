"""Instance-dependent label noise (Xia et al., NeurIPS 2020, "Part-dependent label noise"),
the IDN generator used across the label-noise literature.

Per sample a flip rate q ~ N(eta, spread^2) truncated to [0, 1]; one seeded projection W ~
N(0, 1) of shape (K, d, K); for a sample x (flattened image, standardised per image) with
label y: a = x . W[y], a_y = -inf, and the noisy label is drawn from
P = q * softmax(a) + (1 - q) * e_y. The wrong class a sample moves to is a function of its
image: images that look alike move alike.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.stats import truncnorm

CHUNK = 8192  # images projected at once (bounds the float64 copy of the images)


def flip_rates(n: int, rate: float, spread: float, rng: np.random.Generator) -> np.ndarray:
    """q (n,): N(rate, spread^2) truncated to [0, 1] (Xia et al.'s ``truncnorm``)."""
    if spread == 0:
        return np.full(n, rate)
    low, high = (0 - rate) / spread, (1 - rate) / spread
    return truncnorm.rvs(low, high, loc=rate, scale=spread, size=n, random_state=rng)


def class_scores(images: torch.Tensor, labels: np.ndarray, weights: np.ndarray,
                 device: torch.device | str = "cpu") -> np.ndarray:
    """a (N, K) float64: x . W[y] for every sample, with a_y = -inf.

    images: uint8 (N, C, H, W) (or any (N, ...) numbers); weights: W (K, d, K). Each image
    is flattened and standardised (zero mean, unit standard deviation), so its scores do not
    depend on the other images. Computed in float64 on ``device`` (the same on every device).
    """
    k = weights.shape[0]
    scores = np.empty((len(labels), k))
    for y in np.unique(labels):  # x . W[y] for the samples of class y: N * d * K in all
        rows = np.flatnonzero(labels == y)
        projection = torch.as_tensor(weights[y], dtype=torch.float64, device=device)
        for start in range(0, len(rows), CHUNK):
            chunk = torch.as_tensor(rows[start:start + CHUNK], device=images.device)
            x = images[chunk].to(device=device, dtype=torch.float64).flatten(1)
            x = (x - x.mean(1, keepdim=True)) / x.std(1, keepdim=True).clamp_min(1e-12)
            scores[rows[start:start + CHUNK]] = (x @ projection).cpu().numpy()
    scores[np.arange(len(scores)), labels] = -np.inf
    return scores


def instance_noise(images: torch.Tensor, labels: np.ndarray, num_classes: int, rate: float,
                   seed: int, mode: str = "exact", spread: float = 0.1,
                   device: torch.device | str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """Corrupt labels by the images they belong to.

    mode ``bernoulli``: Xia et al. exactly, each sample flips with its own q (the realised
    rate is the mean of the truncated normal, above eta for small eta: 0.13 at eta = 0.1);
    ``exact`` (default): exactly round(eta * N) samples flip, drawn without replacement
    with probability proportional to q, each to a class drawn from softmax(a) (the same
    target distribution). Returns (noisy (N,) int64, corrupted (N,) bool).
    """
    labels = np.asarray(labels, dtype=np.int64)
    n = len(labels)
    rng = np.random.default_rng(seed)
    weights = rng.standard_normal((num_classes, images[0].numel(), num_classes))
    q = flip_rates(n, rate, spread, rng)
    if mode == "exact":  # Efraimidis-Spirakis: the k largest log(u) / q
        keys = np.log(rng.random(n)) / np.maximum(q, 1e-12)
        flip = np.zeros(n, dtype=bool)
        flip[np.argsort(-keys, kind="stable")[:int(round(rate * n))]] = True
    else:
        flip = rng.random(n) < q
    gumbel = rng.gumbel(size=(n, num_classes))
    targets = np.argmax(class_scores(images, labels, weights, device) + gumbel, axis=1)
    noisy = np.where(flip, targets, labels)
    return noisy, noisy != labels
