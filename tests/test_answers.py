"""Both models' answers for one input, checked against the saved test-set evaluation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from se_demo.analysis.results import Evaluation, load_evaluation
from se_demo.core.checkpoints import Checkpoint, load_checkpoints
from se_demo.core.data import Split, normalize
from se_demo.core.models import build_model, se_blocks
from se_demo.drawing.answers import (
    MAX_DIGIT_INK,
    UNSURE_BELOW,
    Answers,
    ModelAnswer,
    SEOnOff,
    answer_both,
    se_on_and_off,
)
from tests.conftest import MNIST_CHECKPOINTS


@pytest.fixture(scope="module")
def models() -> dict[str, Checkpoint]:
    return load_checkpoints(MNIST_CHECKPOINTS)


@pytest.fixture(scope="module")
def evaluation() -> Evaluation:
    return load_evaluation(MNIST_CHECKPOINTS)


def _digit(test_split: Split, index: int) -> np.ndarray:
    return test_split.images[index].numpy().astype(np.float32) / 255.0


def test_answers_match_the_saved_evaluation(
    models: dict[str, Checkpoint], evaluation: Evaluation, test_split: Split
) -> None:
    for index in range(0, 10_000, 997):
        answers = answer_both(models, _digit(test_split, index))
        for name, answer in answers.models.items():
            saved = evaluation.probabilities[name][index]
            np.testing.assert_allclose(answer.probabilities, saved, atol=1e-4)
            assert answer.digit == int(saved.argmax())
        assert list(answers.excitations) == ["stages.0.se", "stages.1.se", "stages.2.se"]
        for block, values in answers.excitations.items():
            assert values.shape == evaluation.excitations["senet"][block].shape[1:]
            # the saved excitations are float16
            np.testing.assert_allclose(
                values, evaluation.excitations["senet"][block][index], atol=2e-3
            )


def test_the_basic_cnn_has_no_excitations(models: dict[str, Checkpoint], test_split: Split) -> None:
    answers = answer_both({"cnn": models["cnn"]}, _digit(test_split, 0))
    assert answers.excitations == {}


def test_agreement_and_disagreement_on_real_test_digits(
    models: dict[str, Checkpoint], evaluation: Evaluation, test_split: Split
) -> None:
    disagree = np.flatnonzero(evaluation.predictions("cnn") != evaluation.predictions("senet"))
    assert disagree.size > 0
    for index in disagree[:5]:
        answers = answer_both(models, _digit(test_split, int(index)))
        assert answers.disagree
        cnn, senet = answers.models["cnn"].digit, answers.models["senet"].digit
        assert answers.verdict() == (
            f"The models disagree: Basic CNN says {cnn}, SENet says {senet}."
        )
    label = int(test_split.labels[0])
    answers = answer_both(models, _digit(test_split, 0))
    assert not answers.disagree
    assert answers.warning is None
    assert answers.verdict() == f"Both models read {label}."
    assert answers.models["senet"].sentence().startswith(f"SENet: {label} (")


def test_low_confidence_is_called_unsure(
    evaluation: Evaluation, models: dict[str, Checkpoint], test_split: Split
) -> None:
    top = evaluation.probabilities["senet"].max(1)
    index = int(np.flatnonzero(top < UNSURE_BELOW)[0])
    answer = answer_both(models, _digit(test_split, index)).models["senet"]
    assert answer.unsure
    assert (
        answer.sentence()
        == f"SENet is unsure (maybe\u00a0{answer.digit},\u00a0{answer.confidence * 100:.0f}\u00a0%)"
    )
    flat = ModelAnswer("cnn", np.full(10, 0.1))
    assert flat.unsure
    assert flat.confidence == pytest.approx(0.1)


def test_the_ink_limit_flags_blobs_not_digits(
    models: dict[str, Checkpoint], train_split: Split
) -> None:
    ink = train_split.images.numpy().reshape(len(train_split), -1).sum(1) / 255.0
    assert np.mean(ink > MAX_DIGIT_INK) < 0.002  # about 0.1% of MNIST's training digits
    rows, cols = np.indices((28, 28))
    disc = ((rows - 14) ** 2 + (cols - 14) ** 2 <= 10**2).astype(np.float32)  # a dot, enlarged
    answers = answer_both(models, disc)
    assert answers.warning is not None
    assert "99.9 % of MNIST digits" in answers.warning
    # The models are confident that a disc is a 0; the page must not say so.
    assert max(a.confidence for a in answers.models.values()) > UNSURE_BELOW
    assert all(a.unsure for a in answers.models.values())


def test_verdict_names_the_unsure_model() -> None:
    sure = np.eye(10)[3] * 0.9 + 0.01  # 3 at 91%
    doubtful = np.eye(10)[3] * 0.4 + 0.06  # 3 at 46%

    both = Answers({"cnn": ModelAnswer("cnn", sure), "senet": ModelAnswer("senet", sure)}, {})
    one = Answers({"cnn": ModelAnswer("cnn", sure), "senet": ModelAnswer("senet", doubtful)}, {})
    none = Answers(
        {"cnn": ModelAnswer("cnn", doubtful), "senet": ModelAnswer("senet", doubtful)}, {}
    )
    assert both.verdict() == "Both models read 3."
    assert one.verdict() == "Both models lean towards 3, but SENet is unsure."
    assert none.verdict() == "Both models lean towards 3, but neither is sure."


def test_one_thread_answers_as_two_threads_do(
    models: dict[str, Checkpoint], test_split: Split
) -> None:
    digit = _digit(test_split, 7)
    torch.set_num_threads(1)  # the autouse fixture restores the original count
    single = answer_both(models, digit)
    assert torch.get_num_threads() == 1  # answering leaves the process's setting alone
    torch.set_num_threads(2)
    default = answer_both(models, digit)
    for name in single.models:
        np.testing.assert_allclose(
            single.models[name].probabilities, default.models[name].probabilities, atol=1e-5
        )


def test_the_unsure_level_flags_most_mistakes_and_few_correct_answers(
    evaluation: Evaluation,
) -> None:
    for name, probabilities in evaluation.probabilities.items():
        correct = probabilities.argmax(1) == evaluation.labels
        unsure = probabilities.max(1) < UNSURE_BELOW
        assert unsure[correct].mean() < 0.02, name
        assert unsure[~correct].mean() > 0.75, name


def test_se_off_reads_the_drawing_like_a_basic_cnn_holding_the_senets_weights(
    models: dict[str, Checkpoint], test_split: Split
) -> None:
    senet = models["senet"]
    reference = build_model("cnn")  # the same network without SE blocks: every s is 1
    missing, unexpected = reference.load_state_dict(senet.model.state_dict(), strict=False)
    assert missing == []
    assert all(".se." in key for key in unexpected)
    reference.eval()
    gates_before = [type(block.gate) for block in se_blocks(senet.model).values()]
    for index in range(20):
        digit = _digit(test_split, index)
        result = se_on_and_off(senet, digit)
        with torch.no_grad():
            logits = reference(normalize(torch.from_numpy(digit)[None, None], "mnist"))
        np.testing.assert_allclose(
            result.gates_at_one.probabilities, torch.softmax(logits, 1)[0].numpy(), atol=1e-5
        )
        np.testing.assert_allclose(
            result.trained.probabilities,
            answer_both({"senet": senet}, digit).models["senet"].probabilities,
        )
    assert [type(block.gate) for block in se_blocks(senet.model).values()] == gates_before


def test_se_on_and_off_says_whether_the_answer_changes() -> None:
    def answer(digit: int, confidence: float) -> ModelAnswer:
        probabilities = np.full(10, (1 - confidence) / 9)
        probabilities[digit] = confidence
        return ModelAnswer("senet", probabilities)

    same = SEOnOff(answer(7, 0.97), answer(7, 0.62))
    assert not same.changed
    assert same.sentence() == (
        "With every gate at 1 the SENet still reads 7, 62 % sure instead of 97 %: for this "
        "drawing the SE blocks change its confidence, not its answer."
    )
    changed = SEOnOff(answer(7, 0.97), answer(1, 0.55))
    assert changed.changed
    assert changed.sentence().startswith(
        "With every gate at 1 the SENet reads 1 (55 % sure) instead of 7"
    )
