"""Small files in the real CIFAR / CIFAR-N formats, written by tests (CIFAR images are not
in shared/data)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch


def _pickle(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=2)


def fake_rows(n: int, offset: int) -> np.ndarray:
    """n distinct uint8 images as CIFAR rows (n, 3072): R plane, G plane, B plane."""
    rng = np.random.default_rng(offset)
    return rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)


def write_fake_cifar10(root: Path, per_batch: int = 4, test: int = 6) -> np.ndarray:
    """CIFAR-10's python layout: 5 train batches, a test batch, batches.meta. The real files
    are Python 2 pickles whose str keys torchvision reads as "data", "labels"; returns the
    train labels."""
    folder = root / "cifar-10-batches-py"
    labels = []
    for b in range(1, 6):
        y = [(b * 7 + i) % 10 for i in range(per_batch)]
        labels += y
        _pickle(folder / f"data_batch_{b}", {"batch_label": f"training batch {b} of 5",
                                             "labels": y, "data": fake_rows(per_batch, b)})
    _pickle(folder / "test_batch", {"batch_label": "testing batch 1 of 1",
                                    "labels": [i % 10 for i in range(test)],
                                    "data": fake_rows(test, 99)})
    _pickle(folder / "batches.meta", {"label_names": [f"class{i}" for i in range(10)],
                                      "num_cases_per_batch": per_batch, "num_vis": 3072})
    return np.array(labels, dtype=np.int64)


def write_fake_cifar100(root: Path, train: int = 30, test: int = 20) -> np.ndarray:
    """CIFAR-100's python layout: train, test, meta (fine and coarse labels)."""
    folder = root / "cifar-100-python"
    fine = [(3 * i) % 100 for i in range(train)]
    _pickle(folder / "train", {"fine_labels": fine, "coarse_labels": [f // 5 for f in fine],
                               "data": fake_rows(train, 1)})
    test_fine = [(7 * i) % 100 for i in range(test)]
    _pickle(folder / "test", {"fine_labels": test_fine,
                              "coarse_labels": [f // 5 for f in test_fine],
                              "data": fake_rows(test, 2)})
    _pickle(folder / "meta", {"fine_label_names": [f"f{i}" for i in range(100)],
                              "coarse_label_names": [f"c{i}" for i in range(20)]})
    return np.array(fine, dtype=np.int64)


def write_fake_human_labels(path: Path, arrays: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({k: np.asarray(v, dtype=np.int64) for k, v in arrays.items()}, path)
    return path


def write_idx(path: Path, array: np.ndarray) -> Path:
    """``array`` (uint8) as an IDX file, MNIST's format: 0, 0, 0x08 (unsigned byte), ndim,
    the sizes big-endian, then the bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = bytes([0, 0, 8, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    path.write_bytes(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())
    return path


def write_fake_mnist(root: Path, train: int = 60, test: int = 20) -> Path:
    """The four unpacked MNIST files (torchvision's layout) with random images."""
    rng = np.random.default_rng(0)
    raw = root / "MNIST" / "raw"
    for split, n in (("train", train), ("t10k", test)):
        write_idx(raw / f"{split}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        write_idx(raw / f"{split}-labels-idx1-ubyte", np.arange(n) % 10)
    return raw
