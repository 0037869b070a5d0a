"""A lab run shown instead of the shipped models: the way back to the shipped models, and
what a page says when it has nothing for the run.

The Training lab selects a run (``st.session_state["model_dir"]``); every other page
either shows that run or says so in one sentence and offers this way back.
"""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import streamlit as st

BACK_LABEL = "Show the shipped models"


def selected_run() -> Path | None:
    """The lab run this session shows instead of the shipped models, if any."""
    chosen = st.session_state.get("model_dir")
    return Path(chosen) if chosen else None


def _show_shipped() -> None:
    st.session_state["model_dir"] = None


def back_to_shipped_button(key: str) -> None:
    """A button that puts the shipped models back on every page."""
    st.button(BACK_LABEL, key=key, on_click=_show_shipped, icon=":material/undo:")


def nothing_for_the_run(sentence: str, key: str) -> NoReturn:
    """Say in ``sentence`` that this page has nothing for the selected run, offer the way
    back to the shipped models, and end the page there.
    """
    st.info(sentence, icon=":material/info:")
    back_to_shipped_button(key)
    st.stop()
