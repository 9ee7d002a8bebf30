"""Datasets as whole in-memory tensors, looked up by name.

``load(name, root=None, **params)`` returns a :class:`LabelledData`: uint8 images of shape
(N, C, H, W), int64 labels (N,), and optionally a test split and human-given noisy labels.
Loaded datasets are cached per process, so a multirun sweep reads each file once.
"""

from robustloss.data import arrays, cifar_n, cleaned_test, digits, vision  # noqa: F401  (register)
from robustloss.data.dataset_registry import DATASETS, LabelledData, load

__all__ = ["DATASETS", "LabelledData", "load"]
