"""Classifiers, looked up by name.

``build(name, input_shape=(C, H, W), num_classes=K, **params)`` returns an ``nn.Module``
mapping float images (N, C, H, W) (or feature vectors (N, D)) to logits (N, K).
"""

from __future__ import annotations

from torch import nn

from robustloss.registry import Registry

MODELS = Registry("model")


def build(name: str, input_shape, num_classes: int, **params) -> nn.Module:
    """Build model ``name`` (one of ``MODELS.names()``) for images of ``input_shape``."""
    return MODELS.create(name, params, input_shape=tuple(input_shape), num_classes=num_classes)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
