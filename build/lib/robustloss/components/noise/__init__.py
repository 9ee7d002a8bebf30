"""Synthetic label noise with a known answer: which labels were corrupted.

Kinds (``noise.kind``; definitions and sources in conf/noise/*.yaml and docs/DESIGN.md):

- ``symmetric``: to a uniformly chosen other class (the paper's);
- ``asymmetric``: class-dependent, the literature's map for the dataset (class_maps);
- ``pairflip``: class i -> i + 1 mod K;
- ``instance``: instance-dependent, from the images (Xia et al. 2020).

``corrupt(...)`` returns (noisy (N,) int64, corrupted (N,) bool), corrupted == noisy != labels.
"""

from __future__ import annotations

import numpy as np
import torch

from robustloss.components.noise.class_maps import ASYMMETRIC_MAPS, asymmetric_map, flip_by_map, pairflip_map
from robustloss.components.noise.instance import instance_noise
from robustloss.components.noise.symmetric import NOISE_MODES, check_rate, corrupt_labels
from robustloss.errors import check_choice

NOISE_KINDS = ("symmetric", "asymmetric", "pairflip", "instance")
# The settings each kind reads besides rate and mode (the others are not part of its identity).
KIND_PARAMS = {"symmetric": (), "asymmetric": ("flips",), "pairflip": (), "instance": ("spread",)}

__all__ = ["ASYMMETRIC_MAPS", "KIND_PARAMS", "NOISE_KINDS", "NOISE_MODES", "check_noise",
           "check_rate", "corrupt", "corrupt_labels", "transition_counts"]


def check_noise(kind: str, rate: float, mode: str = "exact", dataset: str | None = None,
                num_classes: int | None = None, flips=None, spread: float = 0.1) -> None:
    """ValueError naming the setting for a combination that cannot be generated. With
    ``dataset`` / ``num_classes`` unknown (before the data is read) only what does not depend
    on them is checked."""
    check_choice("noise.kind", kind, NOISE_KINDS)
    check_choice("noise.mode", mode, NOISE_MODES)
    check_rate(rate)
    if kind in ("asymmetric", "pairflip") and rate >= 0.5:
        raise ValueError(f"noise.kind={kind} needs noise.rate < 0.5 (at {rate} the wrong label "
                         f"becomes the majority of a flipped class), got {rate}")
    if kind == "pairflip" and num_classes is not None and num_classes < 2:
        raise ValueError("noise.kind=pairflip needs at least 2 classes")
    if kind == "asymmetric" and dataset is not None and num_classes is not None:
        asymmetric_map(dataset, num_classes, flips)
    if kind == "instance" and (isinstance(spread, bool) or not isinstance(spread, int | float)
                               or spread < 0):
        raise ValueError(f"noise.spread must be a number >= 0, got {spread!r}")


def corrupt(kind: str, labels: np.ndarray, num_classes: int, rate: float, seed: int,
            mode: str = "exact", *, dataset: str | None = None,
            images: torch.Tensor | None = None, flips=None, spread: float = 0.1,
            device: torch.device | str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """Corrupt ``labels`` (int (N,) in [0, num_classes)) with noise of ``kind`` at ``rate``.

    dataset: the dataset's registered name (asymmetric: which map); images: (N, ...) the
    samples the labels belong to (instance; projected on ``device``); flips: an own
    asymmetric map [[source, target], ...]; spread: instance's std of the per-sample rate.
    """
    check_noise(kind, rate, mode, dataset, num_classes, flips, spread)
    labels = np.asarray(labels, dtype=np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes}), got [{labels.min()}, {labels.max()}]")
    if kind == "symmetric":
        return corrupt_labels(labels, num_classes, rate, seed, mode)
    if kind == "asymmetric":
        return flip_by_map(labels, asymmetric_map(dataset, num_classes, flips), rate, seed, mode)
    if kind == "pairflip":
        return flip_by_map(labels, pairflip_map(num_classes), rate, seed, mode)
    if images is None or len(images) != len(labels):
        raise ValueError("noise.kind=instance needs the images the labels belong to")
    return instance_noise(images, labels, num_classes, rate, seed, mode, spread, device)


def transition_counts(noisy: np.ndarray, true: np.ndarray, num_classes: int) -> np.ndarray:
    """counts (K, K) int64: counts[g, t] = samples with given label g and true label t."""
    counts = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(counts, (np.asarray(noisy), np.asarray(true)), 1)
    return counts
