"""ResNets for 32x32 images, registered in ``MODELS``; both map float images (N, C, H, W) to
logits (N, K).

- ``resnet34_cifar`` (paper A.1; the authors' code): torchvision ResNet-34 with the first
  conv replaced by a 3x3 stride-1 conv, the max-pool removed and the final layer sized K
  (about 21.3 M parameters for K = 10). ``pretrained=True`` starts from torchvision's
  ImageNet weights (IMAGENET1K_V1), as the paper does.
- ``resnet32``: the CIFAR ResNet-32 of He et al. 2016 (section 4.2): a 3x3 conv to 16
  channels, three stages of 5 basic blocks at 16/32/64 channels (stride 2 between stages),
  global average pooling, fc K; about 0.46 M parameters. The AUM detector's network
  (Pleiss et al. 2020).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import torch
import torch.nn.functional as F
from torch import nn
from torchvision import models as tvm

from robustloss.components.models.model_registry import MODELS


def _cached_weights_path(weights: tvm.WeightsEnum) -> Path:
    """Where torch.hub keeps ``weights``: $TORCH_HOME/hub/checkpoints/<file name of the URL>."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(weights.url).path).name


def imagenet_resnet34_state_dict(allow_download: bool = False) -> dict[str, torch.Tensor]:
    """torchvision's ResNet-34 IMAGENET1K_V1 weights, from the torch.hub cache.

    When they are not cached this fails at once (no network attempt) unless
    ``allow_download``; then torchvision downloads them into the cache."""
    weights = tvm.ResNet34_Weights.IMAGENET1K_V1
    cached = _cached_weights_path(weights)
    if not cached.is_file() and not allow_download:
        raise FileNotFoundError(
            f"resnet34_cifar: pretrained=True needs torchvision's ImageNet ResNet-34 weights "
            f"in the torch.hub cache ($TORCH_HOME/hub/checkpoints), at {cached}, and they are "
            "not there. Either run with model.pretrained=false, or pre-cache the "
            "weights on a machine with internet (python -c \"import torchvision; "
            "torchvision.models.resnet34(weights='IMAGENET1K_V1')\") and copy "
            f"{cached.name} into $TORCH_HOME/hub/checkpoints/, or allow the download with "
            "model.allow_download=true."
        )
    try:
        return weights.get_state_dict(progress=False, check_hash=True)
    except (OSError, RuntimeError) as err:
        raise RuntimeError(
            f"resnet34_cifar: could not get the ImageNet ResNet-34 weights ({err}). Run with "
            f"model.pretrained=false, or copy {cached.name} into {cached.parent}."
        ) from err


@MODELS.register("resnet34_cifar")
def resnet34_cifar(input_shape, num_classes: int, pretrained: bool = False,
                   allow_download: bool = False) -> nn.Module:
    """torchvision ResNet-34 adapted to small images, as in the authors' code:
    ``conv1`` = 3x3, stride 1, padding 1, no bias (C -> 64); ``maxpool`` = Identity;
    ``fc`` = 512 -> K.

    pretrained: load the ImageNet weights (IMAGENET1K_V1) into every other layer, including
    the batch-norm statistics. The pretrained 7x7 ``conv1`` cannot serve as a 3x3 conv, so
    ``conv1`` (like ``fc``) keeps PyTorch's default random initialisation, exactly as in the
    authors' code, which replaces both after loading the weights.
    allow_download: let torchvision fetch the weights when they are not cached (else a
    missing cache is an immediate error, never a network wait)."""
    model = tvm.resnet34(weights=None)
    if pretrained:
        model.load_state_dict(imagenet_resnet34_state_dict(allow_download))
    model.conv1 = nn.Conv2d(input_shape[0], 64, kernel_size=3, stride=1, padding=1, bias=False)
    model.maxpool = nn.Identity()
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    return model


SHORTCUTS = ("pad", "avgpad", "conv")


class _Shortcut(nn.Module):
    """Identity shortcut into a block that halves the resolution and widens the channels.

    ``pad``: He et al.'s option A: subsample by 2 (stride), append zero channels.
    ``avgpad``: as asappresearch/aum's ResNet: 2x2 average pool, append zero channels.
    ``conv``: He et al.'s option B: 1x1 conv with stride 2 + batch norm (a projection)."""

    def __init__(self, kind: str, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.kind, self.stride, self.extra = kind, stride, out_channels - in_channels
        if kind == "conv":
            self.proj = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "conv":
            return self.proj(x)
        if self.kind == "pad":
            x = x[:, :, :: self.stride, :: self.stride]
        else:
            x = F.avg_pool2d(x, self.stride)
        return F.pad(x, (0, 0, 0, 0, 0, self.extra))


class _BasicBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN, plus the shortcut, then ReLU."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, shortcut: str):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        changes = stride != 1 or in_channels != out_channels
        self.shortcut = (_Shortcut(shortcut, in_channels, out_channels, stride) if changes
                         else nn.Identity())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


@MODELS.register("resnet32")
class ResNet32(nn.Module):
    """CIFAR ResNet-32 (He et al. 2016, section 4.2; depth 6n+2 with n = 5).

    shortcut: one of ``"pad"`` (option A, the paper's CIFAR choice; 0.464 M parameters for
    K = 10), ``"avgpad"`` (the AUM reference code's variant), ``"conv"`` (option B, 1x1
    projections; 0.467 M). Convs use He (fan-out) initialisation, batch norms weight 1 bias 0.
    """

    def __init__(self, input_shape, num_classes: int, shortcut: str = "pad"):
        super().__init__()
        if shortcut not in SHORTCUTS:
            raise ValueError(f"unknown resnet32 shortcut {shortcut!r}; valid: {', '.join(SHORTCUTS)}")
        self.stem = nn.Sequential(
            nn.Conv2d(input_shape[0], 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
        )
        layers, channels = [], 16
        for stage, width in enumerate((16, 32, 64)):
            for i in range(5):
                stride = 2 if stage > 0 and i == 0 else 1
                layers.append(_BasicBlock(channels, width, stride, shortcut))
                channels = width
        self.stages = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.stages(self.stem(x))).flatten(1))
