"""Draw a digit (or upload a photo of one): both models answer after every stroke."""

from __future__ import annotations

import numpy as np
import streamlit as st
from streamlit_drawable_canvas import st_canvas

from app_pages.resources import load_models, load_results
from se_demo.answers import UNSURE_BELOW, answer_both
from se_demo.checkpoints import CheckpointError
from se_demo.config import MNIST_MEAN, MNIST_STD
from se_demo.excitation import class_means
from se_demo.plots import digit_pixels, excitation_bars, probability_bars
from se_demo.preprocess import (
    MAX_UPLOAD_BYTES,
    ImageRejectedError,
    drawing_to_mnist,
    upload_to_mnist,
)
from se_demo.results import MODEL_TITLES

CANVAS_SIZE = 280  # ten canvas pixels per MNIST pixel
DEFAULT_STROKE = 20  # a digit drawn across most of the canvas gets MNIST's 2-3 px strokes
DRAW, UPLOAD = "Draw", "Upload an image"
PROMPT = "Draw a digit from 0 to 9 on the black canvas; both models answer when you lift the mouse."


@st.cache_data(show_spinner=False)
def _class_mean_excitations() -> dict[str, np.ndarray]:
    """The SENet's mean excitation per digit on the MNIST test set: {block: (10, C)}."""
    results = load_results()
    return {
        block: class_means(values, results.labels)
        for block, values in results.excitations["senet"].items()
    }


def _clear_canvas() -> None:
    # A new key gives a fresh, empty canvas (the component has no clear call).
    st.session_state["draw_canvas_generation"] = (
        st.session_state.get("draw_canvas_generation", 0) + 1
    )
    st.session_state.pop("current_drawing", None)


st.title("Draw a digit")
st.caption(
    "Both shipped MNIST models (whatever dataset the sidebar shows) classify your digit live. "
    "It is first preprocessed the way MNIST's digits were; the 28x28 image on the right is "
    "exactly what the models see."
)
try:
    models = {name: model for name, (model, _) in load_models().items()}
except CheckpointError as error:
    st.error(f"The shipped MNIST models could not be loaded: {error}")
    st.stop()

source = st.segmented_control(
    "Input", [DRAW, UPLOAD], default=DRAW, key="draw_source", on_change=_clear_canvas
)
left, right = st.columns([3, 2], gap="large")
digit: np.ndarray | None = None
with left:
    if source == UPLOAD:
        upload = st.file_uploader(
            "A photo or scan of one handwritten digit (dark on light is inverted automatically)",
            type=["png", "jpg", "jpeg"],
            key="draw_upload",
            max_upload_size=MAX_UPLOAD_BYTES // 2**20,
        )
        if upload is not None:
            try:
                digit = upload_to_mnist(upload.getvalue())
            except ImageRejectedError as error:
                st.error(f"{upload.name}: {error}")
    else:
        stroke = st.slider(
            "Stroke width", 5, 40, DEFAULT_STROKE, key="draw_stroke_width", help="canvas pixels"
        )
        canvas = st_canvas(
            stroke_width=stroke,
            stroke_color="#FFFFFF",
            background_color="#000000",
            height=CANVAS_SIZE,
            width=CANVAS_SIZE,
            drawing_mode="freedraw",
            return_image_data=True,
            key=f"draw_canvas_{st.session_state.get('draw_canvas_generation', 0)}",
        )
        st.button("Clear", key="draw_clear", on_click=_clear_canvas, icon="🧽")
        digit = drawing_to_mnist(canvas.image_data)

if digit is None:
    st.session_state.pop("current_drawing", None)
    with right:
        st.info(PROMPT if source != UPLOAD else "Upload a PNG or JPEG of a handwritten digit.")
    st.stop()

st.session_state["current_drawing"] = digit
answers = answer_both(models, digit)
with right:
    st.markdown("**What the models see** (28x28)")
    st.plotly_chart(digit_pixels(digit), key="draw_pixels", config={"displayModeBar": False})

if answers.warning:
    st.warning(answers.warning)
columns = st.columns(len(answers.models))
for column, (name, answer) in zip(columns, answers.models.items(), strict=True):
    with column, st.container(key=f"draw_answer_{name}", border=True):
        st.metric(
            MODEL_TITLES[name],
            "unsure" if answer.unsure else str(answer.digit),
            help=f"Below {UNSURE_BELOW:.0%} top probability a model is called unsure.",
        )
        st.markdown(answer.sentence())
with st.container(key="draw_verdict"):
    if answers.disagree:
        st.warning(answers.verdict())
    elif any(answer.unsure for answer in answers.models.values()):
        st.info(answers.verdict())
    else:
        st.success(answers.verdict())

st.plotly_chart(
    probability_bars(
        {name: answer.probabilities for name, answer in answers.models.items()},
        titles=MODEL_TITLES,
        threshold=UNSURE_BELOW,
    ),
    key="draw_probabilities",
)

with st.expander("SE excitation of this input", expanded=True):
    predicted = answers.models["senet"].digit
    st.caption(
        "How strongly each SE block of the SENet keeps each channel for this input "
        f"(1: keep, 0: suppress); the markers show the mean over the MNIST test images of "
        f"the digit it reads ({predicted}). The SE excitation page explores them in depth."
    )
    class_mean = {block: means[predicted] for block, means in _class_mean_excitations().items()}
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
        f"5. Pixels are normalised with MNIST's mean {MNIST_MEAN} and standard deviation "
        f"{MNIST_STD}, exactly as in training."
    )
