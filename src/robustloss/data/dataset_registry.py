"""Datasets, looked up by name: the registry readers register into, the in-memory form they
return (``LabelledData``) and the cached ``load``. Importing ``robustloss.data`` registers
every reader."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, replace

import numpy as np
import torch

from robustloss.registry import Registry

DATASETS = Registry("dataset")


@dataclass(frozen=True)
class LabelledData:
    """images: uint8 (N, C, H, W); labels: int64 (N,) clean labels in [0, num_classes).

    given_labels: int64 (N,) human-given (noisy) labels when the dataset ships them
    (CIFAR-N); they replace synthetic noise. test_images / test_labels: the test split,
    when the dataset has one.
    """

    name: str
    images: torch.Tensor
    labels: np.ndarray
    num_classes: int
    given_labels: np.ndarray | None = None
    test_images: torch.Tensor | None = None
    test_labels: np.ndarray | None = None

    def __post_init__(self):
        if self.images.dtype != torch.uint8 or self.images.ndim != 4:
            raise ValueError(f"{self.name}: images must be uint8 (N, C, H, W)")
        if len(self.images) != len(self.labels):
            raise ValueError(f"{self.name}: {len(self.images)} images but {len(self.labels)} labels")

    def __len__(self) -> int:
        return len(self.labels)

    def subset_indices(self, size: int | None, seed: int = 0) -> np.ndarray:
        """Sorted indices of a random subset of ``size`` training samples (all when None)."""
        if size is not None and size <= 0:
            raise ValueError(f"dataset subset size must be positive, got {size}")
        if size is None or size >= len(self):
            return np.arange(len(self))
        return np.sort(np.random.default_rng(seed).permutation(len(self))[:size])

    def take(self, keep: np.ndarray) -> LabelledData:
        """The training samples at indices ``keep`` (the test split is kept whole)."""
        if len(keep) == len(self) and np.array_equal(keep, np.arange(len(self))):
            return self
        given = None if self.given_labels is None else self.given_labels[keep]
        return replace(
            self, images=self.images[torch.from_numpy(keep)], labels=self.labels[keep],
            given_labels=given,
        )

    def subset(self, size: int | None, seed: int = 0) -> LabelledData:
        """A class-mixed random subset of ``size`` training samples (all when None)."""
        return self.take(self.subset_indices(size, seed))


@functools.lru_cache(maxsize=4)
def _load_cached(name: str, root: str | None, params: tuple, stamps: tuple) -> LabelledData:
    return DATASETS.create(name, dict(params), root=root)


def _file_stamps(params: dict) -> tuple:
    """(path, size, mtime) of every parameter that names an existing file, so a changed
    file is read again rather than served from the cache."""
    stamps = []
    for value in params.values():
        if isinstance(value, str) and os.path.isfile(value):
            info = os.stat(value)
            stamps.append((value, info.st_size, info.st_mtime_ns))
    return tuple(stamps)


def load(name: str, root: str | None = None, **params) -> LabelledData:
    """Load dataset ``name`` (one of ``DATASETS.names()``); ``root`` is its data folder."""
    DATASETS.get(name)  # unknown names fail here with the list of valid ones
    return _load_cached(name, None if root is None else str(root), tuple(sorted(params.items())),
                        _file_stamps(params))
