"""The Results page and the frame through AppTest, and the pure helpers behind the page.

Every number the page shows is checked against the saved evaluation of the shipped
checkpoints (which test_evaluate.py checks against a fresh evaluation on real MNIST).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix
from streamlit.testing.v1 import AppTest

from se_demo.analysis.results import (
    RIGHT,
    WRONG,
    comparison_indices,
    confusion_cell_indices,
    cost_rows,
    evaluation_mcnemar,
    load_evaluation,
    most_confused_cell,
    prediction_lines,
)
from se_demo.analysis.verdicts import Verdict, compare_verdict
from se_demo.core.checkpoints import load_checkpoint, load_checkpoints
from se_demo.core.config import CHECKPOINT_DIR
from se_demo.core.models import count_parameters
from se_demo.core.registry import DATASETS, MODEL_TITLES, DatasetName
from tests.conftest import MNIST_CHECKPOINTS

ROOT = Path(__file__).resolve().parents[1]
PAGE = str(ROOT / "app_pages" / "results.py")
APP = str(ROOT / "app.py")
GALLERY_LIMIT = 48  # app_pages/results_gallery.py shows at most this many images at once


@pytest.fixture(scope="module")
def evaluation():
    return load_evaluation(MNIST_CHECKPOINTS)


@pytest.fixture
def with_data(monkeypatch, data_dir):
    monkeypatch.setenv("SE_DEMO_DATA", str(data_dir))  # test data is cached per data root


@pytest.fixture
def without_data(monkeypatch, tmp_path):
    monkeypatch.setenv("SE_DEMO_DATA", str(tmp_path))  # an empty folder: no MNIST there


def _run(path: str) -> AppTest:
    at = AppTest.from_file(path, default_timeout=120).run()
    assert not at.exception, at.exception
    return at


def _exact_mcnemar_p(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the binomial distribution, by hand."""
    n = b + c
    return min(1.0, 2 * sum(math.comb(n, k) for k in range(min(b, c) + 1)) / 2**n)


# The pure helpers ------------------------------------------------------------------------


def test_confusion_cell_indices_cover_every_cell_of_the_saved_matrix(evaluation):
    for name in ("cnn", "senet"):
        predictions = evaluation.predictions(name)
        expected = confusion_matrix(evaluation.labels, predictions)
        saved = np.asarray(evaluation.metrics(name)["confusion"])
        np.testing.assert_array_equal(saved, expected)
        seen = []
        for t in range(10):
            for p in range(10):
                indices = confusion_cell_indices(evaluation.labels, predictions, t, p)
                assert len(indices) == saved[t, p]
                assert (evaluation.labels[indices] == t).all()
                assert (predictions[indices] == p).all()
                seen.extend(indices.tolist())
        assert sorted(seen) == list(range(len(evaluation.labels)))


def test_comparison_sets_are_mcnemars_counts(evaluation):
    cnn, senet = evaluation.predictions("cnn"), evaluation.predictions("senet")
    labels = evaluation.labels
    only_cnn = [i for i in range(len(labels)) if cnn[i] == labels[i] != senet[i]]
    only_senet = [i for i in range(len(labels)) if senet[i] == labels[i] != cnn[i]]
    disagree = [i for i in range(len(labels)) if cnn[i] != senet[i]]
    assert comparison_indices(evaluation, "only_first_correct").tolist() == only_cnn
    assert comparison_indices(evaluation, "only_second_correct").tolist() == only_senet
    assert comparison_indices(evaluation, "disagree").tolist() == disagree
    assert set(only_cnn) | set(only_senet) <= set(disagree)
    result = evaluation_mcnemar(evaluation)
    assert (result.only_first_correct, result.only_second_correct) == (
        len(only_cnn),
        len(only_senet),
    )
    assert result.p_value == pytest.approx(_exact_mcnemar_p(len(only_cnn), len(only_senet)))
    with pytest.raises(ValueError, match="'both'"):
        comparison_indices(evaluation, "both")


def test_cost_rows_are_the_saved_record(evaluation):
    cnn, senet, difference = cost_rows(evaluation)
    for row, name in ((cnn, "cnn"), (senet, "senet")):
        saved = evaluation.record["models"][name]
        assert row["model"] == MODEL_TITLES[name]
        assert (row["parameters"], row["flops"], row["latency_ms"]) == (
            saved["parameters"],
            saved["flops"],
            evaluation.measurements["latency_ms"][name],
        )
    assert difference["model"] == "SENet - Basic CNN"
    assert difference["parameters"] == senet["parameters"] - cnn["parameters"] > 0
    assert difference["flops"] == senet["flops"] - cnn["flops"] > 0
    # The SE blocks' parameters: for C channels, C -> C/2 -> C with biases, C in (16, 32, 64).
    assert difference["parameters"] == sum(2 * c * (c // 2) + c // 2 + c for c in (16, 32, 64))


def test_prediction_lines_name_both_predictions_and_confidences(evaluation):
    index = int(comparison_indices(evaluation, "only_second_correct")[0])
    label = int(evaluation.labels[index])
    lines = prediction_lines(evaluation, index)
    assert lines[0] == f"image {index}, true {label}"
    for line, name, mark in ((lines[1], "cnn", WRONG), (lines[2], "senet", RIGHT)):
        probabilities = evaluation.probabilities[name][index]
        predicted = int(probabilities.argmax())
        confidence = f"({probabilities.max() * 100:.1f}\u00a0%)"  # never wrapped inside
        assert line == f"{MODEL_TITLES[name]}: {predicted} {confidence} {mark}"
    names = tuple("abcdefghij")
    assert prediction_lines(evaluation, index, names)[0].endswith(f"true {names[label]}")


def test_class_names_in_captions_do_not_wrap_inside(evaluation):
    # A gallery column wrapped "T-shirt/top" as "T-" / "shirt/" / "top".
    names = DATASETS[DatasetName.FASHION].class_names
    index = int(np.flatnonzero(evaluation.labels == 0)[0])  # class 0: T-shirt/top
    lines = prediction_lines(evaluation, index, names)
    assert lines[0] == f"image {index}, true T-\u2060shirt/\u2060top"
    for line in lines[1:]:
        shown = line.split(": ", 1)[1]  # the class and confidence, after "SENet: "
        assert shown.count(" ") == 2  # only between class, confidence and mark
        assert re.search(r"\(\d+\.\d\u00a0%\)", shown)


def test_most_confused_cell_is_the_largest_error():
    confusion = np.array([[50, 1, 0], [4, 40, 2], [0, 3, 60]])
    assert most_confused_cell(confusion) == (1, 0)


# The page through AppTest ----------------------------------------------------------------


def _verdict(evaluation, dataset: str) -> Verdict:
    records = {n: c.record for n, c in load_checkpoints(CHECKPOINT_DIR / dataset).items()}
    accuracies = {n: evaluation.metrics(n)["accuracy"] for n in records}
    return compare_verdict(records, accuracies, dataset, evaluation_mcnemar(evaluation))


def _assert_tables_equal_the_saved_results(at: AppTest, evaluation) -> None:
    scores = at.table[0].value
    assert scores.index.tolist() == ["accuracy", "macro precision", "macro recall", "macro F1"]
    for key, (_, row) in zip(
        ("accuracy", "precision", "recall", "f1"), scores.iterrows(), strict=True
    ):
        for name in ("cnn", "senet"):
            title = MODEL_TITLES[name]
            assert row[f"{title} (ours)"] == evaluation.metrics(name)[key]
            assert (
                row[f"{title} (original study)"] == DATASETS[DatasetName.MNIST].reference[name][key]
            )
        assert row["SENet − Basic CNN (ours)"] == pytest.approx(
            evaluation.metrics("senet")[key] - evaluation.metrics("cnn")[key], abs=1e-15
        )
    costs = at.table[1].value
    assert costs.index.tolist() == ["Basic CNN", "SENet", "SENet − Basic CNN"]
    columns = ["parameters", "FLOPs per image", "CPU latency per image (ms)"]
    assert costs.columns.tolist() == columns
    for name in ("cnn", "senet"):
        saved = evaluation.record["models"][name]
        assert costs.loc[MODEL_TITLES[name]].tolist() == [
            saved["parameters"],
            saved["flops"],
            evaluation.measurements["latency_ms"][name],
        ]
    np.testing.assert_allclose(
        costs.iloc[2], costs.loc["SENet"] - costs.loc["Basic CNN"], rtol=0, atol=1e-12
    )
    accuracies = [m.value for m in at.metric[:2]]
    assert accuracies == [
        f"{evaluation.metrics(n)['accuracy'] * 100:.2f} %" for n in ("cnn", "senet")
    ]
    result = evaluation_mcnemar(evaluation)
    assert at.metric[2].value == f"{result.only_first_correct} vs {result.only_second_correct}"
    verdicts = [e.value for e in (*at.info, *at.success, *at.warning)]
    assert _verdict(evaluation, "mnist").text in verdicts
    assert not [m for m in at.markdown if "-badge[" in m.value]  # none is undertrained
    assert len(at.get("plotly_chart")) == 3


def test_page_shows_the_saved_results(with_data, evaluation):
    at = _run(PAGE)
    assert at.title[0].value == "Results: basic CNN versus SENet on MNIST"
    _assert_tables_equal_the_saved_results(at, evaluation)


def test_frame_sidebar_and_results_page_through_app(with_data, evaluation):
    at = _run(APP)
    assert at.title[0].value == "How SE works"  # the app opens on the lesson
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Results: basic CNN versus SENet on MNIST"
    _assert_tables_equal_the_saved_results(at, evaluation)
    sidebar = " ".join(m.value for m in at.sidebar.markdown)
    for name in ("cnn", "senet"):
        checkpoint = load_checkpoint(MNIST_CHECKPOINTS, name)
        parameters = count_parameters(checkpoint.model)
        assert f"**{MODEL_TITLES[name]}**: {parameters:,} parameters" in sidebar
        assert f"trained {checkpoint.record['created'][:10]}" in sidebar
    assert any("test set loaded from" in c.value for c in at.sidebar.caption)


@pytest.mark.parametrize(
    ("model", "true_class", "predicted_class"),
    [("senet", 9, 4), ("cnn", 5, 3), ("cnn", 0, 1), ("senet", 1, 1)],
)
def test_choosing_a_cell_shows_its_images(
    with_data, evaluation, model, true_class, predicted_class
):
    at = _run(PAGE)
    at.selectbox(key="results_cell_model").set_value(model)
    at.selectbox(key="results_cell_true").set_value(true_class)
    at.selectbox(key="results_cell_predicted").set_value(predicted_class).run()
    assert not at.exception, at.exception
    count = evaluation.metrics(model)["confusion"][true_class][predicted_class]
    images = at.get("image")
    assert len(images) == min(count, GALLERY_LIMIT)
    # Inline PNGs (crisp, no JPEG blur), not media files that the next rerun drops.
    assert all(image.proto.imgs[0].url.startswith("data:image/png;base64,") for image in images)
    if count == 0:
        assert at.markdown[-1].value == "No test images here."
    else:
        summary = _gallery_summary(at)
        assert summary.startswith(f"**{count} test image")
        assert f"predicts as {predicted_class}" in summary
        assert ("showing the first" in summary) == (count > GALLERY_LIMIT)
        first = confusion_cell_indices(
            evaluation.labels, evaluation.predictions(model), true_class, predicted_class
        )[0]
        assert _gallery_captions(at)[0].startswith(f"image {first}, true {true_class}")


def _gallery_summary(at: AppTest) -> str:
    return next(m.value for m in at.markdown if re.match(r"\*\*\d+ test images?\*\*", m.value))


def _gallery_captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption if c.value.startswith("image ")]


def test_default_cell_is_the_first_models_largest_error(with_data, evaluation):
    at = _run(PAGE)
    expected = most_confused_cell(np.asarray(evaluation.metrics("cnn")["confusion"]))
    chosen = (
        at.selectbox(key="results_cell_true").value,
        at.selectbox(key="results_cell_predicted").value,
    )
    assert chosen == expected
    assert at.selectbox(key="results_cell_model").value == "cnn"


@pytest.mark.parametrize("which", ["disagree", "only_first_correct", "only_second_correct"])
def test_disagreement_view_lists_the_right_images(with_data, evaluation, which):
    at = _run(PAGE)
    at.segmented_control(key="results_gallery").set_value("compare").run()
    at.radio(key="results_image_set").set_value(which).run()
    assert not at.exception, at.exception
    indices = comparison_indices(evaluation, which)
    assert len(at.get("image")) == min(len(indices), GALLERY_LIMIT)
    assert _gallery_summary(at).startswith(f"**{len(indices)} test images**")
    shown = [int(c.split(",")[0].removeprefix("image ")) for c in _gallery_captions(at)]
    assert shown == indices[:GALLERY_LIMIT].tolist()
    assert not at.selectbox  # one gallery at a time: the cell selectors are not drawn


def test_the_chosen_cell_survives_a_visit_to_the_other_gallery(with_data, evaluation):
    at = _run(PAGE)
    at.selectbox(key="results_cell_model").set_value("senet")
    at.selectbox(key="results_cell_true").set_value(9).run()
    at.segmented_control(key="results_gallery").set_value("compare").run()
    at.segmented_control(key="results_gallery").set_value("cell").run()
    assert not at.exception, at.exception
    assert at.selectbox(key="results_cell_model").value == "senet"
    assert at.selectbox(key="results_cell_true").value == 9


def test_a_different_test_set_on_disk_is_not_shown_beside_the_predictions(
    monkeypatch, mnist_copy, evaluation
):
    images = mnist_copy / "MNIST" / "raw" / "t10k-images-idx3-ubyte"
    changed = bytearray(images.read_bytes())
    changed[-1] ^= 0xFF  # one pixel of the last test image: still a valid file
    images.write_bytes(bytes(changed))
    monkeypatch.setenv("SE_DEMO_DATA", str(mnist_copy))
    at = _run(PAGE)
    assert any("is not the one these models were evaluated on" in w.value for w in at.warning)
    assert not at.get("image")
    _assert_tables_equal_the_saved_results(at, evaluation)


def test_page_works_without_the_dataset(without_data, evaluation):
    at = _run(PAGE)
    assert any("test images are not on disk" in w.value for w in at.warning)
    assert not at.get("image")
    assert not at.segmented_control
    _assert_tables_equal_the_saved_results(at, evaluation)
    at = _run(APP)
    assert any("MNIST is missing or unreadable" in w.value for w in at.sidebar.warning)
    assert not at.exception, at.exception  # the lesson explains it has no test images
    at.switch_page(PAGE).run()
    _assert_tables_equal_the_saved_results(at, evaluation)


def test_page_explains_a_missing_evaluation(with_data, tmp_path):
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state["model_dir"] = str(tmp_path / "mnist" / "run-without-evaluation")
    at.run()
    assert not at.exception, at.exception
    assert len(at.error) == 1
    assert "No saved evaluation" in at.error[0].value
    assert "python -m se_demo evaluate --dataset mnist" in at.error[0].value
    assert not at.table


def test_fashion_page_names_the_significantly_better_model(with_data):
    fashion = load_evaluation(CHECKPOINT_DIR / "fashion")
    result = evaluation_mcnemar(fashion)
    assert result.significant()  # the shipped Fashion-MNIST pair: 235 vs 167, p < 0.001
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state["dataset"] = "fashion"
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Results: basic CNN versus SENet on Fashion-MNIST"
    verdict = at.success[0].value
    assert verdict == _verdict(fashion, "fashion").text
    assert "on this test set, Basic CNN is the better model" in verdict
    assert not any("(original study)" in column for column in at.table[0].value.columns)
    assert any(
        c.value.startswith("The original study published MNIST results only") for c in at.caption
    )
