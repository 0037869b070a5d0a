"""Plain-language readings of the SE excitations and of interventions on them.

Each sentence is computed from the numbers it describes (saved statistics, an input's
excitations and probabilities), so what the page says cannot drift from what it shows.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from se_demo.analysis.excitation_stats import SATURATED_ABOVE, SUPPRESSED_BELOW, BlockStatistics
from se_demo.core.registry import InterventionMode, se_block_number


def _listing(values: Sequence[str], blocks: Sequence[str]) -> str:
    """'a in block 1, b in block 2 and c in block 3'."""
    parts = [f"{v} in block {se_block_number(b)}" for v, b in zip(values, blocks, strict=True)]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def describe_depth(stats: Sequence[BlockStatistics]) -> str:
    """A plain-language reading of `block_statistics` across depth, against the SE paper."""
    if not stats:
        return "This model has no SE blocks."
    lines = [
        "The class explains "
        + _listing([format_share(s.specificity) for s in stats], [s.block for s in stats])
        + " of how the excitations vary from one test image to the next."
    ]
    if len(stats) > 1:
        lines += _trend_with_depth(stats) + _class_differences(stats)
    return " ".join(lines + _saturation(stats[-1]))


def _trend_with_depth(stats: Sequence[BlockStatistics]) -> list[str]:
    """Whether the class-specificity grows with depth, as in the SE paper's Fig. 6."""
    first, last = stats[0], stats[-1]
    steps = [b.specificity - a.specificity for a, b in itertools.pairwise(stats)]
    if not (min(steps) >= -0.02 and last.specificity > first.specificity + 0.1):
        return ["Unlike in the SE paper (Fig. 6), this share does not grow steadily with depth."]
    lines = [
        "This share grows with depth, as in the SE paper (Fig. 6), where early blocks "
        "excite nearly the same channels for every class and later blocks respond to "
        "the class."
    ]
    if abs(steps[-1]) < 0.05:
        lines.append(
            f"It levels off between block {se_block_number(stats[-2].block)} and "
            f"block {se_block_number(last.block)}."
        )
    return lines


def _class_differences(stats: Sequence[BlockStatistics]) -> list[str]:
    """How far the class means lie apart in each block, and which blocks are near class-agnostic."""
    loudest = max(stats, key=lambda s: s.between_std)
    quiet = [s.block for s in stats if s.between_std < 0.5 * loudest.between_std]
    lines = [
        "A share is not a size: on the 0-1 scale of an excitation, class means differ "
        "from the all-class mean by "
        + _listing([f"{s.between_std:.3f}" for s in stats], [s.block for s in stats])
        + " on average."
    ]
    if quiet:
        which = " and ".join(se_block_number(b) for b in quiet)
        plural = "s" if len(quiet) > 1 else ""
        lines.append(
            f"In block{plural} {which} these differences are less than half as large as "
            f"in block {se_block_number(loudest.block)}: closer to class-agnostic, as the "
            "paper's early blocks are."
        )
    return lines


def _saturation(last: BlockStatistics) -> list[str]:
    """Whether the last block saturates, as the paper's last blocks do."""
    if last.saturated > 0.5:
        return [
            f"As the paper found for its last blocks, the last block saturates: "
            f"{format_share(last.saturated)} of its excitations are above {SATURATED_ABOVE}, so it "
            "rescales little."
        ]
    lines = [
        f"The paper's last blocks saturate (most excitations near 1, so they barely "
        f"rescale); ours does not: {format_share(last.saturated)} of the last block's "
        f"excitations are above {SATURATED_ABOVE} and {format_share(last.suppressed)} "
        f"below {SUPPRESSED_BELOW}."
    ]
    if last.kept_channels or last.dropped_channels:
        lines.append(
            f"{last.kept_channels} of its {last.channels} channels are kept for nearly "
            f"every input (mean excitation above {SATURATED_ABOVE}) and "
            f"{last.dropped_channels} nearly always suppressed (below {SUPPRESSED_BELOW}): "
            "part of the block acts as a fixed channel selection."
        )
    return lines


def describe_interventions(summary: Mapping[str, Any]) -> str:
    """A plain-language reading of the saved switch-off results, against the SE paper."""
    saved = summary.get("se_interventions")
    if not saved:
        return ""
    baseline = summary["metrics"]["accuracy"]
    blocks = [key for key in saved["off"] if key != "all"]
    off = {b: 100 * (saved["off"][b] - baseline) for b in blocks}
    mean = {b: 100 * (saved["mean"][b] - baseline) for b in blocks}
    lines = [
        "Switching one block off (excitation 1) changes the test accuracy by "
        + _listing([f"{off[b]:+.2f} pp" for b in blocks], blocks)
        + f"; all blocks off: {100 * (saved['off']['all'] - baseline):+.2f} pp."
    ]
    lines.append(
        "Replacing a block's excitation by its test-set mean changes it by "
        + _listing([f"{mean[b]:+.2f} pp" for b in blocks], blocks)
        + (
            ": on this task, what the SE blocks contribute is mostly a fixed per-channel "
            "scaling, not its dependence on the input."
            if max(map(abs, mean.values())) < 0.5 * max(map(abs, off.values()))
            else "."
        )
    )
    costliest = min(blocks, key=lambda b: off[b])
    if costliest == blocks[-1]:
        lines.append(
            "In the SE paper the saturated last blocks could be removed at a marginal cost; "
            "here removing the last block costs the most."
        )
    else:
        lines.append(
            "As in the SE paper, where the saturated last blocks could be removed at a "
            "marginal cost, removing the last block costs less than removing "
            f"block {se_block_number(costliest)}."
        )
    return " ".join(lines)


def format_share(share: float) -> str:
    """A share in two significant digits below 10 %: "0 %", "0.19 %", "5.3 %", "57 %"."""
    if share == 0:
        return "0 %"
    return f"{100 * share:.2g} %" if share < 0.1 else f"{100 * share:.0f} %"


def format_probability(p: float) -> str:
    """A softmax probability as "95.2 %"; "> 99.9 %" and "< 0.1 %" near the ends, which a
    softmax never reaches (float32 rounds 1 - 1e-8 to 1.0).
    """
    if p > 0.999:
        return "> 99.9 %"
    if p < 0.001:
        return "< 0.1 %"
    return f"{100 * p:.1f} %"


def network_label(
    blocks: Sequence[str],
    mode: str,
    channel: int | None = None,
    scale: float = 1.0,
    *,
    short: bool = True,
) -> str:
    """Which network an intervention makes of the SENet, in words.

    Switching SE off does not give the Basic CNN: those weights were trained with SE in
    place, the Basic CNN was trained without it; the long form (``short=False``) says so.
    """
    where = "all its SE blocks" if len(blocks) > 1 else f"block {se_block_number(blocks[0])}'s SE"
    if mode == InterventionMode.OFF:
        label = f"SENet with {where} removed"
        return (
            label
            if short
            else (
                f"{label} (excitations fixed at 1), not the Basic CNN, which was trained without SE"
            )
        )
    if mode == InterventionMode.MEAN:
        return f"SENet with {where} fixed at its test-set mean excitation"
    which = f"channel {channel} of block {se_block_number(blocks[0])}"
    return (
        f"SENet with {which} removed (excitation 0)"
        if scale == 0
        else (f"SENet with {which} scaled by {scale:g}")
    )


def _logit_gap(logits: np.ndarray, label: int) -> float:
    """How far class ``label``'s logit lies above the largest other logit."""
    others = np.delete(np.asarray(logits, dtype=np.float64), label)
    return float(logits[label] - others.max())


def explain_switch_off(
    blocks: Sequence[str],
    excitation: np.ndarray,
    logits_before: np.ndarray,
    logits_after: np.ndarray,
    class_names: Sequence[str],
) -> str:
    """Why switching SE ``blocks`` off changed one input's confidence, from its own numbers.

    ``excitation``: the input's trained excitations in those blocks, concatenated; logits
    (K,) of the SENet as trained and with the blocks switched off. Switching off sets
    every excitation to 1: each channel is multiplied by 1 instead of s.
    """
    s = np.asarray(excitation, dtype=np.float64)  # the paper's s
    before = np.exp(logits_before - logits_before.max())
    before /= before.sum()
    after = np.exp(logits_after - logits_after.max())
    after /= after.sum()
    label = int(before.argmax())
    name = class_names[label]
    where, whose = (
        (f"block {se_block_number(blocks[0])}", "that block's")
        if len(blocks) == 1
        else ("all SE blocks", "their")
    )
    if (s < 1).all():
        scale = (
            f"This input's {len(s)} excitations in {where} were all below 1 (from "
            f"{s.min():.2f} to {s.max():.2f}, median {np.median(s):.2f}), so switching SE off "
            f"scales {whose} activations up, by a median factor of {np.median(1 / s):.1f}."
        )
    else:
        scale = (
            f"{int((s < 1).sum())} of this input's {len(s)} excitations in {where} were below "
            "1, so switching SE off scales those channels up and the others down."
        )
    gap_before, gap_after = _logit_gap(logits_before, label), _logit_gap(logits_after, label)
    change = "grows" if gap_after > gap_before else "shrinks"
    confidence = {1: "a more", -1: "a less", 0: "an equally"}[
        int(np.sign(after[label] - before[label]))
    ]
    return (
        f"{scale} The later layers pass the change on to the logits: the lead of {name}'s "
        f"logit over the next class {change} from {gap_before:.1f} to {gap_after:.1f}, and "
        f"softmax turns that into {confidence} confident {name}: "
        f"{format_probability(float(before[label]))} -> "
        f"{format_probability(float(after[label]))}."
        + (
            " A more confident network is not a more accurate one: the test-set accuracy "
            "below tells."
            if after[label] > before[label]
            else ""
        )
    )


def intervention_rows(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The per-block intervention table (percent) from an evaluation record's model summary.

    One row per SE block and one for all blocks at once: test accuracy with the block
    switched off and with its excitation replaced by the test-set mean, and the change
    from the trained model in percentage points. Empty when the record has none (a model
    without SE blocks, or an evaluation saved before they were computed).
    """
    saved = summary.get("se_interventions")
    if not saved:
        return []
    baseline = summary["metrics"]["accuracy"]
    rows = []
    for key in saved["off"]:
        off, mean = saved["off"][key], saved["mean"][key]
        rows.append(
            {
                "SE block": "all blocks" if key == "all" else f"block {se_block_number(key)}",
                "accuracy, SE off (%)": 100 * off,
                "change, SE off (pp)": 100 * (off - baseline),
                "accuracy, mean excitation (%)": 100 * mean,
                "change, mean excitation (pp)": 100 * (mean - baseline),
            }
        )
    return rows
