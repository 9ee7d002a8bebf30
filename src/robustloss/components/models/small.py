"""The small networks: the paper's MNIST CNN and an MLP head for feature vectors."""

from __future__ import annotations

from torch import nn

from robustloss.components.models.registry import MODELS


@MODELS.register("small_cnn")
class SmallCNN(nn.Sequential):
    """The paper's MNIST network (paper A.1; the PyTorch MNIST example): conv 32 3x3, conv
    64 3x3, max-pool 2, dropout .25, fc 128, dropout .5, fc K. The first FC's input size is
    derived from the image size: 9216 on 28x28 (about 1.2 M parameters), 256 on 8x8 digits.
    ``widen`` multiplies the channels and the hidden units (ours, for find-issues' --width;
    1 is the paper's network).
    """

    def __init__(self, input_shape, num_classes: int, dropout1=0.25, dropout2=0.5, widen: int = 1):
        channels, height, width = input_shape
        if height < 6 or width < 6:
            raise ValueError(f"small_cnn needs images of at least 6x6, got {height}x{width}")
        first, second, hidden = 32 * widen, 64 * widen, 128 * widen
        flat = second * ((height - 4) // 2) * ((width - 4) // 2)
        super().__init__(
            nn.Conv2d(channels, first, 3), nn.ReLU(),
            nn.Conv2d(first, second, 3), nn.ReLU(),
            nn.MaxPool2d(2), nn.Dropout(dropout1), nn.Flatten(),
            nn.Linear(flat, hidden), nn.ReLU(), nn.Dropout(dropout2),
            nn.Linear(hidden, num_classes),
        )


@MODELS.register("mlp")
class MLP(nn.Sequential):
    """A small head for feature vectors (e.g. embeddings of a pretrained network): fc
    ``hidden`` x ``widen``, ReLU, dropout, fc K. Ours (find-issues' feature tables; not in the
    paper)."""

    def __init__(self, input_shape, num_classes: int, hidden: int = 256, dropout: float = 0.2,
                 widen: int = 1):
        if len(input_shape) != 1:
            raise ValueError(f"mlp needs feature vectors (D,), got inputs of shape {tuple(input_shape)}")
        super().__init__(nn.Linear(input_shape[0], hidden * widen), nn.ReLU(), nn.Dropout(dropout),
                         nn.Linear(hidden * widen, num_classes))
