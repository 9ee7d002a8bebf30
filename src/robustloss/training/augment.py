"""Training-time augmentation on whole batches, on the device (no PIL, no DataLoader).

``crop_flip``: random crop with 4-pixel zero padding, then a horizontal flip with
probability 1/2, per sample (the CIFAR recipe of He et al. 2016, used by Pleiss et al.
2020 for AUM). ``crop``: the random crop alone, padded by an eighth of the image's height
(8x8 digits: 1 pixel, 28x28 MNIST: 3, 32x32: 4), for images a mirror changes the meaning
of (digits, letters). Random numbers come from torch's global generator on the batch's device,
which the trainer seeds per model.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from robustloss.errors import check_choice

AUGMENTATIONS = {
    "none": "no augmentation",
    "crop_flip": "random crop (4-pixel zero padding) + horizontal flip, per sample",
    "crop": "random crop (zero padding of 1/8 of the height), no flip: digits, letters",
}
PAD = 4


def random_crop_flip(images: torch.Tensor, pad: int = PAD, flip: bool = True) -> torch.Tensor:
    """images: float (b, C, H, W) -> same shape, each sample shifted by up to ``pad`` pixels
    in each direction (zeros shifted in) and, with ``flip``, mirrored left-right with
    probability 1/2."""
    b, _, h, w = images.shape
    device = images.device
    padded = F.pad(images, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (b,), device=device)
    dx = torch.randint(0, 2 * pad + 1, (b,), device=device)
    rows = (dy[:, None] + torch.arange(h, device=device))[:, None, :, None]
    cols = (dx[:, None] + torch.arange(w, device=device))[:, None, None, :]
    if flip:
        mirrored = torch.rand(b, device=device) < 0.5
        cols = torch.where(mirrored[:, None, None, None], cols.flip(-1), cols)
    batch = torch.arange(b, device=device)[:, None, None, None]
    channel = torch.arange(images.shape[1], device=device)[None, :, None, None]
    return padded[batch, channel, rows, cols]


def augment_batch(images: torch.Tensor, name: str) -> torch.Tensor:
    """Apply augmentation ``name`` (one of AUGMENTATIONS) to a float batch."""
    check_choice("train.augment", name, AUGMENTATIONS)
    if name == "crop_flip":
        return random_crop_flip(images)
    if name == "crop":
        return random_crop_flip(images, pad=max(1, images.shape[-2] // 8), flip=False)
    return images
