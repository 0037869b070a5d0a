"""The original study's CNN for MNIST, with an optional Squeeze-and-Excitation layer passed in.

Squeeze-and-Excitation: Hu, Shen, Albanie, Sun, Wu. "Squeeze-and-Excitation Networks",
CVPR 2018 / TPAMI 2019, arXiv:1709.01507.

Departures from the paper, all switchable: the squeeze may be a sum (as in the original
study's TensorFlow code) or a max (the paper's ablation, Table 11) instead of the mean, and the
gate may be tanh or ReLU (Table 12) instead of the sigmoid.

Layout (the original study's, kept exactly so results compare):
    stage 1: conv3x3 1->16, ReLU, conv3x3 16->16, ReLU, [SE], maxpool 2x2   28x28 -> 14x14
    stage 2: conv3x3 16->32, ReLU, conv3x3 32->32, ReLU, [SE], maxpool 2x2  14x14 -> 7x7
    stage 3: conv3x3 32->64, ReLU, conv3x3 64->64, ReLU, [SE]                7x7
    head:    flatten 3136 -> FC 512, ReLU -> FC 10
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
from torch import nn

from se_demo.core.config import NUM_CLASSES, ModelConfig
from se_demo.core.registry import (
    MODELS,
    Gate,
    ModelKind,
    Squeeze,
    gate_option,
    model_kind,
    squeeze_option,
)


class SqueezeExcitation(nn.Module):
    """The SE block: squeeze over H, W, excite through a bottleneck MLP, rescale channels.

    The excitation (N, C) is the output of the ``gate`` submodule, so a forward hook on
    ``gate`` reads it without touching this code.
    """

    def __init__(
        self,
        channels: int,
        reduction_ratio: int = 2,
        squeeze: str = Squeeze.MEAN,
        gate: str = Gate.SIGMOID,
    ) -> None:
        super().__init__()
        if channels % reduction_ratio:
            raise ValueError(
                f"reduction ratio {reduction_ratio} does not divide {channels} channels"
            )
        self.squeeze = squeeze_option(squeeze)
        self.fc1 = nn.Linear(channels, channels // reduction_ratio)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Linear(channels // reduction_ratio, channels)
        self.gate = _GATES[gate_option(gate)]()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        squeezed = _SQUEEZES[self.squeeze](x)  # (N, C, H, W) -> (N, C)
        excitation = self.gate(self.fc2(self.relu(self.fc1(squeezed))))  # (N, C)
        return x * excitation[:, :, None, None]

    def extra_repr(self) -> str:
        return f"squeeze={self.squeeze}"


_SQUEEZES: dict[Squeeze, Callable[[torch.Tensor], torch.Tensor]] = {
    Squeeze.MEAN: lambda x: x.mean(dim=(2, 3)),
    Squeeze.SUM: lambda x: x.sum(dim=(2, 3)),
    Squeeze.MAX: lambda x: x.amax(dim=(2, 3)),
}
_GATES: dict[Gate, type[nn.Module]] = {
    Gate.SIGMOID: nn.Sigmoid,
    Gate.TANH: nn.Tanh,
    Gate.RELU: nn.ReLU,
}


@dataclass(frozen=True)
class StageSpec:
    """One row of the architecture table: a stage of two 3x3 convs."""

    out_channels: int
    pool: bool  # 2x2 max-pool at the end of the stage


REFERENCE_STAGES = (StageSpec(16, pool=True), StageSpec(32, pool=True), StageSpec(64, pool=False))


class Stage(nn.Module):
    """conv3x3, ReLU, conv3x3, ReLU, then the SE layer (or nothing), then the pool."""

    def __init__(
        self, in_channels: int, spec: StageSpec, se_layer: Callable[[int], nn.Module] | None
    ) -> None:
        super().__init__()
        out = spec.out_channels
        self.conv1 = nn.Conv2d(in_channels, out, kernel_size=3, padding=1)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out, out, kernel_size=3, padding=1)
        self.relu2 = nn.ReLU(inplace=True)
        self.se = se_layer(out) if se_layer is not None else nn.Identity()
        self.pool = nn.MaxPool2d(2) if spec.pool else nn.Identity()

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The two convolutions with their ReLUs: what the SE layer receives."""
        return self.relu2(self.conv2(self.relu1(self.conv1(x))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.se(self.features(x)))


class ReferenceCNN(nn.Module):
    """The original study's MNIST CNN; pass ``se_layer`` to make it an SENet.

    Build it with `build_from_config`: built directly, its layers' constructors draw
    from the RNG before `reset_parameters` does, so a seed gives other weights.
    """

    def __init__(
        self,
        stages: tuple[StageSpec, ...] = REFERENCE_STAGES,
        *,
        se_layer: Callable[[int], nn.Module] | None = None,
        in_channels: int = 1,
        image_size: int = 28,
        hidden: int = 512,
        num_classes: int = NUM_CLASSES,
    ) -> None:
        super().__init__()
        blocks = []
        channels, size = in_channels, image_size
        for spec in stages:
            blocks.append(Stage(channels, spec, se_layer))
            channels = spec.out_channels
            size = size // 2 if spec.pool else size
        self.stages = nn.Sequential(*blocks)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(channels * size * size, hidden),  # 64 * 7 * 7 = 3136 -> 512
            nn.ReLU(inplace=True),
            nn.Linear(hidden, num_classes),
        )
        self.reset_parameters()

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Draw every weight from ``generator`` (torch's global RNG when None).

        First torch's default initialisation of each layer, in the order the layers are
        built, then He et al.'s for the convolutions: the same draws in the same order
        as torch's layer constructors followed by He's initialisation, so a seed gives
        the weights it gave before initialisation took a generator. `build_from_config`
        builds on the meta device, where the constructors draw nothing, then calls this.
        """
        for module in self.modules():
            if isinstance(module, nn.Conv2d | nn.Linear):  # as their reset_parameters()
                nn.init.kaiming_uniform_(module.weight, a=math.sqrt(5), generator=generator)
                if module.bias is not None:
                    bound = 1 / math.sqrt(module.weight[0].numel())  # 1 / sqrt(fan_in)
                    nn.init.uniform_(module.bias, -bound, bound, generator=generator)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(
                    module.weight, mode="fan_out", nonlinearity="relu", generator=generator
                )
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: normalised images (N, 1, 28, 28) -> logits (N, 10)."""
        return self.classifier(self.stages(x))


def build_model(name: str = ModelKind.SENET, **config: Any) -> ReferenceCNN:
    """Build a `ModelKind` by name; SE settings: reduction_ratio, squeeze, gate.

    Unknown names or settings raise ValueError naming them.
    """
    return build_from_config(ModelConfig(name=model_kind(name), **_check_keys(config)))


def _check_keys(config: dict[str, Any]) -> dict[str, Any]:
    allowed = {"reduction_ratio", "squeeze", "gate"}
    unknown = set(config) - allowed
    if unknown:
        raise ValueError(
            f"unknown model settings {sorted(unknown)}; expected some of {sorted(allowed)}"
        )
    return config


def build_from_config(
    config: ModelConfig,
    *,
    device: torch.device | str = "cpu",
    generator: torch.Generator | None = None,
) -> ReferenceCNN:
    """Build the network a `ModelConfig` describes, its weights drawn from ``generator``
    (torch's global RNG when None).

    On ``device="meta"`` nothing is allocated and nothing drawn: for what needs no
    weights (parameter counts, shapes, FLOPs), or a copy that gets them from a state
    dict (``to_empty`` then ``load_state_dict``, or ``load_state_dict(..., assign=True)``).
    """
    with torch.device("meta"):  # the layers' constructors draw nothing here
        model = _network(config)
    if torch.device(device).type == "meta":
        return model
    model.to_empty(device=device)
    model.reset_parameters(generator)
    return model


def _network(config: ModelConfig) -> ReferenceCNN:
    if not MODELS[config.name].has_se:
        return ReferenceCNN()
    se_layer = partial(
        SqueezeExcitation,
        reduction_ratio=config.reduction_ratio,
        squeeze=config.squeeze,
        gate=config.gate,
    )
    return ReferenceCNN(se_layer=se_layer)


def se_blocks(model: nn.Module) -> dict[str, SqueezeExcitation]:
    """The model's SE blocks by name, in depth order (empty for the basic CNN)."""
    return {name: m for name, m in model.named_modules() if isinstance(m, SqueezeExcitation)}


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
