"""The lesson's step-by-step view of one SE block: U, squeeze, FC1 and ReLU, FC2, gate, scale.

Every number drawn is one the model computed (`se_demo.analysis.lesson.explain_se_block`). In
presenter mode the steps come one at a time, with Back and Next buttons (and the arrow
keys), instead of five screens of scrolling.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import streamlit as st

from se_demo.analysis.lesson import SEBlockSteps, cut_bright_channel, why_cut
from se_demo.figures.common import block_title
from se_demo.figures.lesson import (
    KEPT_COLOR,
    SUPPRESSED_COLOR,
    channel_montage,
    class_mean_bars,
    step_bars,
)
from se_demo.words import explain, percent

HIGHLIGHTED = 3  # channels framed as most and least kept
STEP_KEY = "lesson_step"  # the presenter's current step, 0-based
_PLOT = {"displayModeBar": False}
# A formula wider than its column scrolls (KaTeX's own overflow: auto), which a keyboard
# can only do once the formula takes focus: every scrolling one gets a tab stop. The padding
# holds KaTeX's few pixels of depth below the baseline, which otherwise scroll too.
_FOCUSABLE_FORMULAS = """<style>.katex-display { padding: 0.25em 0; }</style>
<script>
(() => {
  if (window.seDemoFormulaTabStops) return;
  window.seDemoFormulaTabStops = true;
  const mark = () => document.querySelectorAll(".katex-display").forEach((el) => {
    if (el.scrollWidth > el.clientWidth || el.scrollHeight > el.clientHeight) el.tabIndex = 0;
    else el.removeAttribute("tabindex");
  });
  new MutationObserver(mark).observe(document.body, { childList: true, subtree: true });
  window.addEventListener("resize", mark);
  mark();
})();
</script>"""


@dataclass(frozen=True)
class _Block:
    """One SE block's steps on one input, with what every step's view shares."""

    steps: SEBlockSteps
    kept: list[int]  # the channels kept most
    cut: list[int]  # the channels cut most
    classes: tuple[str, ...]
    class_means: np.ndarray | None  # (classes, C) the block's test-set mean s per class
    large: bool = False  # one step fills the screen (presenter mode): larger charts

    @property
    def marks(self) -> dict[int, str]:
        return {**dict.fromkeys(self.kept, KEPT_COLOR), **dict.fromkeys(self.cut, SUPPRESSED_COLOR)}

    @property
    def zmax(self) -> float:
        return float(self.steps.feature_maps.max())

    def montage(self, maps: np.ndarray) -> Any:
        return channel_montage(
            maps, zmax=self.zmax, highlight=self.marks, height=420 if self.large else 260
        )

    def bars(self, values: np.ndarray, **kwargs: Any) -> Any:
        return step_bars(values, height=320 if self.large else 170, **kwargs)


def _step(
    title: str,
    formula: str,
    facts: str,
    sentence: str,
    figure: Any,
    key: str,
    terms: tuple[str, ...] = (),
) -> None:
    """One step of the block: its formula and facts on the left, its numbers on the right.

    ``terms``: glossary terms the step introduces, explained in the title's help.
    """
    left, right = st.columns([2, 3], vertical_alignment="center")
    with left:
        st.markdown(f"**{title}**", help=explain(*terms) if terms else None)
        st.latex(formula)
        st.caption(facts)
        st.markdown(sentence)
    with right:
        st.plotly_chart(figure, key=key, config=_PLOT)


def _feature_maps(block: _Block) -> None:
    s = block.steps
    c, (h, w) = s.channels, s.feature_maps.shape[1:]
    _step(
        "0. Feature maps U",
        rf"U = \mathrm{{ReLU}}(\mathrm{{conv}}(\cdot)) \in \mathbb{{R}}^{{{c}\times{h}\times{w}}}",
        f"shape {c} x {h} x {w} · made by the stage's two convolutions",
        f"The stage's second convolution gives {c} channels, each a {h}x{w} map of where it "
        "found its pattern (numbered in the grid). The SE block decides how much of each "
        "channel to pass on.",
        block.montage(s.feature_maps),
        "lesson_maps",
    )


def _squeeze(block: _Block) -> None:
    s, c = block.steps, block.steps.channels
    formula = {
        "mean": r"z_c = \frac{1}{H W}\sum_{i=1}^{H}\sum_{j=1}^{W} u_c(i, j)",
        "sum": r"z_c = \sum_{i=1}^{H}\sum_{j=1}^{W} u_c(i, j)",
        "max": r"z_c = \max_{i, j}\, u_c(i, j)",
    }[s.squeeze]
    _step(
        "1. Squeeze",
        formula,
        f"shape {c} · 0 parameters",
        f"Each map shrinks to one number: how active the channel is over the whole image. "
        f"The block now sees all {c} channels at once, a global summary no 3x3 filter has.",
        block.bars(s.squeezed, axis_title="channel c: z_c"),
        "lesson_squeeze",
        ("squeeze",),
    )


def _fc1(block: _Block) -> None:
    s, c, hidden = block.steps, block.steps.channels, len(block.steps.fc1)
    _step(
        f"2. Excitation, first layer (FC1, reduction ratio r = {c // hidden}) and ReLU",
        r"\delta(W_1 z + b_1),\; W_1 \in \mathbb{R}^{" + f"{hidden}\\times{c}" + "}",
        f"shape {c} -> {hidden} · {s.parameters['fc1']:,} parameters",
        f"A fully connected layer maps the {c} numbers to {hidden}, a bottleneck r = "
        f"{c // hidden} times narrower, where every unit mixes all channels; ReLU (δ) sets "
        "the negative ones (grey) to 0.",
        block.bars(
            s.fc1,
            axis_title="hidden unit: FC1 output (grey bars below 0 become 0)",
            highlight=dict.fromkeys(np.flatnonzero(s.relu <= 0), "#c0c4c8"),
            color="#5f6368",
        ),
        "lesson_fc1",
        ("excitation", "reduction ratio"),
    )


def _fc2(block: _Block) -> None:
    s, c, hidden = block.steps, block.steps.channels, len(block.steps.fc1)
    _step(
        "3. Excitation, second layer (FC2)",
        r"W_2\, \delta(W_1 z + b_1) + b_2,\; W_2 \in \mathbb{R}^{" + f"{c}\\times{hidden}" + "}",
        f"shape {hidden} -> {c} · {s.parameters['fc2']:,} parameters",
        "A second layer maps them back to one number per channel: a score of how useful "
        "the channel is for this input.",
        block.bars(s.fc2, axis_title="channel c: FC2 output"),
        "lesson_fc2",
    )


def _gate(block: _Block) -> None:
    s = block.steps
    formula = {
        "Sigmoid": r"s = \sigma(\cdot) = \frac{1}{1 + e^{-(\cdot)}}",
        "Tanh": r"s = \tanh(\cdot)",
    }.get(s.gate, r"s = \mathrm{ReLU}(\cdot)")
    _step(
        "4. Gate: the excitations s",
        formula,
        f"shape {s.channels}, each in 0..1 · 0 parameters",
        "The sigmoid squashes each score into 0..1: the channel's weight s. Red: the "
        f"{HIGHLIGHTED} channels kept most; blue: the {HIGHLIGHTED} cut most.",
        block.bars(
            s.excitation, axis_title="channel c: s_c", highlight=block.marks, value_range=(0, 1)
        ),
        "lesson_gate",
        ("gate",),
    )


def _scale(block: _Block) -> None:
    s = block.steps
    c, (h, w) = s.channels, s.feature_maps.shape[1:]
    st.markdown("**5. Scale**: every channel is multiplied by its weight")
    st.latex(r"\tilde{x}_c = s_c \cdot u_c")
    st.caption(
        f"shape {c} x {h} x {w} · 0 parameters · on average this input keeps "
        f"{percent(np.mean(s.excitation))} of each channel of this block"
    )
    before, after = st.columns(2)
    with before:
        st.caption(f"before: U ({c} x {h} x {w})")
        st.plotly_chart(block.montage(s.feature_maps), key="lesson_before", config=_PLOT)
    with after:
        st.caption("after: s · U, on the same colour scale")
        st.plotly_chart(block.montage(s.scaled), key="lesson_after", config=_PLOT)
    listed = {
        name: ", ".join(f"{i} (s = {s.excitation[i]:.2f})" for i in channels)
        for name, channels in (("kept", block.kept), ("cut", block.cut))
    }
    st.markdown(
        f"Kept most (red frames): channels {listed['kept']}. Cut most (blue): {listed['cut']}. "
        "The next layer sees the right-hand maps: the block has turned some channels down "
        "for this input, and a different input gets different weights."
    )


def _why_cut(block: _Block) -> None:
    s, means = block.steps, block.class_means
    assert means is not None  # the step is only offered with the class means
    channel = cut_bright_channel(s)
    left, right = st.columns([2, 3], vertical_alignment="center")
    with left:
        st.markdown("**6. Why a bright map can be cut**", help=explain("excitation"))
        st.markdown(why_cut(s, means, block.classes))
    with right:
        figure = class_mean_bars(
            means[:, channel],
            block.classes,
            channel=channel,
            highlight=int(np.argmax(s.probabilities)),
            height=320 if block.large else 200,
        )
        st.plotly_chart(figure, key="lesson_why", config=_PLOT)


Step = tuple[str, Callable[[_Block], None]]
STEPS: tuple[Step, ...] = (
    ("Feature maps U", _feature_maps),
    ("Squeeze", _squeeze),
    ("FC1 and ReLU", _fc1),
    ("FC2", _fc2),
    ("Gate s", _gate),
    ("Scale", _scale),
)
WHY_CUT: Step = ("Why a bright map can be cut", _why_cut)


def _move(by: int, count: int) -> None:
    st.session_state[STEP_KEY] = min(max(st.session_state.get(STEP_KEY, 0) + by, 0), count - 1)


def _stepper(steps: Sequence[Step]) -> int:
    """Back and Next (also the left and right arrow keys); returns the step to show."""
    current = min(max(int(st.session_state.get(STEP_KEY, 0)), 0), len(steps) - 1)
    with st.container(horizontal=True, vertical_alignment="center", key="lesson_stepper"):
        st.button(
            "Back", key="lesson_back", icon=":material/arrow_back:", shortcut="Left",
            disabled=current == 0, on_click=_move, args=(-1, len(steps)),
        )  # fmt: skip
        st.button(
            "Next", key="lesson_next", icon=":material/arrow_forward:", shortcut="Right",
            disabled=current == len(steps) - 1, on_click=_move, args=(1, len(steps)),
            type="primary",
        )  # fmt: skip
        with st.container(key="lesson_step_label", width="content"):
            st.markdown(f"**Step {current + 1} of {len(steps)}**: {steps[current][0]}")
    return current


def show_se_steps(
    steps: SEBlockSteps,
    label: str,
    classes: tuple[str, ...],
    *,
    class_means: np.ndarray | None = None,
    one_at_a_time: bool = False,
) -> None:
    """Every step of one SE block on one input: formula, shape, parameters, numbers.

    ``class_means``: the block's test-set mean excitation per class (classes, C); with
    them a last step says why a bright map is cut. ``one_at_a_time``: show one step with
    Back / Next (presenter mode).
    """
    order = np.argsort(steps.excitation, kind="stable")
    block = _Block(
        steps,
        kept=[int(i) for i in order[::-1][:HIGHLIGHTED]],
        cut=[int(i) for i in order[:HIGHLIGHTED]],
        classes=classes,
        class_means=class_means,
        large=one_at_a_time,
    )
    answer = classes[int(np.argmax(steps.probabilities))]
    st.html(_FOCUSABLE_FORMULAS, unsafe_allow_javascript=True)
    st.caption(
        f"Following {label} through {block_title(steps.block, steps.channels)}; the SENet "
        f"reads it as **{answer}** ({percent(np.max(steps.probabilities))} sure). Every "
        "number below is the one the model computed, read from the block through hooks."
    )
    steps_shown = (*STEPS, WHY_CUT) if class_means is not None else STEPS
    if one_at_a_time:
        steps_shown[_stepper(steps_shown)][1](block)
        return
    for _, show in steps_shown:
        show(block)
