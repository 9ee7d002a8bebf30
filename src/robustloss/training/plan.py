"""Every training decision of an experiment, resolved once: the plan the loops execute.

``TrainSettings`` says what a user asked for (``precision: auto``, ``stack: auto``, an input
scaling by name); ``TrainingPlan`` says what will run on this device: the resolved
precision (dtype, channels-last, loss scaling), whether the folds train stacked, how an
epoch is cut into batches and how images become inputs. The experiment resolves the device
and precision once (``TrainingPlan.resolve``); cross-validation adds the stacking decision
once its folds are known (``for_folds``); ``fit``, ``fit_stacked`` and ``predict_proba``
only execute, and the record's ``arithmetic`` block is the plan's own description.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import torch
from torch import nn

from robustloss.training.precision import Precision, resolve_precision
from robustloss.training.train_settings import InputTransform, TrainSettings, batches


def why_not_stackable(model: nn.Module) -> str | None:
    """None when ``model`` can be trained stacked, else the reason it cannot."""
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            return f"it has BatchNorm ({type(module).__name__}), whose running statistics vmap cannot update"
    return None


def steps_agree(sizes: Sequence[int], batch_size: int) -> bool:
    """Whether models with these training-set sizes take the same number of steps per epoch
    (the number depends on the size only)."""
    return len({len(batches(torch.arange(n), batch_size)) for n in sizes}) == 1


@dataclass(frozen=True)
class TrainingPlan:
    """settings: what was asked; device: where it trains; precision: the resolved arithmetic;
    stacked: the K folds of a cross-validation train as one stacked model."""

    settings: TrainSettings
    device: torch.device
    precision: Precision
    stacked: bool = False

    @classmethod
    def resolve(cls, settings: TrainSettings, device: torch.device | str = "cpu",
                bf16_supported: bool | None = None) -> TrainingPlan:
        """The plan of ``settings`` on ``device`` (``bf16_supported`` overrides the device's
        capability query, for tests)."""
        device = torch.device(device)
        return cls(settings, device, resolve_precision(settings.precision, device, bf16_supported))

    def for_folds(self, make_model: Callable[[], nn.Module], sizes: Sequence[int],
                  carry_model: bool = False) -> TrainingPlan:
        """This plan with the stacking decision for folds with training sets of ``sizes``:
        ``train.stack`` asks (auto = stacked on CUDA only; measured slower on CPUs), the
        network (no BatchNorm; ``make_model`` builds one to look at, only when asked), the
        folds (independent, equally many steps) allow it."""
        choice = self.settings.stack
        wanted = choice == "stacked" or (choice == "auto" and self.device.type == "cuda")
        stacked = (wanted and not carry_model
                   and steps_agree(sizes, self.settings.batch_size)
                   and why_not_stackable(make_model()) is None)
        return replace(self, stacked=stacked)

    def epoch_batches(self, n: int, generator: torch.Generator) -> list[torch.Tensor]:
        """One epoch's batches over ``n`` training samples, in ``generator``'s order."""
        order = torch.randperm(n, generator=generator).to(self.device)
        return batches(order, self.settings.batch_size)

    def input_transform(self, images: torch.Tensor) -> InputTransform:
        """uint8 images -> network inputs, fitted on the training images."""
        return InputTransform.fit(images, self.settings.inputs)

    def arithmetic(self) -> dict:
        """What the record says about the arithmetic that ran (stacked training evaluates
        the models through vmap, without channels-last)."""
        return {"precision": self.precision.name,
                "channels_last": self.precision.channels_last and not self.stacked,
                "folds_stacked": self.stacked}
