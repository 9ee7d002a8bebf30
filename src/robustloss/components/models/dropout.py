"""Dropout whose masks are cheap to draw on a CPU.

``torch.nn.functional.dropout`` draws one Bernoulli number per element; on a CPU that is
about a tenth of the small CNN's training step (``make bench``). Where the drop probability
is a multiple of 1/256 (the paper's 0.25 and 0.5 are), the same distribution comes from
random bytes: an element is kept when its byte is at least ``p * 256``, and one 64-bit
draw gives eight bytes. Same distribution, another random stream (records say so through
the pipeline version).

Used where it can run: on a CPU, outside ``vmap`` (stacked folds draw their masks through
vmap's own randomness, which needs torch's dropout), for probabilities it represents
exactly. Everywhere else (CUDA, vmap, other probabilities) torch's dropout runs.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch._C._functorch import is_batchedtensor


def bulk_masks_apply(x: torch.Tensor, p: float) -> bool:
    """Whether ``dropout`` draws ``x``'s mask from random bytes: a plain CPU tensor (not
    a vmapped one) and a drop probability that is a whole number of 1/256ths."""
    return (x.device.type == "cpu" and not is_batchedtensor(x)
            and 0 < p < 1 and float(p * 256).is_integer())


def keep_mask(shape: torch.Size | tuple[int, ...], p: float,
              generator: torch.Generator | None = None) -> torch.Tensor:
    """A CPU bool tensor of ``shape``, each element True (kept) with probability 1 - p,
    independently; ``p`` a multiple of 1/256 in (0, 1)."""
    n = math.prod(shape)
    words = torch.empty((n + 7) // 8, dtype=torch.int64).random_(-2**63, None, generator=generator)
    return words.view(torch.uint8)[:n].view(shape) >= int(p * 256)


def dropout(x: torch.Tensor, p: float, training: bool, *,
            nonnegative: bool = False) -> torch.Tensor:
    """Inverted dropout of ``x`` (kept elements scaled by 1 / (1 - p)), as
    ``F.dropout``. ``nonnegative=True`` also applies a ReLU first, in the same single
    multiplication (the mask is zero where ``x <= 0``), so a ReLU -> dropout pair costs
    one pass over the tensor in the forward and one in the backward."""
    if not training or p == 0:
        return F.relu(x) if nonnegative else x
    if not bulk_masks_apply(x, p):
        return F.dropout(F.relu(x) if nonnegative else x, p, True)
    keep = keep_mask(x.shape, p)
    if nonnegative:
        keep &= x.detach() > 0
    # mask first, then divide: a bfloat16 1/(1-p) would be rounded (1/0.75 -> 1.336, 0.2 %
    # high in every kept element); x * 0-or-1 is exact and the division rounds once.
    return x * keep.to(x.dtype) / (1 - p)
