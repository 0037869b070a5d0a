"""Both models' answers for one input: digits, confidences, agreement, SE excitations.

What the Draw page shows after each stroke, computed here so that it is tested without
a browser: one forward pass per model, the SE model's pass recorded through the hooks
of `se_demo.analysis.excitation`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from se_demo.analysis.excitation import concat_batches, recording_excitations
from se_demo.analysis.interventions import Intervention, intervened_model
from se_demo.core.checkpoints import Checkpoint
from se_demo.core.inference import predict
from se_demo.core.models import se_blocks
from se_demo.core.registry import MODEL_TITLES, InterventionMode
from se_demo.words import percent, unbroken

# A top probability under this is reported as "unsure", not as an answer. Trained with
# label smoothing, the models give typical digits about 96%; on the MNIST test set this
# calls about 1% of the correct answers unsure and flags 33 of each model's 39 mistakes.
UNSURE_BELOW = 0.8
# 99.9% of MNIST training digits hold less ink than this (sum of pixels in [0, 1]); a
# heavier input is a dot or a blob blown up to 20 px, and any answer about it is a guess.
MAX_DIGIT_INK = 230.0


@dataclass(frozen=True)
class ModelAnswer:
    """One model's answer: its probabilities over the ten digits."""

    name: str  # a ModelKind
    probabilities: np.ndarray  # (10,), sums to 1
    doubtful_input: bool = False  # the input is unlike any MNIST digit (see `MAX_DIGIT_INK`)

    @property
    def digit(self) -> int:
        """The most probable digit."""
        return int(np.argmax(self.probabilities))

    @property
    def confidence(self) -> float:
        """The top probability."""
        return float(np.max(self.probabilities))

    @property
    def unsure(self) -> bool:
        """Whether the top probability is too low (or the input too odd) to call it an answer."""
        return self.confidence < UNSURE_BELOW or self.doubtful_input

    def sentence(self) -> str:
        """'SENet: 7 (98 % sure)' or an honest 'SENet is unsure (maybe 7, 41 %)'; the
        brackets are `unbroken`, so a narrow answer box (a phone) wraps before them.
        """
        title = MODEL_TITLES.get(self.name, self.name)
        if self.unsure:
            return (
                f"{title} is unsure {unbroken(f'(maybe {self.digit}, {percent(self.confidence)})')}"
            )
        return f"{title}: {self.digit} {unbroken(f'({percent(self.confidence)} sure)')}"


@dataclass(frozen=True)
class Answers:
    """Every model's answer for one input, and the SE model's excitations of it."""

    models: dict[str, ModelAnswer]
    excitations: dict[str, np.ndarray]  # {SE block name: (C,)}, empty without an SE model
    warning: str | None = None  # why the input does not look like a digit, if it does not

    @property
    def disagree(self) -> bool:
        """Whether the models' most probable digits differ."""
        return len({answer.digit for answer in self.models.values()}) > 1

    def verdict(self) -> str:
        """One line on agreement, for the page."""
        answers = list(self.models.values())
        if self.disagree:
            named = ", ".join(f"{MODEL_TITLES.get(a.name, a.name)} says {a.digit}" for a in answers)
            return f"The models disagree: {named}."
        digit = answers[0].digit
        unsure = [MODEL_TITLES.get(a.name, a.name) for a in answers if a.unsure]
        if not unsure:
            return f"Both models read {digit}."
        if len(unsure) == len(answers):
            return f"Both models lean towards {digit}, but neither is sure."
        return f"Both models lean towards {digit}, but {' and '.join(unsure)} is unsure."


def answer_both(checkpoints: Mapping[str, Checkpoint], digit: np.ndarray) -> Answers:
    """Classify one MNIST-like digit (28, 28) in [0, 1] with every model, each reading it
    normalised as it was trained.

    The SE blocks' excitations are recorded during the SE model's own forward pass.
    Runs on the process's torch threads: torch's count is one setting for the whole
    process (setting it in any thread changes it for all), so the app sets it once when
    it first loads the models (`se_demo.core.config.SERVING_THREADS`).
    """
    pixels = torch.from_numpy(np.asarray(digit, dtype=np.float32))[None]
    inputs = {name: (c.model, c.normalize(pixels)) for name, c in checkpoints.items()}
    return _answers(inputs, _ink_warning(digit))


def _ink_warning(digit: np.ndarray) -> str | None:
    """Why a digit (28, 28) in [0, 1] is no digit the models can read; None if it may be."""
    ink = float(np.sum(digit))
    if ink <= MAX_DIGIT_INK:
        return None
    return (
        f"This holds more ink ({ink:.0f}) than 99.9 % of MNIST digits: a dot or a blob "
        "scaled up to digit size, not a digit the models can read."
    )


def _answers(inputs: Mapping[str, tuple[nn.Module, torch.Tensor]], warning: str | None) -> Answers:
    """Each model's answer for its normalised input (1, 1, 28, 28), with the excitations."""
    answers: dict[str, ModelAnswer] = {}
    excitations: dict[str, np.ndarray] = {}
    for name, (model, image) in inputs.items():
        with recording_excitations(model) as store:
            probabilities = predict(model, image)[0].numpy()
        answers[name] = ModelAnswer(name, probabilities, doubtful_input=warning is not None)
        for block, values in concat_batches(store).items():
            excitations[block] = values[0].numpy()
    return Answers(answers, excitations, warning)


def answer_many(
    checkpoints: Mapping[str, Checkpoint], digits: np.ndarray
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Every model's probabilities (N, 10) for many MNIST-like digits (N, 28, 28) uint8,
    and the SE model's excitations {block: (N, C)}: what the class's digits store."""
    images = torch.from_numpy(np.array(digits, dtype=np.uint8))  # a copy, as MNIST stores them
    probabilities: dict[str, np.ndarray] = {}
    excitations: dict[str, np.ndarray] = {}
    for name, checkpoint in checkpoints.items():
        with recording_excitations(checkpoint.model) as store:
            probabilities[name] = checkpoint.predict(images).numpy()
        for block, values in concat_batches(store).items():
            excitations[block] = values.numpy()
    return probabilities, excitations


@dataclass(frozen=True)
class SEOnOff:
    """One input through the SENet as trained and with every SE gate held at 1 (SE off)."""

    trained: ModelAnswer
    gates_at_one: ModelAnswer

    @property
    def changed(self) -> bool:
        """Whether switching SE off changes the digit read."""
        return self.trained.digit != self.gates_at_one.digit

    def sentence(self) -> str:
        """What switching SE off does to this input, in one line."""
        on, off = self.trained, self.gates_at_one
        if self.changed:
            return (
                f"With every gate at 1 the SENet reads {off.digit} "
                f"({percent(off.confidence)} sure) instead of {on.digit}: for this drawing "
                "the SE blocks decide the answer."
            )
        return (
            f"With every gate at 1 the SENet still reads {on.digit}, "
            f"{percent(off.confidence)} sure instead of {percent(on.confidence)}: "
            "for this drawing the SE blocks change its confidence, not its answer."
        )


def se_on_and_off(senet: Checkpoint, digit: np.ndarray) -> SEOnOff:
    """Read one MNIST-like digit (28, 28) in [0, 1] with ``senet`` as trained and with every
    SE block switched off (a copy whose excitations are all 1; ``senet`` is not changed).
    """
    off = intervened_model(
        senet.model,
        [Intervention(block, InterventionMode.OFF) for block in se_blocks(senet.model)],
        config=senet.config,
    )
    image = senet.normalize(torch.from_numpy(np.asarray(digit, dtype=np.float32))[None])
    inputs = {"trained": (senet.model, image), "gates_at_one": (off, image)}
    answers = _answers(inputs, _ink_warning(digit)).models
    return SEOnOff(answers["trained"], answers["gates_at_one"])
