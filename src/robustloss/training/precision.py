"""Arithmetic precision of training, one setting (``train.precision``):

- ``fp32``: no autocast; on a CPU in channels-last memory format (the same maths in another
  summation order, so other float32 rounding, not the same bits; faster: 1.2x on the small
  CNN, 1.2-1.3x on the ResNets, ``make bench``).
- ``bf16``: bfloat16 autocast (same exponent range as float32: no loss scaling); on a CPU
  also channels-last memory format, where the two together are the fast path.
- ``fp16``: float16 autocast with a GradScaler (the authors' code: ``torch.cuda.amp``; the
  only mixed precision of GPUs without bfloat16, such as the paper's V100).
- ``auto``: on CUDA bfloat16 where the GPU supports it, else float16; on a CPU with native
  bfloat16 instructions (AVX512-BF16 or AMX) bfloat16 + channels-last, else float32.
  bfloat16 on a CPU was measured harmless to the detector's F1 (tests/test_precision_f1.py
  on digits; the MNIST comparison is in the README) and ~1.7x faster on the small CNN.

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


def supports_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bfloat16 natively: a CUDA GPU that reports it (Ampere and
    later), or a CPU with AVX512-BF16 or AMX (without them bfloat16 is emulated and slower
    than float32)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
        return any(getattr(torch.cpu, name, lambda: False)() for name in checks)
    return False


def resolve_precision(name: str, device: torch.device | str,
                      bf16_supported: bool | None = None) -> Precision:
    """The precision ``name`` (one of PRECISIONS) means on ``device``. ``bf16_supported``
    overrides the device capability query (for tests)."""
    check_choice("train.precision", name, PRECISIONS)
    device = torch.device(device)
    if name == "auto":
        supported = supports_bf16(device) if bf16_supported is None else bf16_supported
        if device.type == "cuda":
            name = "bf16" if supported else "fp16"
        else:
            name = "bf16" if supported and device.type == "cpu" else "fp32"
    return Precision(name, channels_last=name in ("fp32", "bf16") and device.type == "cpu")
