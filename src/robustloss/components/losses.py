"""Per-sample classification losses, looked up by name.

Every loss is a ``torch.nn.Module`` called as ``loss(logits, targets)`` with logits of shape
(N, K) and integer targets of shape (N,); it returns per-sample losses of shape (N,) in
float32. Probabilities are taken through ``log_softmax`` and powers p^a are computed as
exp(a * log p), so values and gradients stay finite for extreme logits.

Names: ``ce``, ``focal``, ``gce``, ``anl_ce``, ``anl_fl``, ``blurry``, ``piecewise_zero``.
Formulas and defaults: docs/DESIGN.md section 2.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from robustloss.registry import Registry

LOSSES = Registry("loss")

# ANL's probability floor: p is clamped to [MIN_PROB, 1] in the negative losses (Ye et al. 2023).
MIN_PROB = 1e-7
_LOG_MIN_PROB = math.log(MIN_PROB)


def _check_range(name: str, value: float, low: float, high: float, *, open_low=False) -> None:
    """``name`` as the user sets it (``loss.gamma``); ValueError for non-numbers too."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number, got {value!r}")
    ok = (value > low if open_low else value >= low) and value <= high
    if not ok:
        bracket = "(" if open_low else "["
        raise ValueError(f"{name} must be in {bracket}{low}, {high}], got {value}")


class PerSampleLoss(nn.Module):
    """Base class: turns logits into log-probabilities and calls ``from_log_probs``.

    ``l1_weight`` is the delta of an extra delta * sum(|theta|) term over the model's
    parameters; the trainer adds it to the batch loss (0 for all but the ANL losses).
    """

    l1_weight: float = 0.0
    # Epochs of CE warm-up before the loss takes over when a config does not say (loss.delay
    # missing or null; read through ``default_delay``).
    default_delay: int = 0

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        log_probs = F.log_softmax(logits.float(), dim=1)
        return self.from_log_probs(log_probs, targets)

    def from_log_probs(self, log_probs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def dloss_dp(self, p_y: torch.Tensor) -> torch.Tensor:
        """dL/dp_y of the loss's *formula* as a function of p_y, at the given p_y values
        (any shape, float). This is the derivative of the written formula, undetached: with
        ``detach_weight=True`` the model trained on a different gradient (the weight held
        constant). Losses that are not a function of p_y alone (ANL) raise ValueError."""
        raise ValueError(f"loss {type(self).__name__} is not a function of p_y alone; "
                         "its derivative with respect to p_y is not defined")


def _target_log_prob(log_probs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return log_probs.gather(1, targets.long().unsqueeze(1)).squeeze(1)


def _one_minus_prob_pow(log_p: torch.Tensor, gamma: float) -> torch.Tensor:
    """(1 - p)^gamma from log p; 1 - p is floored at 1e-12 so the gradient stays finite."""
    one_minus = (-torch.expm1(log_p)).clamp_min(1e-12)
    return torch.exp(gamma * torch.log(one_minus))


@LOSSES.register("ce")
class CrossEntropy(PerSampleLoss):
    """-log p_y."""

    def from_log_probs(self, log_probs, targets):
        return -_target_log_prob(log_probs, targets)

    def dloss_dp(self, p_y):
        return -1.0 / p_y


@LOSSES.register("focal")
class FocalLoss(PerSampleLoss):
    """-(1 - p_y)^gamma log p_y (Lin et al. 2017); gamma = 0 is CE.

    ``detach_weight=True`` (default, as in the paper authors' code) treats (1 - p_y)^gamma as
    a constant per-sample weight; ``False`` differentiates through it (Lin et al.).
    """

    def __init__(self, gamma: float = 2.0, detach_weight: bool = True):
        super().__init__()
        _check_range("loss.gamma (focal)", gamma, 0.0, math.inf)
        self.gamma, self.detach_weight = float(gamma), bool(detach_weight)

    def from_log_probs(self, log_probs, targets):
        log_p = _target_log_prob(log_probs, targets)
        weight = _one_minus_prob_pow(log_p, self.gamma)
        if self.detach_weight:
            weight = weight.detach()
        return -weight * log_p

    def dloss_dp(self, p_y):
        """gamma (1-p)^(gamma-1) log p - (1-p)^gamma / p."""
        one_minus = 1.0 - p_y
        return (self.gamma * one_minus ** (self.gamma - 1) * torch.log(p_y)
                - one_minus ** self.gamma / p_y)


@LOSSES.register("gce")
class GeneralizedCrossEntropy(PerSampleLoss):
    """(1 - p_y^q) / q (Zhang & Sabuncu 2018): CE as q -> 0, MAE-like (1 - p_y) at q = 1."""

    def __init__(self, q: float = 0.7):
        super().__init__()
        _check_range("loss.q (gce)", q, 0.0, 1.0, open_low=True)
        self.q = float(q)

    def from_log_probs(self, log_probs, targets):
        log_p = _target_log_prob(log_probs, targets)
        return -torch.expm1(self.q * log_p) / self.q

    def dloss_dp(self, p_y):
        return -(p_y ** (self.q - 1))


@LOSSES.register("blurry")
class BlurryLoss(PerSampleLoss):
    """Blurry Loss -(p_y)^gamma log p_y (paper Eq. 4); gamma = 0 is CE.

    ``detach_weight=True`` (default): p_y^gamma is a constant per-sample weight on CE, as in
    the authors' working code; this variant reproduced the paper's MNIST numbers.
    ``False``: differentiate through p_y^gamma (the paper's text); the gradient with respect
    to p_y is then positive for p_y < exp(-1/gamma), and training from random weights
    collapses without a CE warm-up.
    """

    def __init__(self, gamma: float = 0.4, detach_weight: bool = True):
        super().__init__()
        _check_range("loss.gamma (blurry)", gamma, 0.0, math.inf)
        self.gamma, self.detach_weight = float(gamma), bool(detach_weight)

    def from_log_probs(self, log_probs, targets):
        log_p = _target_log_prob(log_probs, targets)
        weight = torch.exp(self.gamma * log_p)
        if self.detach_weight:
            weight = weight.detach()
        return -weight * log_p

    def dloss_dp(self, p_y):
        """-p^(gamma-1) (gamma log p + 1): positive (the loss pushes p_y down) for
        p_y < exp(-1/gamma). With detach_weight=True the model trained on -p^(gamma-1)."""
        return -(p_y ** (self.gamma - 1)) * (self.gamma * torch.log(p_y) + 1)


@LOSSES.register("piecewise_zero")
class PiecewiseZeroLoss(PerSampleLoss):
    """0 where p_y <= c, else -log p_y (paper Eq. 5); c = 0 is CE.

    Samples the model finds very unlikely contribute neither loss nor gradient.
    """

    default_delay = 1  # paper: one epoch of CE first (d = 1), so p_y means something

    def __init__(self, c: float = 0.01):
        super().__init__()
        _check_range("loss.c (piecewise_zero)", c, 0.0, 1.0)
        self.c = float(c)
        self.log_c = math.log(c) if c > 0 else -math.inf

    def from_log_probs(self, log_probs, targets):
        log_p = _target_log_prob(log_probs, targets)
        return torch.where(log_p > self.log_c, -log_p, torch.zeros_like(log_p))

    def dloss_dp(self, p_y):
        """0 for p_y <= c, else -1/p_y."""
        return torch.where(p_y > self.c, -1.0 / p_y, torch.zeros_like(p_y))


def normalized_ce(log_probs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """NCE = -log p_y / sum_k(-log p_k)."""
    return _target_log_prob(log_probs, targets) / log_probs.sum(dim=1)


def normalized_negative_ce(log_probs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """NNCE = 1 - q_y / sum_k q_k with q_k = A + log clamp(p_k, 1e-7, 1), A = -log 1e-7."""
    q = log_probs.clamp_min(_LOG_MIN_PROB) - _LOG_MIN_PROB
    return 1.0 - _target_log_prob(q, targets) / q.sum(dim=1)


def normalized_focal(log_probs, targets, gamma: float, detach_weight: bool = True):
    """NFL = FL_y / sum_k FL_k with FL_k = -(1 - p_k)^gamma log p_k."""
    focal = _focal_terms(log_probs, gamma, detach_weight)
    return _target_log_prob(focal, targets) / focal.sum(dim=1)


def _focal_terms(log_probs: torch.Tensor, gamma: float, detach_weight: bool) -> torch.Tensor:
    """FL_k = -(1 - p_k)^gamma log p_k for every class, shape (N, K)."""
    weight = _one_minus_prob_pow(log_probs, gamma)
    return -(weight.detach() if detach_weight else weight) * log_probs


def normalized_negative_focal(log_probs, targets, gamma: float, detach_weight: bool = True):
    """NNFL = 1 - (A - FL_y) / (K*A - sum_k FL_k), p clamped to [1e-7, 1],
    A = -(1 - 1e-7)^gamma log 1e-7."""
    focal = _focal_terms(log_probs.clamp_min(_LOG_MIN_PROB), gamma, detach_weight)
    a = -((1.0 - MIN_PROB) ** gamma) * _LOG_MIN_PROB
    num_classes = log_probs.shape[1]
    return 1.0 - (a - _target_log_prob(focal, targets)) / (num_classes * a - focal.sum(dim=1))


class _ActiveNegativeLoss(PerSampleLoss):
    def __init__(self, alpha: float, beta: float, delta: float):
        super().__init__()
        for key, value in (("alpha", alpha), ("beta", beta), ("delta", delta)):
            _check_range(f"loss.{key} ({self.name})", value, 0.0, math.inf)
        self.alpha, self.beta, self.l1_weight = float(alpha), float(beta), float(delta)


@LOSSES.register("anl_ce")
class ANLCrossEntropy(_ActiveNegativeLoss):
    """ANL-CE = alpha * NCE + beta * NNCE (+ delta * sum|theta|, added by the trainer)."""

    name = "anl_ce"

    def __init__(self, alpha: float = 1.0, beta: float = 1.0, delta: float = 1e-6):
        super().__init__(alpha, beta, delta)

    def from_log_probs(self, log_probs, targets):
        return self.alpha * normalized_ce(log_probs, targets) + self.beta * (
            normalized_negative_ce(log_probs, targets)
        )


@LOSSES.register("anl_fl")
class ANLFocal(_ActiveNegativeLoss):
    """ANL-FL = alpha * NFL + beta * NNFL (+ delta * sum|theta|, added by the trainer).

    ``detach_weight``: NFL's and NNFL's (1 - p_k)^gamma weights are constants (as in the ANL
    code, which takes them from ``.data``); ``False`` differentiates through them.
    """

    name = "anl_fl"

    def __init__(self, alpha=1.0, beta=1.0, delta=1e-6, gamma=0.5, detach_weight=True):
        super().__init__(alpha, beta, delta)
        _check_range("loss.gamma (anl_fl)", gamma, 0.0, math.inf)
        self.gamma, self.detach_weight = float(gamma), bool(detach_weight)

    def from_log_probs(self, log_probs, targets):
        nfl = normalized_focal(log_probs, targets, self.gamma, self.detach_weight)
        return self.alpha * nfl + self.beta * normalized_negative_focal(
            log_probs, targets, self.gamma, self.detach_weight
        )


def build(name: str, num_classes: int, **params) -> PerSampleLoss:
    """Build loss ``name`` (one of ``LOSSES.names()``) with its keyword parameters.

    ``num_classes`` is accepted for a uniform signature (the losses read K from the logits).
    Unknown names or parameters and out-of-range values raise ``ValueError``.
    """
    if num_classes < 2:
        raise ValueError(f"num_classes must be >= 2, got {num_classes}")
    return LOSSES.create(name, params)


def default_delay(name: str) -> int:
    """The epochs of CE warm-up loss ``name`` starts with when a config does not say
    (``loss.delay``): the paper's, 1 for ``piecewise_zero``, 0 for the others. An unknown
    name gives 0 (building the loss reports it, with the valid names)."""
    return LOSSES.get(name).default_delay if name in LOSSES else 0


class LossSchedule:
    """CE warm-up: epochs 0 .. delay-1 (0-based) use CE, later epochs the chosen loss."""

    def __init__(self, loss: PerSampleLoss, delay: int = 0):
        if delay < 0:
            raise ValueError(f"loss delay must be >= 0 epochs, got {delay}")
        self.loss, self.delay, self.warmup = loss, int(delay), CrossEntropy()

    def for_epoch(self, epoch: int) -> PerSampleLoss:
        return self.warmup if epoch < self.delay else self.loss
