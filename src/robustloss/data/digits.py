"""scikit-learn's bundled handwritten digits: 1,797 real 8x8 images, 10 classes, offline."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.datasets import load_digits

from robustloss.data.dataset_registry import DATASETS, LabelledData


@DATASETS.register("digits")
def digits(root=None) -> LabelledData:
    """Pixels 0..16 are rescaled to 0..255 uint8; shape (1797, 1, 8, 8). ``root`` is unused."""
    bunch = load_digits()
    pixels = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)
    images = torch.from_numpy(pixels).unsqueeze(1).contiguous()
    return LabelledData("digits", images, bunch.target.astype(np.int64), num_classes=10)
