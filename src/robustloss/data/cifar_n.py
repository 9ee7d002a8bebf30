"""CIFAR-N: the CIFAR-10/100 training sets with real human label noise (Wei et al., ICLR 2022;
files from GitHub UCSC-REAL/cifar-10-100n, licence CC BY-NC 4.0).

Registered datasets (``given_labels`` = the human labels, int64 (50000,); ``labels`` = the
clean CIFAR train labels; images uint8 (50000, 3, 32, 32); test split as in ``cifar10`` /
``cifar100``):

- ``cifar10n_aggregate``: ``aggre_label`` of ``CIFAR-10_human.pt`` (majority vote, ~9% noise)
- ``cifar10n_worst``: ``worse_label`` of ``CIFAR-10_human.pt`` (~40% noise)
- ``cifar100n``: ``noisy_label`` of ``CIFAR-100_human.pt`` (~40% noise)

Parameters: ``labels_path`` (default ``<data folder>/CIFAR-N/CIFAR-10_human.pt`` or
``CIFAR-100_human.pt``), ``download`` and ``verify`` as for the CIFAR loaders (they apply
to the CIFAR images; the label files are never downloaded). The file's ``clean_label``
must equal the torchvision train labels, or the loader refuses: the human labels would be
attached to the wrong images.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from robustloss.data import vision
from robustloss.data.dataset_registry import DATASETS, LabelledData, load


def _numpy_safe_globals() -> list:
    """The numpy globals that a pickled int64 ndarray needs, for ``weights_only`` loading.

    The files were pickled by numpy 1.x, which names ``numpy.core.multiarray._reconstruct``;
    numpy 2 moved it to ``numpy._core``, so it is allowed under both names."""
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct
    allowed: list = [np.ndarray, np.dtype]
    allowed += [(_reconstruct, f"{module}.multiarray._reconstruct")
                for module in ("numpy.core", "numpy._core")]
    allowed += [getattr(np.dtypes, n) for n in ("Int64DType", "Int32DType")
                if hasattr(np, "dtypes") and hasattr(np.dtypes, n)]
    return allowed


def read_human_labels(path: str | Path) -> dict[str, np.ndarray]:
    """The label arrays of a CIFAR-N file (``CIFAR-10_human.pt`` / ``CIFAR-100_human.pt``) as
    int64 numpy arrays (50000,) keyed by name (``clean_label``, ``aggre_label``, ...).

    The files are pickled dicts of numpy arrays, so they are loaded with
    ``torch.load(weights_only=True)`` and only the numpy reconstruction globals allowed:
    nothing else in the file can run. Only on a torch too old for
    ``torch.serialization.safe_globals`` (< 2.5) does it fall back to ``weights_only=False``,
    which unpickles arbitrary objects: do that only with files from the source above."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"CIFAR-N label file {path} not found. Get CIFAR-10_human.pt / CIFAR-100_human.pt "
            "from https://github.com/UCSC-REAL/cifar-10-100n (data/) into <data folder>/CIFAR-N/, "
            "or give its path with dataset.labels_path=<file>."
        )
    if hasattr(torch.serialization, "safe_globals"):
        with torch.serialization.safe_globals(_numpy_safe_globals()):
            content = torch.load(path, map_location="cpu", weights_only=True)
    else:  # pragma: no cover - old torch only
        content = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(content, dict):
        raise ValueError(f"{path}: expected a dict of label arrays, got {type(content).__name__}")
    return {str(k): np.asarray(v, dtype=np.int64) for k, v in content.items()}


def check_clean_labels(clean: np.ndarray, labels: np.ndarray, source: str) -> None:
    """Refuse when a CIFAR-N file's ``clean_label`` is not the CIFAR train labels in order."""
    if len(clean) != len(labels):
        raise ValueError(
            f"{source}: clean_label has {len(clean)} entries but the CIFAR train set has "
            f"{len(labels)} images; the file does not belong to this dataset"
        )
    differ = int(np.count_nonzero(clean != labels))
    if differ:
        raise ValueError(
            f"{source}: clean_label differs from the torchvision CIFAR train labels at {differ} "
            f"of {len(labels)} positions (first at index {int(np.argmax(clean != labels))}); "
            "the human labels would be attached to the wrong images. Check that the label "
            "file matches the CIFAR files (torchvision order, data_batch_1..5 / train)."
        )


def load_cifar_n(name: str, base: str, key: str, root=None, labels_path=None,
                 download: bool = False, verify: bool = True) -> LabelledData:
    """CIFAR dataset ``base`` with ``given_labels`` = array ``key`` of its CIFAR-N file."""
    root = vision.data_root(root)
    default_file = {"cifar10": "CIFAR-10_human.pt", "cifar100": "CIFAR-100_human.pt"}[base]
    path = Path(labels_path) if labels_path else root / "CIFAR-N" / default_file
    human = read_human_labels(path)  # before the images: a missing label file fails fast
    for needed in ("clean_label", key):
        if needed not in human:
            raise ValueError(f"{path}: no {needed!r} array; it has {sorted(human)}")
    data = load(base, str(root), download=download, verify=verify)  # cached per process
    check_clean_labels(human["clean_label"], data.labels, str(path))
    given = human[key]
    if len(given) != len(data) or given.min() < 0 or given.max() >= data.num_classes:
        raise ValueError(f"{path}: {key!r} must hold {len(data)} labels in [0, {data.num_classes})")
    return replace(data, name=name, given_labels=given)


@DATASETS.register("cifar10n_aggregate")
def cifar10n_aggregate(root=None, labels_path=None, download: bool = False,
                       verify: bool = True) -> LabelledData:
    """CIFAR-10 train images with CIFAR-10N's majority-vote labels (``aggre_label``)."""
    return load_cifar_n("cifar10n_aggregate", "cifar10", "aggre_label", root, labels_path,
                        download, verify)


@DATASETS.register("cifar10n_worst")
def cifar10n_worst(root=None, labels_path=None, download: bool = False,
                   verify: bool = True) -> LabelledData:
    """CIFAR-10 train images with CIFAR-10N's worst-of-three labels (``worse_label``)."""
    return load_cifar_n("cifar10n_worst", "cifar10", "worse_label", root, labels_path,
                        download, verify)


@DATASETS.register("cifar100n")
def cifar100n(root=None, labels_path=None, download: bool = False,
              verify: bool = True) -> LabelledData:
    """CIFAR-100 train images with CIFAR-100N's human fine labels (``noisy_label``)."""
    return load_cifar_n("cifar100n", "cifar100", "noisy_label", root, labels_path,
                        download, verify)
