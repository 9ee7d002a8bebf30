"""Input scaling, precision per device capability, and on-device augmentation."""

from __future__ import annotations

import pytest
import torch

from robustloss.augment import random_crop_flip
from robustloss.precision import resolve_precision
from robustloss.train import InputTransform, TrainSettings


def test_raw_inputs_are_the_uint8_values_as_float():
    images = torch.randint(0, 256, (4, 1, 5, 5), dtype=torch.uint8)
    raw = InputTransform.fit(images, "raw")(images)
    assert raw.dtype == torch.float32 and torch.equal(raw, images.float())
    assert torch.allclose(InputTransform.fit(images, "unit")(images), images.float() / 255)
    std = InputTransform.fit(images, "standardize")(images)
    assert std.mean().abs() < 1e-5 and (std.std() - 1).abs() < 0.05


def test_default_inputs_are_raw_as_the_authors_trained():
    assert TrainSettings().inputs == "raw"


@pytest.mark.parametrize("device, bf16, expected, scaler, channels_last", [
    ("cpu", None, "fp32", False, False),     # auto on a CPU: float32
    ("cuda", True, "bf16", False, False),    # auto on an A100/H100: bfloat16 autocast
    ("cuda", False, "fp16", True, False),    # auto on a V100: float16 + GradScaler
])
def test_auto_precision_per_device_capability(device, bf16, expected, scaler, channels_last):
    chosen = resolve_precision("auto", device, bf16_supported=bf16)
    assert chosen.name == expected and chosen.channels_last == channels_last
    assert chosen.needs_grad_scaler == scaler


def test_explicit_precisions():
    assert resolve_precision("bf16", "cpu").channels_last  # the CPU fast path
    assert resolve_precision("bf16", "cuda", bf16_supported=True).dtype == torch.bfloat16
    fp16 = resolve_precision("fp16", "cpu")
    assert fp16.dtype == torch.float16 and fp16.grad_scaler(torch.device("cpu")) is not None
    assert resolve_precision("fp32", "cuda", bf16_supported=True).dtype is None


def test_fp16_autocast_trains_on_cpu_with_a_grad_scaler():
    from robustloss import losses, models
    from robustloss.train import fit
    torch.manual_seed(0)
    model = models.build("small_cnn", (1, 8, 8), 10)
    images = torch.randint(0, 256, (64, 1, 8, 8), dtype=torch.uint8)
    before = [p.detach().clone() for p in model.parameters()]
    fit(model, images, torch.randint(0, 10, (64,)), losses.LossSchedule(losses.CrossEntropy()),
        TrainSettings(epochs=1, precision="fp16", inputs="unit"), torch.Generator().manual_seed(0))
    after = list(model.parameters())
    assert all(torch.isfinite(p).all() for p in after)
    assert any(not torch.equal(a, b) for a, b in zip(after, before, strict=True))


@pytest.mark.parametrize("bad, message", [
    ({"inputs": "scaled"}, "train.inputs must be one of raw, unit, standardize"),
    ({"precision": "fp64"}, "train.precision must be one of auto, fp32, bf16, fp16"),
    ({"optimizer": "rmsprop"}, "train.optimizer must be one of adam, sgd"),
    ({"augment": "mixup"}, "train.augment must be one of none, crop_flip"),
    ({"lr": "abc"}, "train.lr must be a number"),
    ({"epochs": 0}, "train.epochs must be an integer >= 1"),
])
def test_bad_train_settings_name_the_setting(bad, message):
    with pytest.raises(ValueError, match=message):
        TrainSettings(**bad)


def test_crop_flip_output_is_a_shifted_or_mirrored_crop_of_the_padded_input():
    torch.manual_seed(0)
    images = torch.rand(16, 3, 6, 6) + 1  # no zeros inside the image
    out = random_crop_flip(images, pad=2)
    assert out.shape == images.shape
    padded = torch.nn.functional.pad(images, (2, 2, 2, 2))
    flips = 0
    for i in range(16):
        found = None
        for dy in range(5):
            for dx in range(5):
                crop = padded[i, :, dy:dy + 6, dx:dx + 6]
                if torch.equal(out[i], crop):
                    found = "plain"
                elif torch.equal(out[i], crop.flip(-1)):
                    found = "flipped"
        assert found is not None
        flips += found == "flipped"
    assert 0 < flips < 16  # both happen
