"""Every registered model: output shapes and parameter counts on CPU; the CIFAR ResNets'
structure; ImageNet weights for resnet34_cifar without network (an empty or a fake cache)."""

from __future__ import annotations

import time

import pytest
import torch
from torch import nn
from torchvision import models as tvm

from robustloss.components.models import MODELS, build, count_parameters, resnets

# (model, input shape, classes) -> parameter count
PARAMETER_COUNTS = {
    ("small_cnn", (1, 28, 28), 10): 1_199_882,       # paper A.1: about 1.2 M
    ("resnet32", (3, 32, 32), 10): 464_154,          # He et al. 2016: 0.46 M
    ("resnet32", (3, 32, 32), 100): 470_004,
    ("resnet34_cifar", (3, 32, 32), 10): 21_282_122,  # torchvision ResNet-34: 21.3 M
    ("resnet34_cifar", (3, 32, 32), 100): 21_328_292,
}


@pytest.mark.parametrize("name,shape,classes", list(PARAMETER_COUNTS))
def test_output_shape_and_parameter_count(name, shape, classes):
    torch.manual_seed(0)
    model = build(name, shape, classes).eval()
    with torch.no_grad():
        out = model(torch.rand(2, *shape))
    assert out.shape == (2, classes) and torch.isfinite(out).all()
    assert count_parameters(model) == PARAMETER_COUNTS[(name, shape, classes)]


IMAGE_MODELS = [name for name in MODELS.names() if name != "mlp"]


@pytest.mark.parametrize("name, shape", [(name, shape) for name in IMAGE_MODELS
                                         for shape in [(1, 28, 28), (3, 32, 32)]]
                         + [("mlp", (64,))])
def test_every_model_trains_one_step_on_its_inputs(name, shape):
    torch.manual_seed(0)
    model = build(name, shape, 7)
    loss = nn.functional.cross_entropy(model(torch.rand(4, *shape)), torch.arange(4))
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())


def test_mlp_refuses_images():
    with pytest.raises(ValueError, match="mlp needs feature vectors"):
        build("mlp", (1, 28, 28), 10)


def test_resnet34_cifar_replaces_stem_and_head():
    model = build("resnet34_cifar", (3, 32, 32), 10)
    conv = model.conv1
    assert (conv.kernel_size, conv.stride, conv.padding, conv.bias) == ((3, 3), (1, 1), (1, 1), None)
    assert isinstance(model.maxpool, nn.Identity)
    assert (model.fc.in_features, model.fc.out_features) == (512, 10)
    trunk = nn.Sequential(model.conv1, model.bn1, model.relu, model.layer1, model.layer2,
                          model.layer3, model.layer4)
    assert trunk(torch.rand(1, 3, 32, 32)).shape == (1, 512, 4, 4)  # 32 / 8, no early pooling


@pytest.mark.parametrize("shortcut,count", [("pad", 464_154), ("avgpad", 464_154),
                                            ("conv", 466_906)])
def test_resnet32_depth_and_shortcuts(shortcut, count):
    model = build("resnet32", (3, 32, 32), 10, shortcut=shortcut)
    assert count_parameters(model) == count
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]
    assert len(convs) + 1 == 32  # 31 3x3 convs + fc: the 32 weighted layers of ResNet-32
    assert [m.out_channels for m in convs][::10] == [16, 16, 32, 64]


def test_resnet32_unknown_shortcut_lists_the_options():
    with pytest.raises(ValueError, match="valid: pad, avgpad, conv"):
        build("resnet32", (3, 32, 32), 10, shortcut="B")


def test_pretrained_without_cached_weights_fails_fast_with_the_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    start = time.perf_counter()
    with pytest.raises(FileNotFoundError) as err:
        build("resnet34_cifar", (3, 32, 32), 10, pretrained=True)
    assert time.perf_counter() - start < 10
    message = str(err.value)
    assert "model.pretrained=false" in message and "TORCH_HOME" in message
    assert str(tmp_path / "hub" / "checkpoints" / "resnet34-b627a593.pth") in message


def test_pretrained_loads_cached_weights_except_the_new_stem_and_head(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    torch.manual_seed(1)
    imagenet = tvm.resnet34(weights=None).state_dict()  # stands in for the real weights
    cached = resnets._cached_weights_path(tvm.ResNet34_Weights.IMAGENET1K_V1)
    assert cached.parent == tmp_path / "hub" / "checkpoints"
    cached.parent.mkdir(parents=True)
    torch.save(imagenet, cached)
    model = build("resnet34_cifar", (3, 32, 32), 100, pretrained=True)
    state = model.state_dict()
    for key in ("layer1.0.conv1.weight", "layer4.2.bn2.running_var", "bn1.weight"):
        torch.testing.assert_close(state[key], imagenet[key])
    assert state["conv1.weight"].shape == (64, 3, 3, 3)  # new 3x3 stem, random
    assert state["fc.weight"].shape == (100, 512)
