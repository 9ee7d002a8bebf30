"""Torchvision image datasets as whole in-memory uint8 tensors: ``mnist``, ``fashion_mnist``,
``cifar10``, ``cifar100``.

Each loader returns a :class:`LabelledData` with the training split in ``images`` /
``labels`` and the test split in ``test_images`` / ``test_labels``:

- ``mnist``, ``fashion_mnist``: uint8 (60000, 1, 28, 28) train, (10000, 1, 28, 28) test,
  10 classes.
- ``cifar10``: uint8 (50000, 3, 32, 32) train, (10000, 3, 32, 32) test, 10 classes.
- ``cifar100``: the same shapes, 100 classes (the fine labels).

Labels are int64 numpy arrays in torchvision's order. Files are read through
``torchvision.datasets`` in torchvision's own layout under the data folder (see
:func:`data_root`): ``MNIST/raw/train-images-idx3-ubyte``, ``FashionMNIST/raw/...``,
``cifar-10-batches-py/data_batch_1``, ``cifar-100-python/train``, ...

Parameters shared by the loaders: ``download`` (default False) lets torchvision fetch
missing files (needs internet); without it a missing file fails at once with a
``FileNotFoundError`` that lists the files expected and how to provide them. The CIFAR
loaders also take ``verify`` (default True): torchvision's MD5 check of every CIFAR file;
``verify=False`` only checks that the files exist (for re-packed copies, and for tests that
write small files in the CIFAR pickle format).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import torch
from torchvision import datasets as tvd

from robustloss.data.dataset_registry import DATASETS, LabelledData
from robustloss.errors import UserError

DATA_ENV = "ROBUSTLOSS_DATA"
FIX_HINT = (
    "Put the files there in torchvision's layout, or point to a folder that has them with "
    f"the {DATA_ENV} environment variable or dataset.root=<folder>, or let torchvision "
    "fetch them with dataset.download=true (needs internet)."
)


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The data folder: ``root``, else $ROBUSTLOSS_DATA, else
    ``$XDG_CACHE_HOME/robustloss/data`` (``~/.cache/robustloss/data`` when unset)."""
    if root is None or str(root) == "":
        root = os.environ.get(DATA_ENV) or None
    if root is None:
        cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        root = Path(cache) / "robustloss" / "data"
    return Path(root).expanduser()


def _files(cls: type[tvd.VisionDataset]) -> list[str]:
    """Paths, relative to the data folder, that ``cls(root, download=False)`` reads."""
    if issubclass(cls, tvd.MNIST):
        raw = f"{cls.__name__}/raw"
        return [f"{raw}/{Path(name).stem}" for name, _ in cls.resources]
    names = [name for name, _ in cls.train_list + cls.test_list] + [cls.meta["filename"]]
    return [f"{cls.base_folder}/{name}" for name in names]


def require_files(name: str, root: Path, relative: list[str]) -> None:
    """Raise ``FileNotFoundError`` naming the folder, the missing files and the fix."""
    missing = [root / rel for rel in relative if not (root / rel).is_file()]
    if missing:
        listing = "\n  ".join(str(p) for p in missing)
        raise FileNotFoundError(
            f"dataset {name!r}: {len(missing)} of {len(relative)} file(s) missing under the "
            f"data folder {root}:\n  {listing}\n{FIX_HINT}"
        )


@functools.cache
def check_idx_file(name: str, path: Path) -> None:
    """An IDX file (MNIST's format) is as long as its header says: magic (0, 0, dtype,
    ndim), ndim big-endian sizes, then the unsigned bytes; a cut-short copy is named."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(4)
        ndim = head[3] if len(head) == 4 and head[:2] == b"\0\0" else 0
        dims = handle.read(4 * ndim)
    if ndim == 0 or len(dims) < 4 * ndim:
        raise UserError(f"dataset {name!r}: {path} is not an IDX file (damaged header); "
                        "re-fetch it")
    expected = 4 + 4 * ndim + int(np.prod(np.frombuffer(dims, dtype=">u4"), dtype=np.int64))
    if size != expected:
        raise UserError(f"dataset {name!r}: {path} is truncated or damaged ({size} bytes, its "
                        f"header says {expected}); re-fetch it, or unpack its .gz again")


def _unverified(cls: type[tvd.CIFAR10]) -> type[tvd.CIFAR10]:
    """``cls`` with its MD5 sums removed: torchvision then only checks that files exist."""
    return type(cls.__name__, (cls,), {
        "train_list": [[name, None] for name, _ in cls.train_list],
        "test_list": [[name, None] for name, _ in cls.test_list],
        "meta": {**cls.meta, "md5": None},
    })


def _open(name: str, cls: type, root: Path, download: bool, verify: bool = True):
    """Both splits of torchvision dataset ``cls``; clear errors for missing/corrupt files."""
    if not download:
        require_files(name, root, _files(cls))
        if issubclass(cls, tvd.MNIST):  # torchvision reads the unpacked files when present
            for relative in _files(cls):
                if (root / relative).is_file():
                    check_idx_file(name, root / relative)
    first = cls if verify else _unverified(cls)
    try:
        train = first(str(root), train=True, download=download)
    except (OSError, RuntimeError) as err:
        if download:
            raise RuntimeError(
                f"dataset {name!r}: torchvision could not download it into {root} ({err}). "
                f"Offline, copy the files there instead. {FIX_HINT}"
            ) from err
        raise RuntimeError(
            f"dataset {name!r}: the files under {root} failed torchvision's check ({err}); "
            "they are corrupted or not the official files. Re-fetch them, or pass "
            "dataset.verify=false (CIFAR) to skip the MD5 check."
        ) from err
    # The first construction checked (or fetched) every file of both splits: read the test
    # split without hashing the files a second time.
    second = _unverified(cls) if hasattr(cls, "train_list") else cls
    return train, second(str(root), train=False, download=False)


def _to_tensor(dataset) -> torch.Tensor:
    """A torchvision dataset's ``.data`` as uint8 (N, C, H, W)."""
    data = dataset.data
    if isinstance(data, torch.Tensor):  # MNIST family: uint8 (N, H, W)
        return data.to(torch.uint8).unsqueeze(1).contiguous()
    # CIFAR: numpy uint8 (N, H, W, C), itself a transposed view of the file's CHW rows
    return torch.from_numpy(np.ascontiguousarray(data.transpose(0, 3, 1, 2)))


def _labels(dataset) -> np.ndarray:
    targets = dataset.targets
    if isinstance(targets, torch.Tensor):
        return targets.numpy().astype(np.int64)
    return np.asarray(targets, dtype=np.int64)


def read(name: str, root=None, download: bool = False, verify: bool = True) -> LabelledData:
    """Read torchvision dataset ``name`` (``mnist``, ``fashion_mnist``, ``cifar10``,
    ``cifar100``) from ``data_root(root)``: train split + test split, each read once."""
    cls, num_classes = SOURCES[name]
    train, test = _open(name, cls, data_root(root), download, verify)
    return LabelledData(
        name, _to_tensor(train), _labels(train), num_classes,
        test_images=_to_tensor(test), test_labels=_labels(test),
    )


SOURCES: dict[str, tuple[type, int]] = {
    "mnist": (tvd.MNIST, 10),
    "fashion_mnist": (tvd.FashionMNIST, 10),
    "cifar10": (tvd.CIFAR10, 10),
    "cifar100": (tvd.CIFAR100, 100),
}


@DATASETS.register("mnist")
def mnist(root=None, download: bool = False) -> LabelledData:
    """MNIST: uint8 (60000, 1, 28, 28) train, (10000, 1, 28, 28) test, 10 classes."""
    return read("mnist", root, download)


@DATASETS.register("fashion_mnist")
def fashion_mnist(root=None, download: bool = False) -> LabelledData:
    """Fashion-MNIST: uint8 (60000, 1, 28, 28) train, (10000, 1, 28, 28) test, 10 classes."""
    return read("fashion_mnist", root, download)


@DATASETS.register("cifar10")
def cifar10(root=None, download: bool = False, verify: bool = True) -> LabelledData:
    """CIFAR-10: uint8 (50000, 3, 32, 32) train, (10000, 3, 32, 32) test, 10 classes."""
    return read("cifar10", root, download, verify)


@DATASETS.register("cifar100")
def cifar100(root=None, download: bool = False, verify: bool = True) -> LabelledData:
    """CIFAR-100 (fine labels): uint8 (50000, 3, 32, 32) train, (10000, 3, 32, 32) test,
    100 classes."""
    return read("cifar100", root, download, verify)
