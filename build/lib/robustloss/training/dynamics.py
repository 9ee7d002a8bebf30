"""Training dynamics: per sample and per epoch, the probability of the given label p_y and
the AUM margin, taken from the training forward pass the trainer already does.

margin = logit of the assigned label - largest other logit (raw logits, Pleiss et al. 2020).
Values are kept on the training device in float32 while a model trains (one column per
epoch, written by index: no host transfer per batch); ``to_numpy`` moves them to the host
once, as float16 for storage (samples x epochs).
"""

from __future__ import annotations

import numpy as np
import torch

from robustloss.errors import check_choice

DYNAMICS_LEVELS = {
    "none": "record nothing",
    "first_fold": "the first fold (cross-validation) or the first run (AUM) only",
    "all": "every fold or run",
}


def check_level(level: str) -> None:
    check_choice("dynamics", level, DYNAMICS_LEVELS)


def given_label_stats(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """p_y (b,) = softmax(logits)[y] and margin (b,) = logit_y - max_{k != y} logit_k, float32."""
    logits = logits.float()
    target = labels.long().unsqueeze(1)
    p_y = torch.softmax(logits, dim=1).gather(1, target).squeeze(1)
    assigned = logits.gather(1, target).squeeze(1)
    others = logits.scatter(1, target, float("-inf")).amax(dim=1)
    return p_y, assigned - others


class DynamicsRecorder:
    """Collects p_y and margins of ``num_samples`` training samples over ``epochs`` epochs.

    Use ``hook`` as the trainer's BatchHook: it receives the indices (into the fitted
    tensor) of a batch, its logits and labels. ``index_map`` (num_samples,) maps those
    indices to dataset rows; ``size`` is the dataset size. Unvisited entries stay NaN.
    """

    def __init__(self, index_map: torch.Tensor, size: int, epochs: int):
        device = index_map.device
        self.index_map = index_map
        self.size, self.epochs = size, epochs
        self.p_y = torch.full((len(index_map), epochs), float("nan"), device=device)
        self.margin = torch.full((len(index_map), epochs), float("nan"), device=device)

    def hook(self, epoch: int, idx: torch.Tensor, logits: torch.Tensor, labels: torch.Tensor) -> None:
        p_y, margin = given_label_stats(logits, labels)
        self.p_y[idx, epoch] = p_y
        self.margin[idx, epoch] = margin

    def aum(self, first_epoch: int = 1) -> np.ndarray:
        """Mean margin over epochs ``first_epoch`` .. end, per dataset row (size,) float64;
        NaN for rows this run did not train on. Computed from the float32 values."""
        out = np.full(self.size, np.nan)
        mean = self.margin[:, first_epoch:].double().mean(dim=1)
        out[self.index_map.cpu().numpy()] = mean.cpu().numpy()
        return out

    def to_numpy(self) -> dict[str, np.ndarray]:
        """``p_y`` and ``margin`` as float16 (size, epochs), rows in dataset order, NaN where
        the sample was not trained on (e.g. held out of the fold)."""
        rows = self.index_map.cpu().numpy()
        result = {}
        for name in ("p_y", "margin"):
            full = np.full((self.size, self.epochs), np.nan, dtype=np.float16)
            full[rows] = getattr(self, name).cpu().numpy().astype(np.float16)
            result[name] = full
        return result


def stack_runs(recorders: list[DynamicsRecorder]) -> dict[str, np.ndarray]:
    """``dynamics_p_y`` and ``dynamics_margin``: float16 (runs, N, epochs) for the .npz."""
    if not recorders:
        return {}
    parts = [r.to_numpy() for r in recorders]
    return {f"dynamics_{name}": np.stack([p[name] for p in parts]) for name in ("p_y", "margin")}
