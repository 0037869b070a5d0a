"""What the "How SE works" lesson shows: the networks layer by layer, and one SE block's
computation step by step on one input.

Every number comes from the model itself: shapes and per-layer FLOPs from a forward pass
(``torch.utils.flop_counter``), the SE steps from temporary forward hooks on the block and
its submodules (``fc1``, ``relu``, ``fc2``, ``gate``), filtered to the calling thread
(`se_demo.core.hooks`), so the model may be shared by other sessions.

The SE block (Hu et al., arXiv:1709.01507, section 3, eq. 2-4), on feature maps U (C, H, W):
    squeeze     z_c = mean over H, W of u_c                     (C,)
    excitation  s = sigmoid(W2 ReLU(W1 z + b1) + b2)            (C/r,) then (C,)
    scale       x~_c = s_c * u_c                                (C, H, W)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from se_demo.core.data import normalize
from se_demo.core.hooks import first_input, output_of, recording_activations
from se_demo.core.inference import count_flops, eval_mode
from se_demo.core.models import SqueezeExcitation, se_blocks
from se_demo.words import with_article

# The paper's headline result (Table 2 of arXiv:1709.01507, ImageNet validation, single crop).
# Its ablation tables (10-12, `se_demo.training.experiments.PAPER_IMAGENET`) train with another
# setting, so the same two networks have other errors there; the lesson says which is which.
PAPER_HEADLINE = {
    "model": "ResNet-50",
    "top1_error": 24.80,  # %, the paper's re-implementation of ResNet-50
    "se_top1_error": 23.29,  # %, SE-ResNet-50
    "gflops": 3.86,
    "se_gflops": 3.87,
    "extra_flops_percent": 0.26,
    "ablation_top1_error": 23.30,  # %, ResNet-50 ("original") in Table 10
    "ablation_se_top1_error": 22.28,  # %, SE-ResNet-50 at r = 16 in Tables 10-12
}


@dataclass(frozen=True)
class LayerRow:
    """One layer of a network, as the lesson's diagram and table show it."""

    name: str  # the module's path in the model, e.g. "stages.0.se"
    title: str  # e.g. "conv 3x3, 1 -> 16, ReLU"
    output_shape: tuple[int, ...]  # per image, e.g. (16, 28, 28)
    parameters: int
    flops: int  # counted by torch.utils.flop_counter (convolutions and matrix multiplies)
    is_se: bool = False


def _layer_title(name: str, module: nn.Module) -> str:
    if isinstance(module, nn.Conv2d):
        k = module.kernel_size[0]
        return f"conv {k}x{k}, {module.in_channels} -> {module.out_channels}, ReLU"
    if isinstance(module, SqueezeExcitation):
        c, hidden = module.fc1.in_features, module.fc1.out_features
        return f"SE block: {c} -> {hidden} -> {c}"
    if isinstance(module, nn.MaxPool2d):
        return "max-pool 2x2"
    if isinstance(module, nn.Flatten):
        return "flatten"
    if isinstance(module, nn.Linear):
        relu = ", ReLU" if name != "classifier.3" else ", softmax"
        return f"fully connected, {module.in_features} -> {module.out_features}{relu}"
    return type(module).__name__


def _shown_layers(model: nn.Module) -> dict[str, nn.Module]:
    """The layers a diagram shows, in order: convs, SE blocks, pools, flatten, linears."""
    inside_se = tuple(f"{name}." for name in se_blocks(model))  # an SE block is one row
    return {
        name: module
        for name, module in model.named_modules()
        if isinstance(module, _SHOWN_KINDS) and not name.startswith(inside_se)
    }


_SHOWN_KINDS = (nn.Conv2d, SqueezeExcitation, nn.MaxPool2d, nn.Flatten, nn.Linear)


def layer_table(model: nn.Module, image_size: int = 28) -> list[LayerRow]:
    """Every layer of ``model`` with its output shape per image, parameters and FLOPs.

    FLOPs are those of one 1x28x28 image as `se_demo.core.inference.count_flops` counts
    them. The layout needs no weights: a model built on the "meta" device will do.
    """
    layers = _shown_layers(model)
    with recording_activations({name: (m, output_of) for name, m in layers.items()}) as outputs:
        flops = count_flops(model, image_size)
    return [
        LayerRow(
            name=name,
            title=_layer_title(name, module),
            output_shape=tuple(outputs[name][0].shape[1:]),
            parameters=sum(p.numel() for p in module.parameters()),
            flops=flops[name],
            is_se=isinstance(module, SqueezeExcitation),
        )
        for name, module in layers.items()
    ]


@dataclass(frozen=True)
class SEBlockSteps:
    """One SE block at work on one input: every intermediate value, as the model computed it."""

    block: str  # e.g. "stages.1.se"
    squeeze: str  # the block's squeeze operator: "mean", "sum" or "max"
    gate: str  # the gate's class name, e.g. "Sigmoid"
    feature_maps: np.ndarray  # U (C, H, W): the block's input, the stage's second conv after ReLU
    squeezed: np.ndarray  # z (C,): fc1's input
    fc1: np.ndarray  # (C/r,) W1 z + b1
    relu: np.ndarray  # (C/r,) ReLU of fc1
    fc2: np.ndarray  # (C,) W2 relu + b2
    excitation: np.ndarray  # s (C,): the gate's output
    scaled: np.ndarray  # s * U (C, H, W): the block's output
    probabilities: np.ndarray  # (10,) the whole model's answer for this input
    parameters: dict[str, int]  # {"fc1": C*C/r + C/r, "fc2": C/r*C + C}

    @property
    def channels(self) -> int:
        """C, the number of channels the block rescales."""
        return len(self.excitation)


def explain_se_block(
    model: nn.Module, image: np.ndarray, block: str, *, dataset: str
) -> SEBlockSteps:
    """Run ``model`` on one image and read every step of SE ``block`` through hooks.

    ``image``: (28, 28) uint8, or float in [0, 1] (a drawing), normalised with ``dataset``'s
    statistics. Hooks are temporary and only see this thread's forward pass.
    """
    blocks = se_blocks(model)
    if block not in blocks:
        raise ValueError(f"no SE block {block!r}; the model has {list(blocks)}")
    se = blocks[block]
    pixels = torch.from_numpy(np.array(image))  # a copy: the test images are read-only
    if pixels.dtype != torch.uint8:
        pixels = pixels.float()
    x = normalize(pixels[None], dataset)  # (1, 1, 28, 28)
    taps = {
        "U": (se, first_input),
        "scaled": (se, output_of),
        "z": (se.fc1, first_input),
        "fc1": (se.fc1, output_of),
        "relu": (se.relu, output_of),
        "fc2": (se.fc2, output_of),
        "s": (se.gate, output_of),
    }
    with recording_activations(taps) as store, eval_mode(model), torch.no_grad():
        probabilities = torch.softmax(model(x), dim=1)[0]
    values = {key: batches[0][0].numpy() for key, batches in store.items()}
    return SEBlockSteps(
        block=block,
        squeeze=se.squeeze,
        gate=type(se.gate).__name__,
        feature_maps=values["U"],
        squeezed=values["z"],
        fc1=values["fc1"],
        relu=values["relu"],
        fc2=values["fc2"],
        excitation=values["s"],
        scaled=values["scaled"],
        probabilities=probabilities.numpy(),
        parameters={
            "fc1": sum(p.numel() for p in se.fc1.parameters()),
            "fc2": sum(p.numel() for p in se.fc2.parameters()),
        },
    )


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def cut_bright_channel(steps: SEBlockSteps) -> int:
    """The brightest (largest squeeze z) of the three channels the block cuts most."""
    cut = np.argsort(steps.excitation, kind="stable")[:3]
    return int(cut[np.argmax(steps.squeezed[cut])])


def why_cut(steps: SEBlockSteps, class_means: np.ndarray, classes: Sequence[str]) -> str:
    """Why the block cuts a bright channel for this input, in words, from the numbers.

    Takes `cut_bright_channel` and relates its excitation to ``class_means`` (classes, C):
    the block's mean excitation per class over the test set
    (`se_demo.analysis.excitation_stats.class_means`).
    """
    z, s, c = steps.squeezed, steps.excitation, steps.channels
    channel = cut_bright_channel(steps)
    rank = int(np.sum(z > z[channel])) + 1
    brightness = "brightest" if rank == 1 else f"{_ordinal(rank)} brightest"
    answer = int(np.argmax(steps.probabilities))
    means = np.asarray(class_means)[:, channel]
    low, high = int(np.argmin(means)), int(np.argmax(means))
    name = [f"for {with_article(str(n))}" for n in classes]
    opening = (
        f"Channel {channel} is the {brightness} of the {c} maps here (z = {z[channel]:.2f}), "
        f"{'yet' if rank <= c // 4 else 'and'} the block scales it down to s = "
        f"{s[channel]:.2f}. The excitation does not react to one channel's brightness: FC1 "
        f"mixes all {c} squeezed values, so each s depends on the pattern across every "
        "channel, that is on what the whole image looks like. "
    )
    if means[high] < 0.5:
        return opening + (
            f"Over the test set channel {channel}'s mean s stays between {means[low]:.2f} "
            f"({name[low]}) and {means[high]:.2f} ({name[high]}), {means[answer]:.2f} "
            f"{name[answer]}: the network has learned to turn this channel down for every "
            "class, however brightly it fires."
        )
    return opening + (
        f"Over the test set its mean s runs from {means[low]:.2f} ({name[low]}) to "
        f"{means[high]:.2f} ({name[high]}): the block keeps it for some classes and cuts "
        f"it for others; {name[answer]}, what the SENet reads here, it is {means[answer]:.2f}."
    )
