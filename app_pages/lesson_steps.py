"""The lesson's step-by-step view of one SE block: U, squeeze, FC1 and ReLU, FC2, gate, scale.

Every number drawn is one the model computed (`se_demo.lesson.explain_se_block`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from se_demo.figures.common import block_title
from se_demo.figures.lesson import KEPT_COLOR, SUPPRESSED_COLOR, channel_montage, step_bars
from se_demo.lesson import SEBlockSteps
from se_demo.words import explain, percent

HIGHLIGHTED = 3  # channels framed as most and least kept


def _step(
    title: str,
    formula: str,
    shape: str,
    parameters: str,
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
        st.caption(f"shape {shape} · {parameters}")
        st.markdown(sentence)
    with right:
        st.plotly_chart(figure, key=key, config={"displayModeBar": False})


def show_se_steps(steps: SEBlockSteps, label: str, classes: tuple[str, ...]) -> None:
    """Every step of one SE block on one input: formula, shape, parameters, numbers."""
    c, hidden = steps.channels, len(steps.fc1)
    order = np.argsort(steps.excitation, kind="stable")
    kept = [int(i) for i in order[::-1][:HIGHLIGHTED]]
    cut = [int(i) for i in order[:HIGHLIGHTED]]
    marks = {**dict.fromkeys(kept, KEPT_COLOR), **dict.fromkeys(cut, SUPPRESSED_COLOR)}
    h, w = steps.feature_maps.shape[1:]
    answer = classes[int(np.argmax(steps.probabilities))]
    st.caption(
        f"Following {label} through {block_title(steps.block, c)}; the SENet reads it as "
        f"**{answer}** ({percent(np.max(steps.probabilities))} sure). Every number below is the one the "
        "model computed, read from the block through hooks."
    )
    zmax = float(steps.feature_maps.max())
    _step(
        "0. Feature maps U",
        rf"U = \mathrm{{ReLU}}(\mathrm{{conv}}(\cdot)) \in \mathbb{{R}}^{{{c}\times{h}\times{w}}}",
        f"{c} x {h} x {w}",
        "made by the stage's two convolutions",
        f"The stage's second convolution gives {c} channels, each a {h}x{w} map of where it "
        "found its pattern. The SE block decides how much of each channel to pass on.",
        channel_montage(steps.feature_maps, zmax=zmax, highlight=marks, height=260),
        "lesson_maps",
    )
    squeeze = {
        "mean": r"z_c = \frac{1}{H W}\sum_{i=1}^{H}\sum_{j=1}^{W} u_c(i, j)",
        "sum": r"z_c = \sum_{i=1}^{H}\sum_{j=1}^{W} u_c(i, j)",
        "max": r"z_c = \max_{i, j}\, u_c(i, j)",
    }[steps.squeeze]
    _step(
        "1. Squeeze",
        squeeze,
        f"{c}",
        "0 parameters",
        f"Each map shrinks to one number: how active the channel is over the whole image. "
        f"The block now sees all {c} channels at once, a global summary no 3x3 filter has.",
        step_bars(steps.squeezed, axis_title="channel c: z_c"),
        "lesson_squeeze",
        ("squeeze",),
    )
    _step(
        f"2. Excitation, first layer (FC1, reduction ratio r = {c // hidden}) and ReLU",
        r"\delta(W_1 z + b_1),\; W_1 \in \mathbb{R}^{" + f"{hidden}\\times{c}" + "}",
        f"{c} -> {hidden}",
        f"{steps.parameters['fc1']:,} parameters",
        f"A fully connected layer squeezes the {c} numbers into {hidden} (the reduction ratio "
        f"r = {c // hidden}); ReLU (δ) sets the negative ones (grey) to 0.",
        step_bars(
            steps.fc1,
            axis_title="hidden unit: FC1 output (grey bars below 0 become 0)",
            highlight=dict.fromkeys(np.flatnonzero(steps.relu <= 0), "#c0c4c8"),
            color="#5f6368",
        ),
        "lesson_fc1",
        ("excitation", "reduction ratio"),
    )
    _step(
        "3. Excitation, second layer (FC2)",
        r"W_2\, \delta + b_2,\; W_2 \in \mathbb{R}^{" + f"{c}\\times{hidden}" + "}",
        f"{hidden} -> {c}",
        f"{steps.parameters['fc2']:,} parameters",
        "A second layer maps them back to one number per channel: a score of how useful "
        "the channel is for this input.",
        step_bars(steps.fc2, axis_title="channel c: FC2 output"),
        "lesson_fc2",
    )
    gate = {
        "Sigmoid": r"s = \sigma(\cdot) = \frac{1}{1 + e^{-(\cdot)}}",
        "Tanh": r"s = \tanh(\cdot)",
    }
    _step(
        "4. Gate: the excitations s",
        gate.get(steps.gate, r"s = \mathrm{ReLU}(\cdot)"),
        f"{c}, each in 0..1",
        "0 parameters",
        "The sigmoid squashes each score into 0..1: the channel's weight. Red: the "
        f"{HIGHLIGHTED} channels kept most; blue: the {HIGHLIGHTED} cut most.",
        step_bars(
            steps.excitation, axis_title="channel c: s_c", highlight=marks, value_range=(0, 1)
        ),
        "lesson_gate",
        ("gate",),
    )
    st.markdown("**5. Scale**: every channel is multiplied by its weight")
    st.latex(r"\tilde{x}_c = s_c \cdot u_c")
    st.caption(
        f"shape {c} x {h} x {w} · 0 parameters · on average this input keeps "
        f"{percent(np.mean(steps.excitation))} of each channel of this block"
    )
    before, after = st.columns(2)
    with before:
        st.caption(f"before: U ({c} x {h} x {w})")
        st.plotly_chart(
            channel_montage(steps.feature_maps, zmax=zmax, highlight=marks, height=260),
            key="lesson_before",
            config={"displayModeBar": False},
        )
    with after:
        st.caption("after: s · U, on the same colour scale")
        st.plotly_chart(
            channel_montage(steps.scaled, zmax=zmax, highlight=marks, height=260),
            key="lesson_after",
            config={"displayModeBar": False},
        )
    st.markdown(
        f"Kept most (red frames): channels {', '.join(f'{i} (s = {steps.excitation[i]:.2f})' for i in kept)}. "
        f"Cut most (blue): {', '.join(f'{i} (s = {steps.excitation[i]:.2f})' for i in cut)}. "
        "The next layer sees the right-hand maps: the block has turned some channels down "
        "for this input, and a different input gets different weights."
    )
