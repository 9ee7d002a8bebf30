"""Classifiers by name: ``build(name, input_shape, num_classes, **params)``; the modules
below register theirs in ``MODELS`` when this package is imported."""

from robustloss.components.models import resnets, small  # noqa: E402,F401  (register)
from robustloss.components.models.model_registry import MODELS, build, count_parameters

__all__ = ["MODELS", "build", "count_parameters"]
