"""ANL's delta * sum|theta| term (Ye et al. 2023), which the trainer adds to the loss: its
value in the reported training loss and its gradient in the step, for one model (fit) and
for stacked models (fit_stacked, each model its own norm)."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from robustloss.components import losses
from robustloss.training.loop import fit
from robustloss.training.plan import TrainingPlan
from robustloss.training.stacked import fit_stacked
from robustloss.training.train_settings import TrainSettings

DELTA, LR, N = 0.01, 0.1, 48


def data():
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (N, 1, 8, 8), generator=g, dtype=torch.uint8)
    return images, torch.randint(0, 10, (N,), generator=g)


def model(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 10))


def expected_after_one_step(start: nn.Module, images, labels, loss_fn):
    """(loss with the L1 term at the start, parameters after one plain SGD step on it),
    computed here from the definition: data term + delta * sum|theta|."""
    twin = copy.deepcopy(start)
    data_term = loss_fn(twin(images.float() / 255), labels).mean()
    data_term.backward()
    l1 = sum(p.abs().sum() for p in twin.parameters())
    with torch.no_grad():
        stepped = [p - LR * (p.grad + DELTA * torch.sign(p)) for p in twin.parameters()]
    return float(data_term.detach() + DELTA * l1.detach()), stepped


@pytest.mark.parametrize("name", ["anl_ce", "anl_fl"])
def test_l1_term_value_and_gradient_in_fit_and_fit_stacked(name):
    images, labels = data()
    loss_fn = losses.build(name, 10, delta=DELTA)
    assert loss_fn.l1_weight == DELTA
    schedule = losses.LossSchedule(loss_fn)
    settings = TrainSettings(epochs=1, batch_size=N, optimizer="sgd", lr=LR, momentum=0.0,
                             inputs="unit", precision="fp32")
    plan = TrainingPlan.resolve(settings, "cpu")

    single = model(0)
    want_loss, want_params = expected_after_one_step(single, images, labels, loss_fn)
    reported = []
    fit(single, images, labels, schedule, plan, torch.Generator().manual_seed(0),
        on_epoch_end=lambda epoch, loss: reported.append(loss))
    assert reported[0] == pytest.approx(want_loss, rel=1e-5)
    for got, want in zip(single.parameters(), want_params, strict=True):
        torch.testing.assert_close(got.detach(), want, rtol=1e-5, atol=1e-6)

    pair = [model(1), model(2)]  # different weights: each model must get its own norm
    wanted = [expected_after_one_step(m, images, labels, loss_fn) for m in pair]
    reported_pair = []
    everything = torch.arange(N)
    fit_stacked(pair, images, labels, [everything, everything], schedule,
                TrainingPlan.resolve(settings, "cpu"), [torch.Generator().manual_seed(k) for k in (1, 2)],
                on_epoch_end=lambda epoch, values: reported_pair.append(values))
    for m, (want_loss, want_params) in enumerate(wanted):
        assert reported_pair[0][m] == pytest.approx(want_loss, rel=1e-5)
        for got, want in zip(pair[m].parameters(), want_params, strict=True):
            torch.testing.assert_close(got.detach(), want, rtol=1e-5, atol=1e-6)
    assert wanted[0][0] != pytest.approx(wanted[1][0], rel=1e-3)  # the two norms differ
