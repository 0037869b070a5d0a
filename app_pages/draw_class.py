"""The Draw page's "Add your digit": a drawing becomes part of the class's labelled set.

Not a page: `app_pages/draw.py` calls `add_your_digit` under the answers. It imports no
statistics (scikit-learn, SciPy): the Draw page needs torch alone. The app asks
for the digit the class's set needs most, so it stays balanced across 0-9; the student
may say their drawing is another digit. The digit is stored as the models saw it, with
the shipped models' answers (the class page compares those), the SENet's excitations,
the time and this session's anonymous token; nothing else.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from app_pages.resources import MNIST_CHECKPOINTS, class_digits, load_models, load_records
from se_demo.classroom.digits import ClassDigits, DigitRefused, quantize
from se_demo.classroom.queue import new_owner_token
from se_demo.classroom.store import StoreError
from se_demo.drawing.answers import answer_many

ADDED_KEY = "class_added"  # this session's digits in the class's set, oldest first


def _take_back(digits: ClassDigits, session: str) -> None:
    added = st.session_state.get(ADDED_KEY, [])
    if added:
        try:
            digits.take_back(added[-1], session)
        except (DigitRefused, StoreError) as error:
            st.session_state["class_message"] = ("error", f"Not taken back: {error}")
            return
        st.session_state[ADDED_KEY] = added[:-1]
        st.session_state["class_message"] = ("info", "Your last digit was taken back.")


def _add(digits: ClassDigits, digit: np.ndarray, label: int, session: str) -> None:
    load_records(MNIST_CHECKPOINTS)
    pixels = quantize(digit)
    probabilities, excitations = answer_many(load_models(MNIST_CHECKPOINTS), pixels[None])
    try:
        digit_id = digits.add(
            label,
            pixels,
            {m: p[0] for m, p in probabilities.items()},
            {b: e[0] for b, e in excitations.items()},
            session,
        )
    except DigitRefused as error:
        st.session_state["class_message"] = ("error", str(error))
        return
    except StoreError as error:
        st.session_state["class_message"] = (
            "error",
            f"Your digit was not added: {error}. The answers above are not affected.",
        )
        return
    st.session_state[ADDED_KEY] = [*st.session_state.get(ADDED_KEY, []), digit_id]
    st.session_state.pop("class_prompt", None)  # the next drawing asks for what is rarest now
    st.session_state.pop("class_label", None)  # the next digit is labelled afresh
    st.session_state["class_message"] = ("success", f"Added as a {label}: thank you!")


def add_your_digit(digit: np.ndarray) -> None:
    """The box under the answers that adds this drawing to the class's digits."""
    session = st.session_state.setdefault("owner_token", new_owner_token())
    # A fragment: choosing the label and pressing Add rerun this box alone, not the whole
    # page with both models and its charts (a third of the server's work per added digit).
    st.fragment(_add_box)(digit, session)


def _add_box(digit: np.ndarray, session: str) -> None:
    try:
        digits = class_digits()
        if "class_prompt" not in st.session_state:
            st.session_state["class_prompt"] = digits.next_label(session)
    except StoreError as error:
        st.caption(f"Adding digits to our class's set is off for now: {error}.")
        return
    prompt = int(st.session_state["class_prompt"])
    with st.container(border=True, key="class_add_box"):
        st.markdown(
            f"**Add it to our class's digits.** The class needs a **{prompt}** most: draw "
            "one, or add any digit you drew. Which digit is it?"
        )
        label = st.segmented_control(
            "Your digit", list(range(10)), key="class_label", label_visibility="collapsed"
        )
        add, back = st.columns(2)
        add.button(
            "Add my digit",
            key="class_add",
            icon=":material/add_circle:",
            disabled=label is None,
            on_click=_add,
            args=(digits, digit, int(label or 0), session),
        )
        if st.session_state.get(ADDED_KEY):
            back.button("Take back my last", key="class_take_back", on_click=_take_back,
                        args=(digits, session))  # fmt: skip
        message = st.session_state.pop("class_message", None)
        if message is not None:
            tone, text = message
            {"error": st.error, "info": st.info, "success": st.success}[tone](text)
