"""Draw a digit (or upload a photo of one): both models answer after every stroke.

Layout for a projector: the canvas, both answers and the 28x28 view share one row, so a
1280x720 screen shows all three without scrolling; on a phone the columns stack in that
order, with the two answers side by side, so both are in view right after drawing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st
from streamlit_drawable_canvas import st_canvas

from app_pages.draw_canvas import CANVAS_KEY, CANVAS_SIZE, DEFAULT_STROKE, PROMPT
from app_pages.draw_class import add_your_digit
from app_pages.draw_se_switch import show_se_switch
from app_pages.presentation import presenter_mode
from app_pages.resources import active_dataset, load_class_means, load_models
from app_pages.run_choice import back_to_shipped_button, selected_run
from se_demo.analysis.verdicts import undertrained_note
from se_demo.core.checkpoints import Checkpoint, CheckpointError
from se_demo.core.config import CHECKPOINT_DIR
from se_demo.core.registry import DATASETS, MODEL_TITLES, DatasetName, ModelKind, dataset_info
from se_demo.drawing.answers import UNSURE_BELOW, Answers, answer_both
from se_demo.drawing.preprocess import (
    MAX_TRANSFER_BYTES,
    MAX_UPLOAD_BYTES,
    ImageRejectedError,
    drawing_problem,
    drawing_to_mnist,
    image_to_ink,
    ink_to_mnist,
    open_upload,
    preview,
)
from se_demo.figures.draw import digit_pixels, excitation_bars, probability_bars
from se_demo.robustness.stress import stress_digit
from se_demo.words import explain, percent

DRAW, UPLOAD = "Draw", "Upload an image"
SHIPPED = "Shipped models"
MNIST_CHECKPOINTS = CHECKPOINT_DIR / DatasetName.MNIST
PAGE_CSS = Path(__file__).with_name("draw.css")  # its layout rules, on a phone too
# Removes the previous upload when the browser refuses a new one (it would keep answering).
UPLOAD_GUARD = Path(__file__).with_name("draw_upload_guard.html")
# The stress sliders: label, range and step, and their resting value (no stress).
STRESS_SLIDERS: dict[str, tuple[str, float, float, float, float]] = {
    "stress_rotation": ("rotate (degrees)", -90, 90, 5, 0),
    "stress_noise": ("noise (standard deviation)", 0.0, 0.6, 0.05, 0.0),
    "stress_blur": ("blur (pixels)", 0.0, 2.0, 0.25, 0.0),
    "stress_right": ("shift right (pixels)", -8, 8, 1, 0),
    "stress_down": ("shift down (pixels)", -8, 8, 1, 0),
}


def _clear_canvas() -> None:
    # A new key gives a fresh, empty canvas (the component has no clear call).
    st.session_state["draw_canvas_generation"] = (
        st.session_state.get("draw_canvas_generation", 0) + 1
    )
    for key in ("current_drawing", "draw_strokes", "draw_restored_strokes"):
        st.session_state.pop(key, None)
    # A fresh start: no stress either (the sliders show, and the models see, none).
    st.session_state.update({key: slider[4] for key, slider in STRESS_SLIDERS.items()})


def _choose_models(run: Path) -> Path:
    """The shipped MNIST models or the MNIST lab run the session selected (its default)."""
    choice = st.segmented_control(
        "Models",
        [SHIPPED, run.name],
        default=run.name,
        format_func=lambda option: option if option == SHIPPED else "Lab run",
        key="draw_models",
        help=f"Lab run: {run.name}, selected in the Training lab.",
    )
    return run if choice == run.name else MNIST_CHECKPOINTS


def _undertrained_line(records: dict[str, dict[str, Any]]) -> None:
    """One short line when the run's models are undertrained; the reasons in its help."""
    accuracies: dict[str, float] = {}
    notes: dict[str, str] = {}
    for name, record in records.items():
        accuracy = (record.get("test_metrics") or {}).get("accuracy")
        note = undertrained_note(record, accuracy, DatasetName.MNIST) if accuracy else None
        if accuracy and note:
            accuracies[name], notes[name] = float(accuracy), note
    if notes:
        scores = ", ".join(f"{MODEL_TITLES[n]} {percent(a, 1)}" for n, a in accuracies.items())
        st.caption(
            f":orange[:material/warning: Undertrained run: {scores} test accuracy]",
            help="\n\n".join(f"**{MODEL_TITLES[n]}**: {note}" for n, note in notes.items()),
        )


def _canvas_key() -> str:
    """The canvas's key; a fresh one (restoring the saved strokes) after a page switch."""
    generation = st.session_state.get("draw_canvas_generation", 0)
    key = f"{CANVAS_KEY}{generation}"
    if st.session_state.get("arrived_on_page") and st.session_state.get("draw_strokes"):
        # Back from another page: a new canvas, showing what was drawn before.
        st.session_state["draw_canvas_generation"] = generation + 1
        st.session_state["draw_restored_strokes"] = st.session_state["draw_strokes"]
        key = f"{CANVAS_KEY}{generation + 1}"
    return key


def _draw(stroke: int) -> tuple[np.ndarray | None, str | None]:
    """The canvas and its Clear button: the drawn digit (28, 28), or a reason there is none."""
    key = _canvas_key()  # before reading the strokes it may restore
    with st.container(key="draw_canvas_box"):
        canvas = st_canvas(
            stroke_width=stroke,
            stroke_color="#FFFFFF",
            background_color="#000000",
            height=CANVAS_SIZE,
            width=CANVAS_SIZE,
            drawing_mode="freedraw",
            initial_drawing=st.session_state.get("draw_restored_strokes"),
            return_image_data=True,
            key=key,
        )
    st.button("Clear", key="draw_clear", on_click=_clear_canvas, icon=":material/ink_eraser:")
    if canvas.image_data is None:  # just (re)mounted: the drawing of this session, if any
        return st.session_state.get("current_drawing"), None
    if canvas.json_data and canvas.json_data.get("objects"):
        st.session_state["draw_strokes"] = canvas.json_data
    problem = drawing_problem(canvas.image_data)
    if problem is not None:
        return None, problem
    return drawing_to_mnist(canvas.image_data), None


def _upload() -> tuple[np.ndarray | None, str | None]:
    """The file uploader and the photo: its digit (28, 28), or a reason there is none."""
    # No type filter and a transfer limit above the accepted size: a file the browser
    # refused would only say why on hover and leave the previous answer standing, so
    # `open_upload` checks the type and size here and the page says why.
    upload = st.file_uploader(
        "A photo or scan of one handwritten digit, PNG or JPEG up to "
        f"{MAX_UPLOAD_BYTES // 2**20} MB (dark on light is inverted automatically)",
        key="draw_upload",
        max_upload_size=MAX_TRANSFER_BYTES // 2**20,
    )
    st.html(UPLOAD_GUARD, unsafe_allow_javascript=True)
    if upload is None:
        return None, None
    try:
        photo = open_upload(upload.getvalue())  # checked before any heavy decoding
    except ImageRejectedError as error:
        st.error(f"{upload.name}: {error}", icon=":material/block:")
        return None, None
    digit = ink_to_mnist(image_to_ink(photo))
    st.image(preview(photo), caption=f"your photo: {upload.name}", width=200)
    if digit is None:
        return None, (
            f"No digit found in {upload.name}: the image looks blank (no ink that stands out "
            "from the paper). Photograph a digit written with a dark pen, filling the frame."
        )
    return digit, None


def _stress_sliders() -> dict[str, float]:
    """Sliders that rotate, blur, shift and add noise to the digit: {key: value}.

    They are on the page on every run, with or without a digit: a slider that leaves the
    page loses its value on the server while the browser may still send it back, and
    then the models would see a stress the slider no longer shows.
    """
    values = {}
    with st.expander("Stress it", icon=":material/tune:"):
        for key, (label, low, high, step, rest) in STRESS_SLIDERS.items():
            st.session_state.setdefault(key, rest)  # the value lives in the state, set once
            values[key] = st.slider(label, low, high, step=step, key=key)
    return values


def _stressed(digit: np.ndarray, stress: dict[str, float]) -> np.ndarray:
    """The digit as the stress sliders change it: what the models see."""
    return stress_digit(
        digit,
        rotation_deg=stress["stress_rotation"],
        noise=stress["stress_noise"],
        blur=stress["stress_blur"],
        shift_px=(int(stress["stress_right"]), int(stress["stress_down"])),
    )


def _show_answers(answers: Answers) -> None:
    with st.container(key="draw_answers"):  # side by side on a phone
        for name, answer in answers.models.items():
            with st.container(key=f"draw_answer_{name}", border=True):
                st.metric(
                    MODEL_TITLES[name],
                    "unsure" if answer.unsure else str(answer.digit),
                    help=f"Below {percent(UNSURE_BELOW)} top probability a model is called unsure.",
                )
                st.markdown(answer.sentence())
    with st.container(key="draw_verdict"):
        if answers.disagree:
            st.warning(answers.verdict())
        elif any(answer.unsure for answer in answers.models.values()):
            st.info(answers.verdict())
        else:
            st.success(answers.verdict())


def _details(answers: Answers, directory: Path, presenter: bool) -> None:
    """Below the fold: probabilities, excitations and how a drawing is preprocessed."""
    st.plotly_chart(
        probability_bars(
            {name: answer.probabilities for name, answer in answers.models.items()},
            titles=MODEL_TITLES,
            threshold=UNSURE_BELOW,
        ),
        key="draw_probabilities",
    )
    with st.expander(
        "Inside the SENet: what it kept of each channel for this input", expanded=not presenter
    ):
        predicted = answers.models[ModelKind.SENET].digit
        st.caption(
            "How strongly each SE block of the SENet keeps each channel for this input, its "
            "excitation (1: keep, 0: suppress); the markers show the mean over the MNIST test "
            f"images of the digit it reads ({predicted}). What SE learned explores them in depth.",
            help=explain("SE block", "excitation"),
        )
        means = load_class_means(directory)
        class_mean = {block: values[predicted] for block, values in means.items()}
        st.plotly_chart(
            excitation_bars(
                answers.excitations, class_mean, reference_label=f"test-set mean of {predicted}s"
            ),
            key="draw_excitation",
        )
    with st.expander("How a drawing becomes an MNIST digit"):
        st.markdown(
            "1. The canvas (or the photo, inverted if it is dark ink on light paper) becomes a "
            "grey image with bright ink.\n"
            "2. It is cropped to the ink's bounding box.\n"
            "3. The longer side is scaled to 20 pixels, keeping the aspect ratio, with "
            "anti-aliasing; as in MNIST, the strongest pixel becomes full ink.\n"
            "4. The 20-pixel digit is placed in a 28x28 field so that its centre of mass lands "
            "at the centre, as LeCun et al. did for MNIST.\n"
            f"5. Pixels are normalised with MNIST's mean {DATASETS[DatasetName.MNIST].mean} and standard deviation "
            f"{DATASETS[DatasetName.MNIST].std}, exactly as in training."
        )


def _intro() -> Path | None:
    """The title and what the page does; the MNIST lab run this session selected, if any."""
    st.title("Draw a digit")
    dataset = active_dataset()
    run = selected_run()
    if dataset != DatasetName.MNIST:  # said in presenter mode too: the sidebar says otherwise
        unused = (
            f"; the {dataset_info(dataset).title} run {run.name} is not used here" if run else ""
        )
        st.caption(
            ":material/info: Draw always uses the MNIST models (digits 0 to 9), whatever "
            f"dataset the sidebar shows{unused}."
        )
        if run:
            back_to_shipped_button("draw_back_to_shipped")
        return None
    if not presenter_mode():
        with st.container(key="draw_intro"):
            st.caption(
                "Both MNIST models classify your digit live. It is first preprocessed the way "
                "MNIST's digits were; the 28x28 image is exactly what the models see."
            )
    return run


def _top_row(run: Path | None) -> tuple[str | None, Path, int]:
    """The input (drawing or upload), the models (with a lab run) and the stroke width."""
    st.html(PAGE_CSS)
    # One row on a phone too (draw.css), unless a run's models need a third control in it.
    top_row = st.container(key="draw_top_run" if run else "draw_top")
    top = top_row.columns(3 if run else 2, vertical_alignment="bottom")
    with top[0]:
        source = st.segmented_control(
            "Input", [DRAW, UPLOAD], default=DRAW, key="draw_source", on_change=_clear_canvas
        )
    directory = MNIST_CHECKPOINTS
    if run:
        with top[1]:
            directory = _choose_models(run)
    stroke = DEFAULT_STROKE
    if source != UPLOAD:
        with top[-1]:
            stroke = st.slider(
                "Stroke width", 5, 40, DEFAULT_STROKE, key="draw_stroke_width", help="canvas pixels"
            )
    return source, directory, stroke


def _models(directory: Path) -> dict[str, Checkpoint]:
    """Both MNIST models of ``directory``; the page ends if they cannot be loaded."""
    try:
        loaded = load_models(directory)
    except CheckpointError as error:
        st.error(f"The MNIST models in '{directory}' could not be loaded: {error}")
        st.stop()
    if directory != MNIST_CHECKPOINTS:
        _undertrained_line({name: checkpoint.record for name, checkpoint in loaded.items()})
    return loaded


def main() -> None:
    """The Draw page: the input row, then the canvas, both answers and what the models see."""
    run = _intro()
    source, directory, stroke = _top_row(run)
    models = _models(directory)
    canvas_column, answer_column, view_column = st.columns([5, 4, 3], gap="medium")
    with canvas_column:
        digit, problem = _upload() if source == UPLOAD else _draw(stroke)
    with view_column:
        picture = st.container()
        stress = _stress_sliders()
    if digit is None:
        st.session_state.pop("current_drawing", None)
        with answer_column:
            if problem:
                st.warning(problem, icon=":material/draw:")
            else:
                st.info(
                    PROMPT if source != UPLOAD else "Upload a PNG or JPEG of a handwritten digit."
                )
        return
    st.session_state["current_drawing"] = digit
    seen = _stressed(digit, stress)
    answers = answer_both(models, seen)
    with answer_column:
        _show_answers(answers)
        if answers.warning:
            st.warning(answers.warning)
        add_your_digit(seen)
    with picture:
        st.markdown("**What the models see** (28x28)")
        st.plotly_chart(
            digit_pixels(seen, height=200), key="draw_pixels", config={"displayModeBar": False}
        )
    _details(answers, directory, presenter_mode())
    show_se_switch(models[ModelKind.SENET], seen)


main()
