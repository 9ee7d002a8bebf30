"""The cleaned CIFAR-100 test set (paper Table 3): the test set without its 585 human-verified
label errors (Northcutt, Athalye, Mueller, "Pervasive Label Errors in Test Sets Destabilize
Machine Learning Benchmarks", NeurIPS 2021 Datasets and Benchmarks; data from GitHub
cleanlab/label-errors @6d5d6b31, Apache-2.0).

Confident learning proposed 2,235 CIFAR-100 test images as candidates; five Mechanical Turk
workers each looked at every candidate. A candidate is a label error when fewer than 3 of its
5 workers confirmed the given label (``mturk["given"] < 3``): 585 images, the paper's count.

The resulting indices ship with the package (``cifar100_test_label_errors.txt``), so no
json is needed at run time. Regenerate that file with::

    python -c "import sys; from robustloss.data.cleaned_test import write_label_error_list; \\
    write_label_error_list(sys.argv[1])" path/to/cifar100_mturk.json

Registered dataset ``cifar100_cleaned_test``: train = the CIFAR-100 train set, uint8
(50000, 3, 32, 32); test = the CIFAR-100 test set minus the 585 errors, uint8
(9415, 3, 32, 32), in test-set order.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from robustloss.data.dataset_registry import DATASETS, LabelledData, load

SHIPPED_LIST = "cifar100_test_label_errors.txt"
MIN_CONFIRMING_VOTES = 3  # of 5 workers; fewer confirming the given label = a label error
CIFAR100_TEST_SIZE = 10_000
PROVENANCE = """\
CIFAR-100 test-set label errors verified by humans: the items removed to make the cleaned
CIFAR-100 test set (Pellegrino, Szczecina, Fieguth, "Hard Samples, Bad Labels", Table 3).
Source: GitHub cleanlab/label-errors @6d5d6b31, mturk/cifar100_mturk.json (Apache-2.0);
Northcutt, Athalye, Mueller, "Pervasive Label Errors in Test Sets Destabilize Machine
Learning Benchmarks", NeurIPS 2021 Datasets and Benchmarks.
Rule: a candidate is a label error when fewer than 3 of its 5 Mechanical Turk workers
confirmed the given label (mturk "given" < 3).
Indices into the torchvision CIFAR-100 test set (0..9999), ascending, one a line."""


def label_errors_from_mturk(path: str | Path, min_votes: int = MIN_CONFIRMING_VOTES) -> np.ndarray:
    """Sorted int64 test indices whose given label fewer than ``min_votes`` workers confirmed.

    ``path``: a cleanlab/label-errors ``mturk/<dataset>_mturk.json`` (a list of entries with
    ``id`` = test index and ``mturk`` = vote counts ``{given, guessed, neither, both}``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"label-error file {path} not found; it is mturk/cifar100_mturk.json of "
            "https://github.com/cleanlab/label-errors. Without it the list shipped with the "
            "package is used (leave label_errors_path unset)."
        )
    entries = json.loads(path.read_text())
    try:
        ids = [int(e["id"]) for e in entries if int(e["mturk"]["given"]) < min_votes]
    except (KeyError, TypeError) as err:
        raise ValueError(f"{path}: not a cleanlab mturk file (entry without {err})") from err
    return np.array(sorted(set(ids)), dtype=np.int64)


def format_label_error_list(indices: np.ndarray, source: str | Path | None = None) -> str:
    """The shipped file's text: provenance comment lines, then one index a line."""
    header = PROVENANCE.splitlines() + [f"Count: {len(indices)}."]
    if source is not None:
        digest = hashlib.sha256(Path(source).read_bytes()).hexdigest()
        header.append(f"Derived from {Path(source).name}, sha256 {digest}.")
    return "".join(f"# {line}\n" for line in header) + "".join(f"{int(i)}\n" for i in indices)


def write_label_error_list(mturk_json: str | Path, out: str | Path | None = None) -> Path:
    """Write the list derived from ``mturk_json`` to ``out`` (default: the shipped file)."""
    out = Path(out) if out is not None else Path(__file__).with_name(SHIPPED_LIST)
    out.write_text(format_label_error_list(label_errors_from_mturk(mturk_json), mturk_json))
    return out


def parse_label_error_list(text: str) -> np.ndarray:
    """Indices from a list in the shipped format ('#' lines are comments)."""
    lines = (line.strip() for line in text.splitlines())
    return np.array([int(line) for line in lines if line and not line.startswith("#")],
                    dtype=np.int64)


def shipped_label_errors() -> np.ndarray:
    """The 585 CIFAR-100 test indices shipped with the package, int64, ascending."""
    text = resources.files("robustloss.data").joinpath(SHIPPED_LIST).read_text()
    return parse_label_error_list(text)


def cleaned_test_indices(errors: np.ndarray, size: int = CIFAR100_TEST_SIZE) -> np.ndarray:
    """The test indices kept once ``errors`` are removed (int64, ascending)."""
    errors = np.asarray(errors, dtype=np.int64)
    if errors.size and (errors.min() < 0 or errors.max() >= size):
        raise ValueError(f"label-error indices must lie in [0, {size}), got {errors.min()}..{errors.max()}")
    keep = np.ones(size, dtype=bool)
    keep[errors] = False
    return np.flatnonzero(keep)


@DATASETS.register("cifar100_cleaned_test")
def cifar100_cleaned_test(root=None, download: bool = False, verify: bool = True,
                          label_errors_path=None) -> LabelledData:
    """CIFAR-100 train set + the cleaned test set: test images uint8 (9415, 3, 32, 32) and
    their labels, the 585 human-verified label errors removed. ``label_errors_path``: a
    cleanlab ``cifar100_mturk.json`` to derive the errors from (default: the shipped list)."""
    errors = (shipped_label_errors() if label_errors_path is None
              else label_errors_from_mturk(label_errors_path))
    data = load("cifar100", None if root is None else str(root), download=download,
                verify=verify)  # cached per process
    keep = cleaned_test_indices(errors, len(data.test_labels))
    return replace(
        data, name="cifar100_cleaned_test",
        test_images=data.test_images[torch.from_numpy(keep)], test_labels=data.test_labels[keep],
    )

