"""Fit one model on an index set of an in-memory dataset; predict probabilities on another.

The whole dataset sits on the training device as a uint8 tensor; a batch is an index slice
of it (no DataLoader, no PIL), converted to float on the fly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from robustloss.losses import LossSchedule


@dataclass(frozen=True)
class TrainSettings:
    """Optimiser and schedule of one fold's training (defaults: paper A.1, authors' code).

    lr_milestones: 0-based epochs at which the learning rate is multiplied by lr_gamma
    (``[5]`` = "x0.1 at epoch 5": epochs 0-4 at lr, 5-9 at lr*gamma).
    normalize: standardise inputs per channel with the training fold's mean and std
    (off in the authors' code, which feeds raw pixels scaled to [0, 1]).
    amp: autocast (bfloat16) for training on CUDA; ignored on CPU. Predictions are float32.
    """

    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-4
    weight_decay: float = 0.0
    lr_milestones: tuple[int, ...] = field(default_factory=tuple)
    lr_gamma: float = 0.1
    normalize: bool = False
    amp: bool = True

    def __post_init__(self):
        object.__setattr__(self, "lr_milestones", tuple(int(m) for m in self.lr_milestones))
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"train.{name} must be >= 1, got {getattr(self, name)}")
        if self.lr <= 0:
            raise ValueError(f"train.lr must be > 0, got {self.lr}")


class InputTransform(nn.Module):
    """uint8 images -> float in [0, 1], optionally standardised per channel."""

    def __init__(self, mean: torch.Tensor | None = None, std: torch.Tensor | None = None):
        super().__init__()
        self.mean, self.std = mean, std

    @classmethod
    def fit(cls, images: torch.Tensor, normalize: bool) -> InputTransform:
        if not normalize:
            return cls()
        x = images.float().div_(255)
        return cls(x.mean(dim=(0, 2, 3), keepdim=True), x.std(dim=(0, 2, 3), keepdim=True) + 1e-6)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images.float().div_(255)
        return x if self.mean is None else (x - self.mean) / self.std


def _autocast(device: torch.device, enabled: bool):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled and device.type == "cuda")


def fit(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    schedule: LossSchedule,
    settings: TrainSettings,
    generator: torch.Generator,
    on_epoch_end: Callable[[int, float], None] | None = None,
) -> InputTransform:
    """Train ``model`` in place on ``images`` (uint8 (n, C, H, W)) and ``labels`` (int64 (n,)),
    both on the model's device. Returns the input transform to use for prediction.
    ``on_epoch_end(epoch, mean_loss)`` is called after every epoch."""
    device = images.device
    transform = InputTransform.fit(images, settings.normalize)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(
        optimizer, milestones=list(settings.lr_milestones), gamma=settings.lr_gamma
    )
    params = [p for p in model.parameters()]
    n = len(labels)
    model.train()
    for epoch in range(settings.epochs):
        loss_fn = schedule.for_epoch(epoch)
        order = torch.randperm(n, generator=generator).to(device)
        total = torch.zeros((), device=device)
        for start in range(0, n, settings.batch_size):
            idx = order[start : start + settings.batch_size]
            with _autocast(device, settings.amp):
                logits = model(transform(images[idx]))
            loss = loss_fn(logits, labels[idx]).mean()
            if loss_fn.l1_weight:
                loss = loss + loss_fn.l1_weight * sum(p.abs().sum() for p in params)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach() * len(idx)
        scheduler.step()
        if on_epoch_end is not None:
            on_epoch_end(epoch, float(total) / n)
    return transform


@torch.no_grad()
def predict_proba(model: nn.Module, transform: InputTransform, images: torch.Tensor,
                  batch_size: int = 1024) -> torch.Tensor:
    """Softmax probabilities (n, K) for uint8 ``images`` (n, C, H, W), computed in float32
    (no autocast: the detector reads these numbers, and bfloat16 logits keep ~3 digits)."""
    model.eval()
    out = [torch.softmax(model(transform(images[start:start + batch_size])).float(), dim=1)
           for start in range(0, len(images), batch_size)]
    return torch.cat(out)
