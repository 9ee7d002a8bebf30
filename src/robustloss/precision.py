"""Arithmetic precision of training, one setting (``train.precision``):

- ``fp32``: no autocast.
- ``bf16``: bfloat16 autocast (same exponent range as float32: no loss scaling); on a CPU
  also channels-last memory format, where the two together are the fast path.
- ``fp16``: float16 autocast with a GradScaler (the authors' code: ``torch.cuda.amp``; the
  only mixed precision of GPUs without bfloat16, such as the paper's V100).
- ``auto``: on CUDA bfloat16 where the GPU supports it, else float16; on a CPU float32.

Predictions handed to the detector are always computed in float32 (see train.predict_proba).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import nn

from robustloss.errors import check_choice

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class Precision:
    """A resolved precision: ``name`` in fp32/bf16/fp16, whether to use channels-last."""

    name: str
    channels_last: bool = False

    @property
    def dtype(self) -> torch.dtype | None:
        return _DTYPES[self.name]

    def autocast(self, device: torch.device):
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device.type, dtype=self.dtype)

    @property
    def needs_grad_scaler(self) -> bool:
        """float16 needs loss scaling; bfloat16 and float32 do not."""
        return self.name == "fp16"

    def grad_scaler(self, device: torch.device) -> torch.amp.GradScaler | None:
        return torch.amp.GradScaler(device.type) if self.needs_grad_scaler else None

    def prepare(self, model: nn.Module) -> nn.Module:
        return model.to(memory_format=torch.channels_last) if self.channels_last else model

    def layout(self, images: torch.Tensor) -> torch.Tensor:
        if self.channels_last and images.ndim == 4:
            return images.contiguous(memory_format=torch.channels_last)
        return images


def cuda_supports_bf16(device: torch.device) -> bool:
    return torch.cuda.is_bf16_supported() if device.type == "cuda" else False


def resolve_precision(name: str, device: torch.device | str,
                      bf16_supported: bool | None = None) -> Precision:
    """The precision ``name`` (one of PRECISIONS) means on ``device``. ``bf16_supported``
    overrides the CUDA capability query (for tests)."""
    check_choice("train.precision", name, PRECISIONS)
    device = torch.device(device)
    if name == "auto":
        if device.type != "cuda":
            name = "fp32"
        else:
            supported = cuda_supports_bf16(device) if bf16_supported is None else bf16_supported
            name = "bf16" if supported else "fp16"
    return Precision(name, channels_last=name == "bf16" and device.type == "cpu")
