"""Your own data: images and labels from a NumPy ``.npz`` file, to find its label errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from robustloss.data.dataset_registry import DATASETS, LabelledData


def _as_nchw(images: np.ndarray, path: Path) -> np.ndarray:
    if images.ndim == 3:  # (N, H, W): one channel
        return images[:, None]
    if images.ndim == 4 and images.shape[-1] in (1, 3, 4) and images.shape[1] not in (1, 3, 4):
        return images.transpose(0, 3, 1, 2)  # (N, H, W, C) -> (N, C, H, W)
    if images.ndim == 4:
        return images
    raise ValueError(f"{path}: 'images' must be (N, H, W), (N, C, H, W) or (N, H, W, C), "
                     f"got shape {images.shape}")


@DATASETS.register("arrays")
def arrays(root=None, path: str | None = None, num_classes: int | None = None) -> LabelledData:
    """``path``: an .npz with ``images`` (uint8, (N, H, W), (N, C, H, W) or (N, H, W, C)) and
    ``labels`` (integers in [0, K), (N,)), as written by ``np.savez(path, images=..., labels=...)``.
    num_classes: K (default: max label + 1). ``root`` is unused. The labels are the ones to
    check: with ``noise.rate=0`` the pipeline flags the samples whose label looks wrong.
    """
    if not path:
        raise ValueError("dataset 'arrays' needs dataset.path=<file.npz> with 'images' and 'labels'")
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"dataset 'arrays': no file {path}")
    with np.load(path, allow_pickle=False) as data:
        missing = {"images", "labels"} - set(data.files)
        if missing:
            raise ValueError(f"{path}: missing array(s) {sorted(missing)}; it has {data.files}")
        images, labels = data["images"], data["labels"]
    if images.dtype != np.uint8:
        raise ValueError(f"{path}: 'images' must be uint8 pixels 0..255, got {images.dtype}")
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{path}: 'labels' must be a 1-D integer array, got {labels.dtype} "
                         f"{labels.shape}")
    if len(labels) != len(images):
        raise ValueError(f"{path}: {len(images)} images but {len(labels)} labels")
    k = int(num_classes or labels.max() + 1)
    if labels.min() < 0 or labels.max() >= k:
        raise ValueError(f"{path}: labels must lie in [0, {k}), got [{labels.min()}, {labels.max()}]")
    empty = sorted(set(range(k)) - set(np.unique(labels).tolist()))
    if empty:
        raise ValueError(f"{path}: labels leave class(es) {empty[:10]} of 0..{k - 1} empty; labels "
                         f"must be 0..K-1 with every class present (found {labels.min()}..{labels.max()})")
    images = torch.from_numpy(np.ascontiguousarray(_as_nchw(images, path)))
    return LabelledData(f"arrays:{path.name}", images, labels.astype(np.int64), num_classes=k)
