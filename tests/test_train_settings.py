"""Input scaling, precision per device capability, and on-device augmentation."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

from robustloss.training.augment import random_crop_flip
from robustloss.training.plan import TrainingPlan
from robustloss.training.precision import resolve_precision
from robustloss.training.train_settings import InputTransform, TrainSettings


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
    ("cpu", True, "bf16", False, True),      # a CPU with AVX512-BF16/AMX: bf16 + channels-last
    ("cpu", False, "fp32", False, True),     # a CPU without them: float32 + channels-last
    ("cuda", True, "bf16", False, False),    # auto on an A100/H100: bfloat16 autocast
    ("cuda", False, "fp16", True, False),    # auto on a V100: float16 + GradScaler
])
def test_auto_precision_per_device_capability(device, bf16, expected, scaler, channels_last):
    chosen = resolve_precision("auto", device, bf16_supported=bf16)
    assert chosen.name == expected and chosen.channels_last == channels_last
    assert chosen.needs_grad_scaler == scaler


def test_auto_on_this_cpu_follows_its_instructions():
    """The capability query itself: auto is bf16 here exactly when the CPU reports
    AVX512-BF16 or AMX in /proc/cpuinfo (Linux)."""
    flags = Path("/proc/cpuinfo")
    if not flags.exists():
        pytest.skip("no /proc/cpuinfo on this system")
    native = any(f in flags.read_text().split() for f in ("avx512_bf16", "amx_bf16", "amx_tile"))
    assert resolve_precision("auto", "cpu").name == ("bf16" if native else "fp32")


def test_explicit_precisions():
    assert resolve_precision("bf16", "cpu").channels_last  # the CPU fast path
    assert resolve_precision("fp32", "cpu").channels_last  # the same maths, faster (other rounding)
    assert not resolve_precision("fp32", "cuda", bf16_supported=True).channels_last
    assert resolve_precision("bf16", "cuda", bf16_supported=True).dtype == torch.bfloat16
    fp16 = resolve_precision("fp16", "cpu")
    assert fp16.dtype == torch.float16 and fp16.grad_scaler(torch.device("cpu")) is not None
    assert resolve_precision("fp32", "cuda", bf16_supported=True).dtype is None


def test_fp16_autocast_trains_on_cpu_with_a_grad_scaler():
    from robustloss.components import losses, models
    from robustloss.training.loop import fit
    torch.manual_seed(0)
    model = models.build("small_cnn", (1, 8, 8), 10)
    images = torch.randint(0, 256, (64, 1, 8, 8), dtype=torch.uint8)
    before = [p.detach().clone() for p in model.parameters()]
    fit(model, images, torch.randint(0, 10, (64,)), losses.LossSchedule(losses.CrossEntropy()),
        TrainingPlan.resolve(TrainSettings(epochs=1, precision="fp16", inputs="unit")),
        torch.Generator().manual_seed(0))
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


def test_crop_shifts_without_mirroring_by_an_eighth_of_the_height():
    from robustloss.training.augment import augment_batch
    torch.manual_seed(0)
    images = torch.rand(32, 1, 16, 16) + 1
    out = augment_batch(images, "crop")
    padded = torch.nn.functional.pad(images, (2, 2, 2, 2))  # 16 // 8
    shifts = set()
    for i in range(32):
        found = [(dy, dx) for dy in range(5) for dx in range(5)
                 if torch.equal(out[i], padded[i, :, dy:dy + 16, dx:dx + 16])]
        assert found, f"sample {i} is not a crop of its padded image"
        shifts.update(found)
    assert len(shifts) > 5  # shifts vary across the batch


@pytest.mark.parametrize("train", [{}, {"optimizer": "sgd", "lr": 0.05, "weight_decay": 1e-4},
                                   {"weight_decay": 1e-3}], ids=["adam", "sgd", "adam_wd"])
def test_fused_optimiser_follows_torchs_per_tensor_update(train):
    """make_optimizer's fused kernels against torch's reference (for-loop) implementation:
    same weights after 20 steps on the same gradients."""
    from robustloss.training.loop import make_optimizer
    settings = TrainSettings(**train)
    torch.manual_seed(0)
    fused_model = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    plain_model, initial = copy.deepcopy(fused_model), copy.deepcopy(fused_model)
    fused = make_optimizer(fused_model, settings)
    assert fused.defaults["fused"]
    kind = torch.optim.SGD if settings.optimizer == "sgd" else torch.optim.Adam
    plain = kind(plain_model.parameters(), foreach=False,
                 **{k: v for k, v in fused.defaults.items() if k not in ("fused", "foreach")})
    x, y = torch.randn(32, 6), torch.randint(0, 3, (32,))
    for _ in range(20):
        for model, opt in ((fused_model, fused), (plain_model, plain)):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
    for a, b in zip(fused_model.parameters(), plain_model.parameters(), strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)
    assert (fused_model[0].weight - initial[0].weight).abs().max() > 1e-3  # it trained
