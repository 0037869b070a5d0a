"""Our class's digits: how both shipped models read the room's own handwriting, live.

Made for the projector: it refreshes itself while the class draws (no reload). Students
add digits on the Draw page; the lecturer (with the key) deletes digits, archives the set
and starts a new one, or reopens an archived set.
"""

from __future__ import annotations

import os

import numpy as np
import segno
import streamlit as st

from app_pages.class_scores import score_metrics
from app_pages.presentation import presenter_mode
from app_pages.resources import MNIST_CHECKPOINTS, class_digits, load_class_means, load_results
from se_demo.analysis.results import Evaluation, prediction_lines
from se_demo.classroom.digit_files import export_files, zipped
from se_demo.classroom.digit_stats import (
    ClassReport,
    class_report,
    class_verdict,
    excitation_profiles,
)
from se_demo.classroom.digits import ClassDigitArrays, ClassDigits
from se_demo.classroom.store import StoreError
from se_demo.core.registry import MODEL_KINDS, MODEL_TITLES, ModelKind
from se_demo.figures.class_digits import excitation_comparison, label_counts
from se_demo.figures.common import pixels_png
from se_demo.figures.confusion import confusion_difference_heatmap, confusion_heatmaps
from se_demo.words import percent

REFRESH_S = 2.0
PUBLIC_URL_ENV_VAR = "SE_DEMO_PUBLIC_URL"  # the address students type, if not this page's
GALLERY_LIMIT, GALLERY_COLUMNS = 24, 8
DIGIT_SCALE = 3  # the class's digits at 84 px, a little smaller than the test images elsewhere
DIGITS = [str(d) for d in range(10)]


def join_address() -> str:
    """Where students draw: ``$SE_DEMO_PUBLIC_URL``, else this page's own address."""
    base = os.environ.get(PUBLIC_URL_ENV_VAR)
    if not base:
        url = st.context.url or "http://localhost:8501/"
        base = url.split("?", 1)[0].rsplit("/", 1)[0]
    return f"{base.rstrip('/')}/draw"


def _join_panel(report: ClassReport) -> None:
    address = join_address()
    qr, numbers = st.columns([1, 3], vertical_alignment="center")
    with qr:
        image = segno.make(address, error="m").png_data_uri(scale=5, border=2)
        st.image(image, width=160, alt=f"QR code of {address}")
        st.markdown(f"Join: `{address}`")
    with numbers:
        left, right = st.columns(2)
        left.metric("Digits drawn", f"{report.count:,}")
        right.metric("Students", f"{report.students:,}", help="distinct browser sessions")
        st.plotly_chart(label_counts(report.per_label), key="class_label_counts",
                        config={"displayModeBar": False})  # fmt: skip


def _scores(report: ClassReport) -> None:
    shipped = load_results(MNIST_CHECKPOINTS).record["models"]
    score_metrics(report, {m: shipped[m]["metrics"]["accuracy"] for m in MODEL_KINDS},
                  "{model} on our digits")  # fmt: skip
    rows = []
    for name in MODEL_KINDS:
        score = report.scores[name]
        low, high = score.interval
        rows.append(
            {
                "model": MODEL_TITLES[name],
                "our digits": f"{percent(score.accuracy, 1)} ({score.correct} of {score.total})",
                "95 % interval (Wilson)": f"{percent(low, 1)} to {percent(high, 1)}",
                "MNIST test set (10,000)": percent(shipped[name]["metrics"]["accuracy"], 2),
            }
        )
    st.dataframe(rows, hide_index=True, key="class_scores")
    st.caption(
        "Accuracy of the shipped models on the digits this class drew, next to MNIST's test "
        "set (handwriting NIST collected in 1998). The interval says where the accuracy on "
        "more digits like ours would lie; it is wide while there are few."
    )
    st.info(class_verdict(report), icon=":material/balance:")


def _gallery(title: str, indices: np.ndarray, arrays: ClassDigitArrays) -> None:
    shown = indices[:GALLERY_LIMIT]
    more = f"; the first {GALLERY_LIMIT} shown" if len(indices) > GALLERY_LIMIT else ""
    evaluation = Evaluation(arrays.labels, arrays.probabilities, {}, {})
    # Open on the projector; folded on a phone, where each digit takes a whole row.
    gallery = st.expander(f"{title}: {len(indices)}{more}", expanded=presenter_mode())
    for start in range(0, len(shown), GALLERY_COLUMNS):
        for column, index in zip(gallery.columns(GALLERY_COLUMNS), shown[start : start + GALLERY_COLUMNS],
                                 strict=False):  # fmt: skip
            lines = prediction_lines(evaluation, int(index))
            column.image(
                pixels_png(arrays.images[index], DIGIT_SCALE),
                width=28 * DIGIT_SCALE,
                alt=f"class digit {int(index)}, labelled {int(arrays.labels[index])}",
            )
            column.caption("  \n".join(["digit" + lines[0].removeprefix("image"), *lines[1:]]))


def _details(report: ClassReport, arrays: ClassDigitArrays) -> None:
    titles = {name: MODEL_TITLES[name] for name in MODEL_KINDS}
    heatmaps, difference = st.columns([2, 1])
    heatmaps.plotly_chart(
        confusion_heatmaps(report.confusion, titles=titles, class_names=DIGITS, height=360),
        key="class_confusion",
    )
    difference.plotly_chart(
        confusion_difference_heatmap(
            report.confusion[ModelKind.CNN], report.confusion[ModelKind.SENET],
            title="SENet - Basic CNN", class_names=DIGITS, height=360,
        ),
        key="class_confusion_difference",
    )  # fmt: skip
    _gallery("Digits either model misses", report.misses, arrays)
    _gallery("Digits the two models read differently", report.disagreements, arrays)
    profiles = excitation_profiles(
        arrays.excitations, arrays.labels, load_class_means(MNIST_CHECKPOINTS)
    )
    if profiles:
        st.markdown("**Does SE react to our handwriting differently?**")
        st.plotly_chart(excitation_comparison(profiles), key="class_excitations")
        gaps = ", ".join(
            f"block {i}: {np.abs(ours - theirs).mean():.3f}"
            for i, (ours, theirs) in enumerate(profiles.values(), start=1)
        )
        st.caption(
            "The SENet's mean excitation s of each channel on our digits, against MNIST's "
            "test set with the same mix of digits. Mean absolute gap per block: " + gaps + "."
        )


def show_class(digits: ClassDigits, set_id: int | None) -> None:
    """Everything about one set; refreshed every two seconds while the class draws."""
    try:
        arrays = digits.arrays(set_id)
    except StoreError as error:
        st.error(f"The class's digits cannot be read right now ({error}); this page retries.")
        return
    report = class_report(arrays.labels, arrays.probabilities, arrays.sessions)
    _join_panel(report)
    if report.count == 0:
        st.info("No digits yet: students add theirs on the Draw a digit page.")
        return
    _scores(report)
    _details(report, arrays)


def _lecturer(digits: ClassDigits) -> None:
    with st.expander("Lecturer's controls", icon=":material/key:"):
        key = st.text_input("Lecturer's key", type="password", key="lecturer_key_input")
        if not digits.is_lecturer(key):
            if key:
                st.error("That is not the lecturer's key.")
            return
        number = st.number_input(
            "Digit number (as the galleries show it)", 0, step=1, key="class_delete_number"
        )
        if st.button("Delete that digit", key="class_delete"):
            ids = digits.arrays().ids
            if number < len(ids):
                digits.delete(ids[int(number)], key)
                st.success(f"Deleted digit {int(number)}.")
        if st.button("Archive this set and start a new one", key="class_archive"):
            fresh = digits.archive_and_start_new(key)
            st.success(f"Started {fresh.name}; the old set is kept and can be reopened.")
        archived = [s for s in digits.sets() if not s.is_open]
        if archived:
            chosen = st.selectbox("Archived sets", archived, format_func=lambda s: f"{s.name} ({s.count} digits)",
                                  key="class_reopen_choice")  # fmt: skip
            if st.button("Reopen it", key="class_reopen") and chosen is not None:
                digits.reopen(chosen.id, key)
                st.rerun()


def _export(digits: ClassDigits, set_id: int | None) -> None:
    arrays = digits.arrays(set_id)
    if not len(arrays):
        return
    st.markdown("**Keep the set** (for next year, or for the original study's code)")
    columns = st.columns(3)
    files = {
        "idx": (
            "MNIST IDX (zip)",
            "class-digits-idx.zip",
            zipped(export_files(arrays.images, arrays.labels, "idx")),
        ),
        "npz": (
            "NumPy .npz",
            "class-digits.npz",
            export_files(arrays.images, arrays.labels, "npz")["class-digits.npz"],
        ),
        "csv": (
            "CSV",
            "class-digits.csv",
            export_files(arrays.images, arrays.labels, "csv")["class-digits.csv"],
        ),
    }
    for column, (fmt, (label, name, data)) in zip(columns, files.items(), strict=True):
        column.download_button(label, data, file_name=name, key=f"class_export_{fmt}")


def main() -> None:
    """The class page."""
    st.title("Our class's digits")
    st.markdown(
        "Every digit this class adds on the **Draw a digit** page, read by both shipped "
        "models: is our handwriting harder than MNIST's, and does the SENet read it better?"
    )
    try:
        digits = class_digits()
        sets = digits.sets() or [digits.open_set()]
    except StoreError as error:
        st.error(f"The class's digits are away because {error}; every other page works as usual.")
        return
    chosen = st.selectbox(
        "Set", sets, format_func=lambda s: f"{s.name}{'' if s.is_open else ' (archived)'}",
        key="class_set",
    )  # fmt: skip
    set_id = None if chosen is None or chosen.is_open else chosen.id
    st.fragment(run_every=REFRESH_S)(show_class)(digits, set_id)
    _export(digits, set_id)
    _lecturer(digits)


main()
