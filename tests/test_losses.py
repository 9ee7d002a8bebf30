import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from robustloss.components import losses

TORCH_SEED = 0


def random_batch(n=32, k=10, scale=3.0, seed=TORCH_SEED):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, k, generator=g, dtype=torch.float64) * scale
    targets = torch.randint(0, k, (n,), generator=g)
    return logits, targets


def ce(logits, targets):
    return F.cross_entropy(logits, targets, reduction="none")


@pytest.mark.parametrize(
    "name,params",
    [("blurry", {"gamma": 0.0}), ("piecewise_zero", {"c": 0.0}), ("focal", {"gamma": 0.0}),
     ("blurry", {"gamma": 0.0, "detach_weight": False}),
     ("focal", {"gamma": 0.0, "detach_weight": False})],
)
def test_special_cases_equal_cross_entropy(name, params):
    logits, targets = random_batch()
    got = losses.build(name, 10, **params)(logits, targets)
    torch.testing.assert_close(got, ce(logits.float(), targets), rtol=1e-6, atol=1e-6)


def test_output_is_per_sample_float32():
    logits, targets = random_batch(n=7)
    for name in losses.LOSSES.names():
        out = losses.build(name, 10)(logits, targets)
        assert out.shape == (7,) and out.dtype == torch.float32, name


def test_piecewise_zero_loss_and_gradient_vanish_below_c():
    c = 0.2
    logits, targets = random_batch(n=256, scale=2.0)
    logits = logits.float().requires_grad_()
    out = losses.build("piecewise_zero", 10, c=c)(logits, targets)
    p_y = torch.softmax(logits, 1).gather(1, targets[:, None]).squeeze(1).detach()
    low = p_y <= c
    assert low.any() and (~low).any()
    assert torch.all(out[low] == 0)
    torch.testing.assert_close(out[~low], ce(logits, targets)[~low])
    out.sum().backward()
    assert torch.all(logits.grad[low] == 0)
    assert torch.all(logits.grad[~low].abs().sum(1) > 0)


def _grad_wrt_target_prob(loss, p_y, k=4):
    """d loss / d p_y through logits = log p, where the other classes share 1 - p_y."""
    p_y = torch.tensor(p_y, dtype=torch.float64, requires_grad=True)
    rest = (1 - p_y) / (k - 1)
    probs = torch.stack([p_y] + [rest] * (k - 1))
    out = loss(probs.log()[None], torch.tensor([0]))
    (grad,) = torch.autograd.grad(out.sum(), p_y)
    return grad.item()


@pytest.mark.parametrize("gamma", [0.3, 0.5, 1.0])
def test_blurry_undetached_gradient_sign_changes_at_exp_minus_one_over_gamma(gamma):
    loss = losses.build("blurry", 4, gamma=gamma, detach_weight=False)
    turn = math.exp(-1 / gamma)
    for p in np.linspace(0.02, 0.98, 25):
        if abs(p - turn) < 0.01:
            continue
        grad = _grad_wrt_target_prob(loss, float(p))
        # d/dp of -p^g log p = -p^(g-1) (g log p + 1): positive below e^{-1/g}, negative above
        assert (grad > 0) == (p < turn), (p, grad)


@pytest.mark.parametrize("detach_weight", [True, False])
@pytest.mark.parametrize("gamma", [0.2, 0.4, 0.8])
def test_blurry_forward_value_is_minus_p_y_to_the_gamma_times_log_p_y(gamma, detach_weight):
    """The paper's Eq. 4, -p_y^gamma log p_y, computed here in float64 NumPy from the logits
    (softmax written out), against the loss's forward value; detaching the weight changes
    the gradient, not the value."""
    logits, targets = random_batch(n=256, scale=3.0)
    z = logits.numpy()
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p_y = p[np.arange(len(z)), targets.numpy()]
    expected = -(p_y ** gamma) * np.log(p_y)
    got = losses.build("blurry", 10, gamma=gamma, detach_weight=detach_weight)(logits, targets)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-5, atol=1e-7)
    assert p_y.min() < 0.05 and p_y.max() > 0.9        # backed-off and confident samples alike


def test_blurry_detached_gradient_is_weighted_cross_entropy():
    gamma = 0.4
    logits, targets = random_batch()
    a = logits.clone().requires_grad_()
    losses.build("blurry", 10, gamma=gamma)(a, targets).sum().backward()
    b = logits.clone().requires_grad_()
    ce_b = ce(b, targets)
    weight = torch.exp(-ce_b.detach()) ** gamma
    (weight * ce_b).sum().backward()
    torch.testing.assert_close(a.grad, b.grad.to(a.grad.dtype), rtol=1e-5, atol=1e-6)
    for g in (a.grad,):
        assert torch.all(g.gather(1, targets[:, None]) <= 0)  # always pushes p_y up


def test_gce_limits():
    logits, targets = random_batch()
    p_y = torch.softmax(logits.float(), 1).gather(1, targets[:, None]).squeeze(1)
    torch.testing.assert_close(losses.build("gce", 10, q=1.0)(logits, targets), 1 - p_y)
    near_ce = losses.build("gce", 10, q=1e-4)(logits, targets)
    torch.testing.assert_close(near_ce, ce(logits.float(), targets), rtol=1e-2, atol=1e-3)


# Independent numpy versions of docs/DESIGN.md's ANL formulas, computed from probabilities.
def np_probs(logits):
    z = logits - logits.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def np_nce(p, y):
    return -np.log(p[np.arange(len(y)), y]) / -np.log(p).sum(1)


def np_nnce(p, y):
    a = -np.log(1e-7)
    q = a + np.log(np.clip(p, 1e-7, 1))
    return 1 - q[np.arange(len(y)), y] / q.sum(1)


def np_fl(p, gamma):
    return -((1 - p) ** gamma) * np.log(p)


def np_nfl(p, y, gamma):
    fl = np_fl(p, gamma)
    return fl[np.arange(len(y)), y] / fl.sum(1)


def np_nnfl(p, y, gamma):
    p = np.clip(p, 1e-7, 1)
    a = -((1 - 1e-7) ** gamma) * np.log(1e-7)
    fl = np_fl(p, gamma)
    k = p.shape[1]
    return 1 - (a - fl[np.arange(len(y)), y]) / (k * a - fl.sum(1))


@pytest.mark.parametrize("scale", [1.0, 8.0])
def test_anl_components_match_numpy(scale):
    logits, targets = random_batch(n=64, scale=scale)
    lp = F.log_softmax(logits, 1)
    p, y = np_probs(logits.numpy()), targets.numpy()
    gamma = 0.5
    np.testing.assert_allclose(losses.normalized_ce(lp, targets).numpy(), np_nce(p, y), rtol=1e-9)
    np.testing.assert_allclose(losses.normalized_negative_ce(lp, targets).numpy(), np_nnce(p, y),
                               rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(losses.normalized_focal(lp, targets, gamma).numpy(),
                               np_nfl(p, y, gamma), rtol=1e-6)
    np.testing.assert_allclose(losses.normalized_negative_focal(lp, targets, gamma).numpy(),
                               np_nnfl(p, y, gamma), rtol=1e-6, atol=1e-9)
    anl_ce = losses.build("anl_ce", 10, alpha=2.0, beta=3.0, delta=1e-5)
    np.testing.assert_allclose(anl_ce(logits, targets).numpy(),
                               2 * np_nce(p, y) + 3 * np_nnce(p, y), rtol=1e-5, atol=1e-6)
    assert anl_ce.l1_weight == 1e-5
    anl_fl = losses.build("anl_fl", 10, alpha=5.0, beta=1.0, delta=0.0, gamma=gamma)
    np.testing.assert_allclose(anl_fl(logits, targets).numpy(),
                               5 * np_nfl(p, y, gamma) + np_nnfl(p, y, gamma), rtol=1e-5, atol=1e-6)


def test_schedule_switches_after_delay():
    blurry = losses.build("blurry", 10)
    schedule = losses.LossSchedule(blurry, delay=2)
    assert isinstance(schedule.for_epoch(0), losses.CrossEntropy)
    assert isinstance(schedule.for_epoch(1), losses.CrossEntropy)
    assert schedule.for_epoch(2) is blurry and schedule.for_epoch(9) is blurry
    assert losses.LossSchedule(blurry, 0).for_epoch(0) is blurry


@pytest.mark.parametrize("name", losses.LOSSES.names())
@pytest.mark.parametrize("detach", [True, False])
def test_finite_on_extreme_logits(name, detach):
    k = 10
    logits = torch.full((4 * k, k), -50.0)
    targets = torch.arange(4 * k) % k
    logits[torch.arange(k), torch.arange(k)] = 50.0            # confident and right
    logits[k + torch.arange(k), (torch.arange(k) + 1) % k] = 50.0  # confident and wrong
    logits[2 * k:3 * k] = 0.0                                  # uniform
    logits[3 * k:] = torch.linspace(-50, 50, k)                # spread
    logits.requires_grad_()
    params = {"detach_weight": detach} if name in ("blurry", "focal", "anl_fl") else {}
    out = losses.build(name, k, **params)(logits, targets)
    assert torch.isfinite(out).all()
    out.sum().backward()
    assert torch.isfinite(logits.grad).all()


@pytest.mark.parametrize(
    "name,params,match",
    [("nope", {}, "valid choices: anl_ce, anl_fl, blurry, ce, focal, gce, piecewise_zero"),
     ("piecewise_zero", {"c": 1.5}, r"c \(piecewise_zero\) must be in \[0.0, 1.0\]"),
     ("piecewise_zero", {"c": -0.1}, r"loss.c \(piecewise_zero\) must be in"),
     ("blurry", {"gamma": -1}, r"loss.gamma \(blurry\) must be in"),
     ("blurry", {"gamma": "abc"}, r"loss.gamma \(blurry\) must be a number, got 'abc'"),
     ("gce", {"q": 0.0}, r"loss.q \(gce\) must be in \(0.0, 1.0\]"),
     ("ce", {"gamma": 2}, "unknown parameter")],
)
def test_bad_names_and_values_are_rejected(name, params, match):
    with pytest.raises(ValueError, match=match):
        losses.build(name, 10, **params)


def test_anl_fl_detached_weights_are_constants_in_both_terms():
    """With detach_weight, NFL's and NNFL's (1-p_k)^gamma act as constants: the gradient
    equals that of the same formulas with the weights computed from detached probabilities."""
    gamma, k = 0.5, 10
    logits, targets = random_batch(n=16, scale=2.0)
    a = logits.clone().requires_grad_()
    losses.build("anl_fl", k, alpha=2.0, beta=3.0, delta=0.0, gamma=gamma)(a, targets).sum().backward()

    b = logits.clone().requires_grad_()
    lp = F.log_softmax(b, 1)
    w = (1 - lp.detach().exp()) ** gamma
    fl = -w * lp
    nfl = fl.gather(1, targets[:, None]).squeeze(1) / fl.sum(1)
    lpc = lp.clamp_min(math.log(1e-7))
    flc = -((1 - lpc.detach().exp()) ** gamma) * lpc
    big_a = -((1 - 1e-7) ** gamma) * math.log(1e-7)
    nnfl = 1 - (big_a - flc.gather(1, targets[:, None]).squeeze(1)) / (k * big_a - flc.sum(1))
    (2 * nfl + 3 * nnfl).sum().backward()
    torch.testing.assert_close(a.grad, b.grad, rtol=1e-4, atol=1e-6)

    c = logits.clone().requires_grad_()
    losses.build("anl_fl", k, alpha=2.0, beta=3.0, delta=0.0, gamma=gamma,
                  detach_weight=False)(c, targets).sum().backward()
    assert not torch.allclose(c.grad, b.grad, rtol=1e-3)
