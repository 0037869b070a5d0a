"""Draw a digit's SE switch: the same drawing through the SENet as trained and with every
SE gate held at 1, side by side (`se_demo.drawing.answers.se_on_and_off`)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from se_demo.core.checkpoints import Checkpoint
from se_demo.drawing.answers import se_on_and_off
from se_demo.words import explain, percent


def show_se_switch(senet: Checkpoint, digit: np.ndarray) -> None:
    """A switch that shows what the SENet reads for ``digit`` with its SE blocks on and off."""
    with st.container(key="draw_se_switch_box", border=True):
        if not st.toggle(
            "Compare with SE switched off",
            key="draw_se_switch",
            help="Runs the same drawing through the SENet a second time with every SE "
            "block's excitation s held at 1, so every channel passes unchanged. "
            + explain("excitation"),
        ):
            return
        result = se_on_and_off(senet, digit)
        for column, title, answer, key in zip(
            st.columns(2),
            ("SENet, SE on (as trained)", "SENet, SE off (every s = 1)"),
            (result.trained, result.gates_at_one),
            ("draw_se_on", "draw_se_off"),
            strict=True,
        ):
            with column, st.container(key=key):
                st.metric(
                    title,
                    "unsure" if answer.unsure else str(answer.digit),
                    f"{percent(answer.confidence)} sure",
                    delta_color="off",
                    delta_arrow="off",
                )
        st.markdown(result.sentence())
