"""Both models' scores on the class's own digits, as the class page and the Training lab
show them. Not a page."""

from __future__ import annotations

import streamlit as st

from se_demo.classroom.digit_stats import ClassReport
from se_demo.core.registry import MODEL_KINDS, MODEL_TITLES
from se_demo.words import percent


def score_metrics(report: ClassReport, mnist: dict[str, float], title: str) -> None:
    """Each model's accuracy on the class's digits as a big number, its difference from
    its MNIST test accuracy (``mnist``) as the delta, the Wilson interval on hover.
    ``title`` names the models: "{model} on our digits"."""
    for column, name in zip(st.columns(len(MODEL_KINDS)), MODEL_KINDS, strict=True):
        score = report.scores[name]
        low, high = score.interval
        column.metric(
            title.format(model=MODEL_TITLES[name]),
            percent(score.accuracy, 1),
            f"{100 * (score.accuracy - mnist[name]):+.1f} pp vs its MNIST test accuracy",
            help=f"95 % Wilson interval {percent(low, 1)} to {percent(high, 1)}; "
            f"{percent(mnist[name], 2)} on MNIST's 10,000 test digits",
        )
