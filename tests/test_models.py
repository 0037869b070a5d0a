"""The seed's architecture, and our SE block against independent references."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchvision.ops import SqueezeExcitation as TorchvisionSE

from se_demo.core.inference import eval_mode
from se_demo.core.models import SqueezeExcitation, build_model, count_parameters, se_blocks

# Hand-computed from the seed's layout (weights + biases).
CONV_PARAMS = (
    (1 * 9 * 16 + 16)
    + (16 * 9 * 16 + 16)
    + (16 * 9 * 32 + 32)
    + (32 * 9 * 32 + 32)
    + (32 * 9 * 64 + 64)
    + (64 * 9 * 64 + 64)
)
FC_PARAMS = (3136 * 512 + 512) + (512 * 10 + 10)
SE_PARAMS = sum(c * (c // 2) + c // 2 + (c // 2) * c + c for c in (16, 32, 64))


def test_parameter_counts_match_the_seed_layout():
    assert count_parameters(build_model("cnn")) == CONV_PARAMS + FC_PARAMS == 1_683_066
    assert count_parameters(build_model("senet")) == CONV_PARAMS + FC_PARAMS + SE_PARAMS


def test_senet_is_the_cnn_plus_se_blocks_only():
    cnn = {k: v.shape for k, v in build_model("cnn").state_dict().items()}
    senet = {k: v.shape for k, v in build_model("senet").state_dict().items()}
    extra = set(senet) - set(cnn)
    assert set(cnn) <= set(senet)
    assert all(".se." in key for key in extra)
    assert all(cnn[k] == senet[k] for k in cnn)
    assert list(se_blocks(build_model("senet"))) == ["stages.0.se", "stages.1.se", "stages.2.se"]
    assert se_blocks(build_model("cnn")) == {}


@pytest.mark.parametrize("name", ["cnn", "senet"])
def test_forward_shapes(name):
    model = build_model(name).eval()
    assert model(torch.randn(5, 1, 28, 28)).shape == (5, 10)


def test_se_matches_torchvision_squeeze_excitation():
    torch.manual_seed(0)
    ours = SqueezeExcitation(32, reduction_ratio=4, squeeze="mean", gate="sigmoid")
    reference = TorchvisionSE(32, 8)
    with torch.no_grad():
        reference.fc1.weight.copy_(ours.fc1.weight[:, :, None, None])
        reference.fc1.bias.copy_(ours.fc1.bias)
        reference.fc2.weight.copy_(ours.fc2.weight[:, :, None, None])
        reference.fc2.bias.copy_(ours.fc2.bias)
    x = torch.randn(3, 32, 7, 7)
    torch.testing.assert_close(ours(x), reference(x))


@pytest.mark.parametrize(
    ("squeeze", "gate"), [("sum", "sigmoid"), ("max", "tanh"), ("mean", "relu")]
)
def test_se_matches_a_hand_computed_forward(squeeze, gate):
    torch.manual_seed(1)
    block = SqueezeExcitation(8, reduction_ratio=2, squeeze=squeeze, gate=gate)
    x = torch.randn(2, 8, 5, 5)
    xn = x.numpy().astype(np.float64)
    pooled = {"sum": xn.sum((2, 3)), "max": xn.max((2, 3)), "mean": xn.mean((2, 3))}[squeeze]
    w1, b1 = block.fc1.weight.detach().double().numpy(), block.fc1.bias.detach().double().numpy()
    w2, b2 = block.fc2.weight.detach().double().numpy(), block.fc2.bias.detach().double().numpy()
    hidden = np.maximum(pooled @ w1.T + b1, 0)
    z = hidden @ w2.T + b2
    excitation = {"sigmoid": 1 / (1 + np.exp(-z)), "tanh": np.tanh(z), "relu": np.maximum(z, 0)}[
        gate
    ]
    expected = xn * excitation[:, :, None, None]
    np.testing.assert_allclose(block(x).detach().numpy(), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "resnet"}, "resnet"),
        ({"name": "senet", "squeeze": "median"}, "median"),
        ({"name": "senet", "gate": "softmax"}, "softmax"),
        ({"name": "senet", "reduction_ratio": 0}, "0"),
        ({"name": "senet", "reduction_ratio": 3}, "3"),
        ({"name": "senet", "dropout": 0.5}, "dropout"),
    ],
)
def test_bad_settings_raise_value_error_naming_them(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_model(**kwargs)


def test_eval_mode_puts_the_previous_mode_back_also_after_an_error():
    model = build_model("senet")
    with eval_mode(model):
        assert not any(m.training for m in model.modules())
    assert all(m.training for m in model.modules())
    with pytest.raises(RuntimeError, match="to have 1 channels"), eval_mode(model):
        model(torch.zeros(1, 3, 28, 28))  # three channels: the first conv refuses them
    assert model.training
    model.eval()
    with eval_mode(model):
        pass
    assert not model.training
