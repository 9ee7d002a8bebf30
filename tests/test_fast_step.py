"""The small CNN's fast training step computes the textbook network's maths: max-pool
before the ReLU, the ReLU folded into dropout, (H, W, C) flattening and byte-drawn dropout
masks give the loss and gradients of ReLU -> max-pool -> dropout -> (C, H, W) flatten, with
the same weights, batch and masks, for every loss, in float32 and in the bf16 +
channels-last arithmetic of ``train.precision=auto``."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.func import vmap

from robustloss.components import losses, models
from robustloss.components.models.dropout import bulk_masks_apply, dropout, keep_mask
from robustloss.training.plan import TrainingPlan
from robustloss.training.precision import Precision
from robustloss.training.stacked import fit_stacked
from robustloss.training.train_settings import TrainSettings

LOSS_PARAMS = {"ce": {}, "focal": {}, "gce": {}, "blurry": {"gamma": 0.4},
               "piecewise_zero": {"c": 0.05}, "anl_ce": {}, "anl_fl": {}}


def test_every_registered_loss_is_covered():
    assert set(LOSS_PARAMS) == set(losses.LOSSES.names())


def textbook_forward(model, x, mask1_hwc, mask2):
    """The paper's network in the textbook order, written out with torch's functional ops,
    taking ``model``'s weights (fc1's columns reordered to (C, H, W)) and the given masks."""
    h = F.relu(F.conv2d(x, model.conv1.weight, model.conv1.bias))
    h = F.relu(F.conv2d(h, model.conv2.weight, model.conv2.bias))
    h = F.max_pool2d(h, 2)
    h = h * mask1_hwc.permute(0, 3, 1, 2).to(h.dtype) / (1 - model.dropout1)
    h = F.relu(F.linear(h.flatten(1), model.fc1_columns_chw(), model.fc1.bias))
    h = h * mask2.to(h.dtype) / (1 - model.dropout2)
    return F.linear(h, model.fc2.weight, model.fc2.bias)


def gradients(model, loss) -> dict[str, torch.Tensor]:
    loss.backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)
    return grads


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).norm() / b.float().norm().clamp_min(1e-30))


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("loss_name", sorted(LOSS_PARAMS))
def test_loss_and_gradients_match_the_textbook_step_to_rounding(loss_name, precision):
    """float32: within 1e-5 relative (float32 rounding of another summation order).
    bf16 (channels-last, autocast): the fast step is as close to the float32 textbook step
    as the bf16 textbook step is (bf16 keeps ~3 digits and the two orders round differently,
    so that is the resolution there is)."""
    torch.manual_seed(0)
    model = models.build("small_cnn", (1, 28, 28), 10).train()
    x = torch.randint(0, 256, (64, 1, 28, 28), generator=torch.Generator().manual_seed(1)).float()
    y = torch.randint(0, 10, (64,), generator=torch.Generator().manual_seed(2))
    loss_fn = losses.build(loss_name, 10, **LOSS_PARAMS[loss_name])
    bf16 = precision == "bf16"
    if bf16:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)

    def run(forward, low_precision):
        torch.manual_seed(3)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=low_precision):
            logits = forward()
        loss = loss_fn(logits, y).mean()
        return {"loss": loss.detach(), **gradients(model, loss)}

    fast = run(lambda: model(x), bf16)
    torch.manual_seed(3)  # the masks the fast step drew, drawn again in its order
    masks = keep_mask((64, 12, 12, 64), 0.25), keep_mask((64, 128), 0.5)
    exact = run(lambda: textbook_forward(model, x, *masks), False)
    if bf16:
        textbook_bf16 = run(lambda: textbook_forward(model, x, *masks), True)
        tolerance = {name: 2 * relative_error(textbook_bf16[name], exact[name]) + 1e-3
                     for name in exact}
    else:
        tolerance = dict.fromkeys(exact, 1e-5)
    for name in exact:
        assert relative_error(fast[name], exact[name]) <= tolerance[name], name
    # the masks mattered: without them the textbook step is another function
    unmasked = run(lambda: textbook_forward(model, x, *(torch.ones_like(m) for m in masks)), False)
    assert relative_error(unmasked["loss"], exact["loss"]) > 1e-3


def test_eval_mode_is_the_textbook_network_without_dropout():
    torch.manual_seed(0)
    model = models.build("small_cnn", (1, 8, 8), 10)
    x = torch.rand(5, 1, 8, 8)
    ones = torch.ones(5, 2, 2, 64, dtype=torch.bool), torch.ones(5, 128, dtype=torch.bool)
    in_training = model.train()(x)
    model.eval()
    model.dropout1 = model.dropout2 = 0.0   # the textbook forward's scaling becomes 1
    assert torch.allclose(model(x), textbook_forward(model, x, *ones), atol=1e-6)
    assert not torch.allclose(model(x), in_training, atol=1e-3)


def test_byte_masks_keep_each_element_with_probability_one_minus_p():
    n = 1_000_000
    for p in (0.25, 0.5):
        mask = keep_mask((n,), p, torch.Generator().manual_seed(0)).float()
        sd = ((1 - p) * p / n) ** 0.5
        assert abs(float(mask.mean()) - (1 - p)) < 5 * sd
        # neighbouring elements (bytes of one 64-bit draw) are independent
        both = float((mask[:-1] * mask[1:]).mean())
        assert abs(both - (1 - p) ** 2) < 5 * sd
    assert abs(float(keep_mask((n,), 0.25)[7::8].float().mean()) - 0.75) < 0.01  # every 8th byte too


def test_dropout_draws_byte_masks_only_where_they_apply():
    x = torch.ones(4, 6)
    assert bulk_masks_apply(x, 0.25) and bulk_masks_apply(x, 0.5)
    assert not bulk_masks_apply(x, 0.3)                     # not a multiple of 1/256
    assert not bulk_masks_apply(torch.ones(2, device="meta"), 0.25)   # not a CPU tensor
    seen = []
    vmap(lambda row: seen.append(bulk_masks_apply(row, 0.25)) or row, randomness="different")(x)
    assert seen == [False]                                  # stacked folds use torch's dropout
    # the fallback is still dropout with the scaling of torch's
    out = dropout(torch.ones(100_000), 0.3, True)
    assert torch.allclose(out.unique(), torch.tensor([0.0, 1 / 0.7]))
    assert abs(float((out > 0).float().mean()) - 0.7) < 0.01


def test_stacked_folds_train_the_network_under_vmap():
    torch.manual_seed(0)
    stack = [models.build("small_cnn", (1, 8, 8), 3) for _ in range(2)]
    before = [m.fc1.weight.clone() for m in stack]
    images = torch.randint(0, 256, (40, 1, 8, 8), dtype=torch.uint8)
    labels = torch.randint(0, 3, (40,))
    plan = TrainingPlan(TrainSettings(epochs=1), torch.device("cpu"), Precision("fp32"), stacked=True)
    fit_stacked(stack, images, labels, [torch.arange(20), torch.arange(20, 40)],
                losses.LossSchedule(losses.build("ce", 3)), plan,
                [torch.Generator().manual_seed(k) for k in range(2)])
    assert all(not torch.equal(m.fc1.weight, b) for m, b in zip(stack, before, strict=True))
