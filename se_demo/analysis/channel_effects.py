"""Which SE channels matter: the test accuracy with each channel's excitation set to 0.

Measured once per checkpoint by ``python -m se_demo channels`` and saved next to the
evaluation as ``channel_effects.json`` (JSON only, written atomically, no timestamps, so
re-running on unchanged inputs leaves identical bytes). The Intervene view suggests the
channels whose removal changes the accuracy most, and answers their removal instantly.

Removing channel c of a block is exactly `Intervention(block, "scale", c, 0.0)`; here it
is computed stage by stage, reusing the activations up to that block for every channel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from se_demo.analysis.interventions import Intervention
from se_demo.core.checkpoints import (
    FORMAT,
    FORMAT_VERSION,
    Checkpoint,
    CheckpointError,
    read_record,
)
from se_demo.core.data import Split
from se_demo.core.files import write_json_atomic
from se_demo.core.inference import eval_mode
from se_demo.core.models import Stage
from se_demo.core.registry import InterventionMode, se_block_name

NAME = "channel_effects"  # channel_effects.json in the checkpoint folder


@torch.no_grad()
def measure_channel_effects(
    senet: Checkpoint,
    split: Split,
    batch_size: int = 500,
    on_block: Callable[[str], None] | None = None,
) -> tuple[int, dict[str, list[int]]]:
    """Test images of ``split`` (the test split of ``senet``'s dataset) classified
    correctly by the model as trained, and {block: [those still classified correctly with
    channel c removed, for each c]}. ``on_block`` hears of each block as its measurement
    starts.
    """
    model = senet.model
    with eval_mode(model):
        trained = 0
        stages = [stage for stage in model.stages if isinstance(stage, Stage)]
        correct: dict[str, np.ndarray] = {}
        for start in range(0, len(split.labels), batch_size):
            x = senet.normalize(split.images[start : start + batch_size])
            x = x.contiguous(memory_format=torch.channels_last)
            labels = split.labels[start : start + batch_size]
            for index, stage in enumerate(stages):
                features = stage.features(x)  # (n, C, H, W): what the SE block receives
                scaled = stage.se(features)
                block = se_block_name(index)
                if isinstance(stage.se, torch.nn.Identity):
                    x = stage.pool(scaled)
                    continue
                if start == 0 and on_block is not None:
                    on_block(block)
                counts = correct.setdefault(block, np.zeros(scaled.shape[1], dtype=np.int64))
                for channel in range(scaled.shape[1]):
                    removed = scaled.clone()
                    removed[:, channel] = 0
                    y = stage.pool(removed)
                    for later in stages[index + 1 :]:
                        y = later(y)
                    counts[channel] += int((model.classifier(y).argmax(1) == labels).sum())
                x = stage.pool(scaled)
            trained += int((model.classifier(x).argmax(1) == labels).sum())
    return trained, {block: counts.tolist() for block, counts in correct.items()}


def channel_effects_record(
    effects: dict[str, list[int]],
    trained_correct: int,
    split: Split,
    senet: Checkpoint,
) -> dict[str, Any]:
    """The JSON record saved as ``channel_effects.json``: deterministic, no timestamps."""
    dataset = senet.dataset.key
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": NAME,
        "dataset": dataset,
        "senet_weights_sha256": senet.record["weights_sha256"],
        "data_sha256": split.checksum(),
        "test_images": len(split.labels),
        "trained_correct": trained_correct,
        "removed_correct": effects,
        "command": f"python -m se_demo channels --dataset {dataset}",
    }


def format_largest_effects(effects: dict[str, list[ChannelEffect]], count: int = 5) -> str:
    """One line per block: its ``count`` channels whose removal changes the accuracy most."""
    return "\n".join(
        f"{block}: largest effects of removing one channel: "
        + ", ".join(f"{e.channel} ({100 * e.change:+.2f} pp)" for e in ranked[:count])
        for block, ranked in effects.items()
    )


def save_channel_effects(record: dict[str, Any], directory: Path) -> Path:
    """Write ``record`` atomically as ``directory/channel_effects.json``."""
    path = Path(directory) / f"{NAME}.json"
    write_json_atomic(path, record)
    return path


@dataclass(frozen=True)
class ChannelEffect:
    """One channel's measured effect on the full test set."""

    channel: int
    accuracy: float  # test accuracy with the channel's excitation set to 0
    change: float  # accuracy - the trained accuracy (negative: the channel helped)


def load_channel_effects(
    directory: Path, senet_record: dict[str, Any] | None = None
) -> dict[str, list[ChannelEffect]] | None:
    """{block: effects of every channel, largest change first}, or None when nothing is
    saved or it was measured on other weights than ``senet_record``'s. Raises
    CheckpointError for a damaged file.
    """
    if not (Path(directory) / f"{NAME}.json").is_file():
        return None
    record = read_record(directory, NAME)
    sha = record.get("senet_weights_sha256")
    if senet_record is not None and sha != senet_record.get("weights_sha256"):
        return None
    try:
        total, trained = int(record["test_images"]), int(record["trained_correct"])
        return {
            block: sorted(
                (
                    ChannelEffect(channel, count / total, (count - trained) / total)
                    for channel, count in enumerate(counts)
                ),
                key=lambda effect: (-abs(effect.change), effect.channel),
            )
            for block, counts in record["removed_correct"].items()
        }
    except (KeyError, TypeError, ValueError, ZeroDivisionError, AttributeError) as error:
        raise CheckpointError(
            f"'{Path(directory) / NAME}.json' is not a valid channel-effects record ({error!r})"
        ) from None


def saved_accuracy(
    senet_summary: dict[str, Any],
    effects: dict[str, list[ChannelEffect]] | None,
    targets: tuple[str, ...],
    intervention: Intervention,
) -> float | None:
    """The full test-set accuracy of ``intervention`` (applied to every block of
    ``targets``), when it was measured once and saved: SE off or the mean excitation from
    the evaluation's summary of the SENet (``se_interventions``), one channel removed from
    the channel effects. None when it was not.
    """
    saved = senet_summary.get("se_interventions")
    if intervention.mode in (InterventionMode.OFF, InterventionMode.MEAN) and saved:
        value = saved[intervention.mode].get("all" if len(targets) > 1 else targets[0])
        return None if value is None else float(value)
    removed = (effects or {}).get(intervention.block)
    if intervention.mode == InterventionMode.SCALE and intervention.scale == 0 and removed:
        return next(e.accuracy for e in removed if e.channel == intervention.channel)
    return None
