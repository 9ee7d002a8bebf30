"""The small networks: the paper's MNIST CNN and an MLP head for feature vectors."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from robustloss.components.models.dropout import dropout
from robustloss.components.models.model_registry import MODELS


@MODELS.register("small_cnn")
class SmallCNN(nn.Module):
    """The paper's MNIST network (paper A.1; the PyTorch MNIST example): conv 32 3x3, ReLU,
    conv 64 3x3, ReLU, max-pool 2, dropout .25, fc 128, ReLU, dropout .5, fc K. The first
    FC's input size is derived from the image size: 9216 on 28x28 (about 1.2 M parameters),
    256 on 8x8 digits. ``widen`` multiplies the channels and the hidden units (ours; 1 is
    the paper's network. find-issues' --width used it and lost F1 on digits, so only
    experiment configs set it now).

    Computed in an order that gives the same function for less work (``make bench``):
    - max-pool before the ReLU (the ReLU is monotone, so both orders give the same values
      and gradients) with the ReLU folded into the dropout's multiplication;
    - the pooled features are flattened in (height, width, channel) order, so a
      channels-last tensor flattens without a copy; ``fc1``'s input columns follow that
      order (a fixed permutation of the reference's (channel, height, width) columns,
      drawn from the same initial distribution: see ``fc1_columns_chw``);
    - dropout masks from random bytes on a CPU (``robustloss.components.models.dropout``).
    """

    def __init__(self, input_shape, num_classes: int, dropout1=0.25, dropout2=0.5, widen: int = 1):
        super().__init__()
        channels, height, width = input_shape
        if height < 6 or width < 6:
            raise ValueError(f"small_cnn needs images of at least 6x6, got {height}x{width}")
        first, second, hidden = 32 * widen, 64 * widen, 128 * widen
        self.pooled_shape = (second, (height - 4) // 2, (width - 4) // 2)   # (C, H, W)
        self.conv1 = nn.Conv2d(channels, first, 3)
        self.conv2 = nn.Conv2d(first, second, 3)
        self.fc1 = nn.Linear(second * self.pooled_shape[1] * self.pooled_shape[2], hidden)
        self.fc2 = nn.Linear(hidden, num_classes)
        self.dropout1, self.dropout2 = dropout1, dropout2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.conv1(x))
        h = F.max_pool2d(self.conv2(h), 2).permute(0, 2, 3, 1)       # (N, H, W, C)
        h = dropout(h, self.dropout1, self.training, nonnegative=True).flatten(1)
        h = dropout(self.fc1(h), self.dropout2, self.training, nonnegative=True)
        return self.fc2(h)

    def fc1_columns_chw(self) -> torch.Tensor:
        """``fc1.weight`` with its columns in the reference network's (channel, height,
        width) flattening order, shape (hidden, C*H*W)."""
        channels, height, width = self.pooled_shape
        weight = self.fc1.weight.view(-1, height, width, channels)
        return weight.permute(0, 3, 1, 2).reshape(weight.shape[0], -1)


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
