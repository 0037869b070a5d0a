"""The robustness sweep: Holm's correction, the saved sweeps of both datasets against the
saved evaluations and a fresh run, the CLI, and the Robustness page (AppTest, no torch).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from se_demo.__main__ import main
from se_demo.analysis.results import load_evaluation, mcnemar_exact
from se_demo.core.checkpoints import load_checkpoint, load_checkpoints
from se_demo.core.config import CHECKPOINT_DIR
from se_demo.core.datafiles import read_split
from se_demo.core.registry import MODEL_KINDS, dataset_info
from se_demo.figures.robustness import difference_heatmap, severity_curves
from se_demo.robustness.corruptions import corrupt, corruptions_for
from se_demo.robustness.results import (
    corruption_rows,
    example_lines,
    example_positions,
    format_robustness_table,
    holm,
    load_robustness,
    verdict,
)
from se_demo.robustness.sweep import run_robustness, save_robustness
from tests.conftest import heavy_imports

ROOT = Path(__file__).resolve().parents[1]
PAGE = str(ROOT / "app_pages" / "robustness.py")
DATASETS = ("mnist", "fashion")


def test_holm_matches_a_hand_computed_case():
    # sorted: 0.005 * 4 = 0.02, 0.01 * 3 = 0.03, 0.03 * 2 = 0.06, 0.04 * 1 = 0.04 -> 0.06
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(holm([0.5, 0.6]), [1.0, 1.0])  # capped at 1
    np.testing.assert_allclose(holm([0.02]), [0.02])  # one test: nothing to correct


@pytest.fixture(scope="module", params=DATASETS)
def saved(request, data_dir):
    dataset = request.param
    images, labels = read_split(False, data_dir, dataset=dataset)
    return dataset, load_robustness(CHECKPOINT_DIR / dataset), images, labels


def test_the_clean_row_reproduces_the_saved_evaluation_exactly(saved):
    dataset, sweep, _, labels = saved
    evaluation = load_evaluation(CHECKPOINT_DIR / dataset)
    np.testing.assert_array_equal(sweep.labels, labels[sweep.indices])
    for name in MODEL_KINDS:
        expected = evaluation.predictions(name)[sweep.indices]
        np.testing.assert_array_equal(sweep.predictions[name][0], expected)
        assert sweep.accuracy(name, "fog", 0) == np.mean(expected == sweep.labels)


def test_saved_numbers_follow_from_the_saved_predictions(saved):
    dataset, sweep, _, _ = saved
    record = sweep.record
    assert record["data_sha256"] == load_evaluation(CHECKPOINT_DIR / dataset).record["data_sha256"]
    assert list(record["corruptions"]) == [str(c.name) for c in corruptions_for(dataset)]
    for name in MODEL_KINDS:
        right = sweep.predictions[name] == sweep.labels
        np.testing.assert_array_equal(record["accuracy"][name], right.mean(1))
    tests = record["mcnemar"]
    assert len(tests) == 3 * len(record["corruptions"])
    for test in tests:
        row = sweep.row(test["corruption"], test["severity"])
        fresh = mcnemar_exact(
            sweep.predictions["cnn"][row] == sweep.labels,
            sweep.predictions["senet"][row] == sweep.labels,
        )
        assert (test["only_first_correct"], test["only_second_correct"]) == (
            fresh.only_first_correct,
            fresh.only_second_correct,
        )
        assert test["p_value"] == pytest.approx(fresh.p_value)
    np.testing.assert_allclose([t["p_holm"] for t in tests], holm([t["p_value"] for t in tests]))
    assert sweep.excitation_shift.shape == (len(sweep.settings), 3)
    np.testing.assert_array_equal(sweep.excitation_shift[0], 0)  # clean vs clean


def test_the_table_and_verdicts_say_what_the_tests_can_claim(saved):
    _, sweep, _, _ = saved
    table = format_robustness_table(sweep)
    assert table.count("\n|") == len(sweep.record["corruptions"]) + 2  # + rule + mean row
    assert len(corruption_rows(sweep)) == len(sweep.record["corruptions"])
    for name in sweep.record["corruptions"]:
        text = verdict(sweep, name)
        if any(t["p_holm"] < 0.05 for t in sweep.tests(name)):
            assert text.startswith("These two trained models differ on this corrupted test set")
            assert "not about SE in general" in text
        else:
            assert text.startswith("No difference shows")
    # p-values as everywhere else: "p < 0.001", never "p = 0" or "2.9e-135".
    for text in [table, *(verdict(sweep, name) for name in sweep.record["corruptions"])]:
        assert not re.search(r"p = 0(?![.\d])|\de-\d", text), text
    assert "p < 0.001" in table


def test_examples_put_the_disagreements_first(saved):
    _, sweep, _, _ = saved
    positions = example_positions(sweep, "shot_noise", 3, count=8)
    row = sweep.row("shot_noise", 3)
    differ = sweep.predictions["cnn"][row] != sweep.predictions["senet"][row]
    assert list(differ[positions]) == sorted(differ[positions], reverse=True)
    assert differ[positions].sum() == min(8, differ.sum())


def test_an_examples_caption_gives_each_models_saved_answer(saved):
    dataset, sweep, _, _ = saved
    names = dataset_info(dataset).class_names
    row = sweep.row("rotate", 3)
    cnn, senet = (sweep.predictions[m][row] for m in ("cnn", "senet"))
    position = int(np.flatnonzero((cnn == sweep.labels) & (senet != sweep.labels))[0])
    caption = example_lines(sweep, "rotate", 3, position, names)
    classes = [caption[0].split(" true ")[1]]
    classes += [line.split(": ", 1)[1].rsplit(" ", 1)[0] for line in caption[1:]]
    assert not any(" " in name for name in classes)  # "Ankle boot" never wraps inside
    plain = [line.replace("\u00a0", " ").replace("\u2060", "") for line in caption]
    truth, wrong = names[sweep.labels[position]], names[senet[position]]
    assert plain == [
        f"test image {sweep.indices[position]}, true {truth}",
        f"Basic CNN: {truth} :material/check:",
        f"SENet: {wrong} :material/close:",
    ]


@pytest.mark.slow
@pytest.mark.parametrize("dataset", DATASETS)
def test_severity_zero_reproduces_the_saved_clean_accuracy_on_the_whole_test_set(data_dir, dataset):
    images, labels = read_split(False, data_dir, dataset=dataset)
    evaluation = load_evaluation(CHECKPOINT_DIR / dataset)
    clean = torch.from_numpy(corrupt(images, "zigzag" if dataset == "mnist" else "fog", 0))
    for name in MODEL_KINDS:
        checkpoint = load_checkpoint(CHECKPOINT_DIR / dataset, name)
        predictions = checkpoint.predict(clean).argmax(1).numpy()
        assert np.mean(predictions == labels) == evaluation.metrics(name)["accuracy"]


@pytest.mark.slow
def test_saved_results_equal_a_fresh_run(data_dir):
    # Two corruptions (one random, one not) of the 15: the rest run the same code.
    images, labels = read_split(False, data_dir, dataset="mnist")
    saved = load_robustness(CHECKPOINT_DIR / "mnist")
    models = {n: c.model for n, c in load_checkpoints(CHECKPOINT_DIR / "mnist").items()}
    only = ("impulse_noise", "brightness")
    fresh = run_robustness(models, images, labels, "mnist", only=only)
    np.testing.assert_array_equal(fresh.indices, saved.indices)
    for i, (name, severity) in enumerate(fresh.settings):
        row = saved.row(name, severity)
        for model in MODEL_KINDS:
            np.testing.assert_array_equal(
                fresh.predictions[model][i], saved.predictions[model][row]
            )
        np.testing.assert_allclose(
            fresh.excitation_shift[i], saved.excitation_shift[row], rtol=1e-4, atol=1e-6
        )
    saved_tests = {(t["corruption"], t["severity"]): t for t in saved.record["mcnemar"]}
    for test in fresh.record["mcnemar"]:
        assert test["p_value"] == saved_tests[(test["corruption"], test["severity"])]["p_value"]


def test_the_cli_refuses_a_folder_without_checkpoints(tmp_path, capsys):
    assert main(["robustness", "--checkpoint-dir", str(tmp_path)]) == 2
    assert "no checkpoint 'cnn'" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["robustness", "evaluate", "channels"])
def test_the_cli_runs_models_only_on_the_dataset_they_were_trained_on(command, capsys):
    # Fashion-MNIST's models are never run on MNIST's test set (nor normalised as MNIST).
    folder = str(CHECKPOINT_DIR / "fashion")
    assert main([command, "--checkpoint-dir", folder, "--dataset", "mnist"]) == 2
    assert "were trained on fashion, not mnist: pass --dataset fashion" in capsys.readouterr().err


# --- The page -------------------------------------------------------------------------


@pytest.fixture
def with_data(monkeypatch, data_dir):
    monkeypatch.setenv("SE_DEMO_DATA", str(data_dir))


def _run(dataset: str = "mnist") -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state["dataset"] = dataset
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.mark.parametrize("dataset", DATASETS)
def test_the_page_draws_the_saved_sweep(with_data, dataset):
    at = _run(dataset)
    sweep = load_robustness(CHECKPOINT_DIR / dataset)
    assert at.title[0].value.startswith("Robustness")
    assert len(at.get("plotly_chart")) == 3  # heatmap, curves, excitation shift
    assert len(at.get("image")) == 8  # the examples
    shown = [m.value for m in at.success] + [m.value for m in at.info]
    first = next(iter(sweep.record["corruptions"]))
    assert verdict(sweep, first) in shown
    mean = f"{100 * sweep.record['summary']['senet']['mean']:.1f} %"
    assert any(metric.value == mean for metric in at.metric)


def test_choosing_a_corruption_and_severity_changes_verdict_and_examples(with_data):
    at = _run()
    sweep = load_robustness(CHECKPOINT_DIR / "mnist")
    at.selectbox(key="robustness_corruption").select("canny_edges").run()
    at.select_slider(key="robustness_severity").set_value(1).run()
    assert not at.exception
    assert [m.value for m in at.info] + [m.value for m in at.success] == [
        verdict(sweep, "canny_edges")
    ]
    assert "at severity 1" in at.markdown[0].value


def test_the_page_works_without_the_dataset(monkeypatch, tmp_path):
    monkeypatch.setenv("SE_DEMO_DATA", str(tmp_path))
    at = _run()
    assert any("not on disk" in w.value for w in at.warning)
    assert len(at.get("plotly_chart")) == 3


def test_a_run_without_a_sweep_says_so_and_offers_the_shipped_models(with_data, tmp_path):
    run = tmp_path / "mnist" / "20261206-000000-cnn-senet-seed0"  # a lab run: no sweep
    shutil.copytree(CHECKPOINT_DIR / "mnist", run, ignore=shutil.ignore_patterns("robustness*"))
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state["model_dir"] = str(run)
    at.run()
    assert not at.exception
    assert not at.error  # no red error, no command line, no server path
    (sentence,) = [m.value for m in at.info]
    assert sentence.count(". ") == 0  # one sentence
    assert run.name in sentence
    assert str(tmp_path) not in sentence
    assert "has nothing for it" in sentence
    at.button(key="robustness_back_to_shipped").click().run()
    assert not at.exception
    assert at.session_state["model_dir"] is None
    assert len(at.get("plotly_chart")) == 3  # the shipped models' sweep


def test_the_tiles_give_the_change_in_pp_and_the_relative_drop_in_their_help(with_data):
    at = _run()
    summary = load_robustness(CHECKPOINT_DIR / "mnist").record["summary"]
    tiles = [m for m in at.metric if m.label.endswith(", corrupted")]
    assert len(tiles) == 2
    for tile, model in zip(tiles, ("cnn", "senet"), strict=True):
        change = 100 * (summary[model]["mean"] - summary[model]["clean"])
        assert tile.proto.delta == f"{change:+.1f} pp vs clean"
        assert f"relative drop of {100 * summary[model]['relative_drop']:.1f} %" in tile.help


def test_the_page_needs_neither_torch_nor_scikit_learn(data_dir):
    assert heavy_imports("app_pages/robustness.py", str(data_dir)) == set()


@pytest.mark.parametrize("dataset", DATASETS)
def test_the_heatmap_stars_exactly_the_holm_significant_cells(dataset):
    sweep = load_robustness(CHECKPOINT_DIR / dataset)
    cells = [cell for row in difference_heatmap(sweep).data[0].text for cell in row]
    significant = sum(t["p_holm"] < 0.05 for t in sweep.record["mcnemar"])
    assert sum(cell.endswith(" *") for cell in cells) == significant
    assert not any(cell.startswith("-0.0") for cell in cells)
    hover = [p for row in difference_heatmap(sweep).data[0].customdata for p in row]
    assert "p < 0.001" in hover
    assert all(re.fullmatch(r"p < 0\.001|p = [01](\.\d+)?", p) for p in hover), hover
    assert len(severity_curves(sweep).data) == 2 * len(sweep.record["corruptions"])


@pytest.mark.parametrize("dataset", DATASETS)
def test_saving_a_sweep_again_gives_the_same_bytes_and_names(tmp_path, dataset):
    shipped = CHECKPOINT_DIR / dataset
    path = save_robustness(load_robustness(shipped), tmp_path)
    assert path.read_bytes() == (shipped / "robustness.json").read_bytes()
    (weights,) = tmp_path.glob("robustness-*.safetensors")
    assert weights.read_bytes() == (shipped / weights.name).read_bytes()


RESAVE = """
import sys
from pathlib import Path
from se_demo.core.checkpoints import load_tensors, save_tensors
tensors, record = load_tensors(Path(sys.argv[1]), "robustness")
save_tensors(tensors, record, Path(sys.argv[2]), "robustness")
"""


def test_saved_bytes_do_not_depend_on_the_process(tmp_path):
    # safetensors writes its metadata in a per-process hash order; save_tensors writes one key.
    shipped = CHECKPOINT_DIR / "mnist"
    for run in range(4):
        out = tmp_path / str(run)
        subprocess.run([sys.executable, "-c", RESAVE, str(shipped), str(out)], check=True, cwd=ROOT)
        (weights,) = out.glob("robustness-*.safetensors")
        assert weights.read_bytes() == (shipped / weights.name).read_bytes()
