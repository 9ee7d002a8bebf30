"""What a user asks of one model's training (``TrainSettings``), and the small pieces every
loop shares: how uint8 images become inputs, how an epoch is cut into batches."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from robustloss.errors import check_choice, check_integer
from robustloss.training.augment import AUGMENTATIONS
from robustloss.training.precision import PRECISIONS

INPUT_SCALINGS = {
    "raw": "float pixel values 0-255, as the authors' code trains (paper configs' default)",
    "unit": "pixels / 255, in [0, 1]",
    "standardize": "pixels / 255, then per-channel mean and std of the training fold",
}
OPTIMIZERS = ("adam", "sgd")
STACK_CHOICES = {
    "auto": "stacked on CUDA for networks without BatchNorm; sequential on a CPU, where "
            "stacking was measured slower (make bench)",
    "stacked": "train the K folds as one stacked model wherever the network allows it",
    "sequential": "one fold after another",
}

# (epoch, sample indices into the fitted tensor (b,), logits (b, K) of the training forward
# pass, labels (b,)) -> None; called after every batch's forward pass, under no_grad.
BatchHook = Callable[[int, torch.Tensor, torch.Tensor, torch.Tensor], None]


@dataclass(frozen=True)
class TrainSettings:
    """Optimiser, schedule, inputs and precision of one model's training.

    Defaults: paper A.1 and the authors' code (Adam, lr 1e-4, 10 epochs, batch 64, raw
    0-255 inputs). lr_milestones: 0-based epochs at which the learning rate is multiplied by
    lr_gamma (``[5]`` = epochs 0-4 at lr, 5-9 at lr*gamma). optimizer: ``adam`` or ``sgd``
    (``momentum``, ``nesterov`` and ``weight_decay`` apply to SGD; weight_decay to both).
    inputs: one of INPUT_SCALINGS. precision: one of PRECISIONS (see robustloss.training.precision);
    predictions for the detector are float32 whatever it is. augment: one of AUGMENTATIONS,
    applied on the device to whole training batches. stack: one of STACK_CHOICES, how the
    K folds of a cross-validation are scheduled (see robustloss.training.stacked).
    """

    epochs: int = 10
    batch_size: int = 64
    optimizer: str = "adam"
    lr: float = 1e-4
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 0.0
    lr_milestones: tuple[int, ...] = field(default_factory=tuple)
    lr_gamma: float = 0.1
    inputs: str = "raw"
    precision: str = "auto"
    augment: str = "none"
    stack: str = "auto"

    def __post_init__(self):
        object.__setattr__(self, "lr_milestones", tuple(int(m) for m in self.lr_milestones))
        for name in ("epochs", "batch_size"):
            check_integer(f"train.{name}", getattr(self, name), 1)
        for name in ("lr", "momentum", "weight_decay", "lr_gamma"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"train.{name} must be a number, got {value!r}")
            object.__setattr__(self, name, float(value))
        if self.lr <= 0:
            raise ValueError(f"train.lr must be > 0, got {self.lr}")
        if self.momentum < 0 or self.weight_decay < 0:
            raise ValueError("train.momentum and train.weight_decay must be >= 0")
        check_choice("train.optimizer", self.optimizer, OPTIMIZERS)
        check_choice("train.inputs", self.inputs, tuple(INPUT_SCALINGS))
        check_choice("train.precision", self.precision, PRECISIONS)
        check_choice("train.augment", self.augment, tuple(AUGMENTATIONS))
        check_choice("train.stack", self.stack, tuple(STACK_CHOICES))


class InputTransform(nn.Module):
    """uint8 images -> float: raw 0-255, scaled to [0, 1], or standardised per channel."""

    def __init__(self, scale: float = 1.0, mean: torch.Tensor | None = None,
                 std: torch.Tensor | None = None):
        super().__init__()
        self.scale, self.mean, self.std = scale, mean, std

    @classmethod
    def fit(cls, images: torch.Tensor, inputs: str) -> InputTransform:
        """``inputs``: one of INPUT_SCALINGS; ``standardize`` takes the statistics of
        ``images`` (the training fold)."""
        check_choice("train.inputs", inputs, tuple(INPUT_SCALINGS))
        if inputs == "raw":
            return cls()
        if inputs == "unit":
            return cls(1 / 255)
        x = images.float().div_(255)
        return cls(1 / 255, x.mean(dim=(0, 2, 3), keepdim=True),
                   x.std(dim=(0, 2, 3), keepdim=True) + 1e-6)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images.float()
        if self.scale != 1.0:
            x = x.mul_(self.scale)
        return x if self.mean is None else (x - self.mean) / self.std


def batches(order: torch.Tensor, batch_size: int) -> list[torch.Tensor]:
    """Consecutive slices of ``order``; a last batch of a single sample joins the one before
    (BatchNorm cannot train on one sample, and the ``aum`` package breaks on it)."""
    parts = list(torch.split(order, batch_size))
    if len(parts) > 1 and len(parts[-1]) == 1:
        parts[-2:] = [torch.cat(parts[-2:])]
    return parts
