"""The class's own digits in the store, on SQLite and on a real PostgreSQL: adding, limits,
taking back, the lecturer's sets, the page's statistics against a plain recomputation,
and the export formats (IDX that torchvision reads, npz, CSV) round trip byte for byte."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from scipy.stats import binomtest
from sklearn.metrics import accuracy_score, confusion_matrix
from sqlalchemy import inspect, update
from torchvision.datasets.mnist import read_image_file, read_label_file

from se_demo.analysis.results import wilson_interval
from se_demo.classroom.digit_files import FORMATS, export_digits, read_digits
from se_demo.classroom.digit_stats import class_report, class_verdict, digits_needed
from se_demo.classroom.digits import MAX_PER_SESSION, ClassDigits, DigitRefused
from se_demo.classroom.queue import ClassQueue
from se_demo.classroom.store import (
    DB_ENV_VAR,
    SCHEMA_VERSION,
    class_digits,
    digit_sets,
    open_store,
    schema_info,
)
from se_demo.core.checkpoints import load_checkpoints
from se_demo.core.config import CHECKPOINT_DIR, PROJECT_ROOT
from se_demo.core.data import Split
from se_demo.drawing.answers import answer_many
from tests.conftest import Clock

KEY = "digits-key"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def digits(store_url: str, clock: Clock):
    store = open_store(store_url)
    yield ClassDigits(ClassQueue(store, lecturer_key=KEY), clock=clock)
    store.dispose()


@pytest.fixture(scope="module")
def models():
    return load_checkpoints(CHECKPOINT_DIR / "mnist")


def _digit(test_split: Split, index: int) -> np.ndarray:
    return test_split.images[index].numpy()


def _add(
    digits: ClassDigits, clock: Clock, models, image: np.ndarray, label: int, session: str
) -> str:
    probabilities, excitations = answer_many(models, image[None])
    clock.now += 1.5
    return digits.add(
        label,
        image,
        {m: p[0] for m, p in probabilities.items()},
        {b: e[0] for b, e in excitations.items()},
        session,
    )


def test_a_digit_is_stored_as_the_models_saw_it_and_nothing_else(digits, clock, models, test_split):
    image = _digit(test_split, 0)
    digit_id = _add(digits, clock, models, image, 7, "session-a")
    arrays = digits.arrays()
    assert arrays.ids == [digit_id]
    assert np.array_equal(arrays.images[0], image)
    assert arrays.labels.tolist() == [7]
    assert arrays.probabilities["senet"][0].argmax() == 7
    assert {b: v.shape for b, v in arrays.excitations.items()} == {
        "stages.0.se": (1, 16), "stages.1.se": (1, 32), "stages.2.se": (1, 64)
    }  # fmt: skip
    columns = {c["name"] for c in inspect(digits.store.engine).get_columns("class_digits")}
    assert columns == {"seq", "id", "set_id", "label", "pixels", "probabilities",
                       "excitations", "created_at", "session"}  # fmt: skip


@pytest.mark.parametrize("label", [11, -1, 3.0, True, "7"])
def test_a_label_outside_0_to_9_is_refused(digits, label, test_split):
    with pytest.raises(DigitRefused, match="whole number from 0 to 9"):
        digits.add(label, _digit(test_split, 0), {}, {}, "s")
    assert len(digits.arrays()) == 0


def test_a_blank_digit_is_refused(digits):
    with pytest.raises(DigitRefused, match="The canvas is empty"):
        digits.add(3, np.zeros((28, 28), np.uint8), {}, {}, "s")
    assert len(digits.arrays()) == 0


def test_one_a_second_and_at_most_a_hundred_per_session(digits, clock, test_split):
    image = _digit(test_split, 1)
    digits.add(2, image, {}, {}, "busy")
    clock.now += 0.5
    with pytest.raises(DigitRefused, match="One digit a second"):
        digits.add(2, image, {}, {}, "busy")
    for _ in range(MAX_PER_SESSION - 1):
        clock.now += 1.0
        digits.add(2, image, {}, {}, "busy")
    clock.now += 1.0
    with pytest.raises(DigitRefused, match=f"added {MAX_PER_SESSION} digits"):
        digits.add(2, image, {}, {}, "busy")
    digits.add(2, image, {}, {}, "someone else")  # the limit is per session
    assert len(digits.arrays()) == MAX_PER_SESSION + 1


def test_only_its_own_session_takes_a_digit_back(digits, clock, test_split):
    mine = digits.add(7, _digit(test_split, 0), {}, {}, "owner-token")
    with pytest.raises(DigitRefused, match="Only the session that added"):
        digits.take_back(mine, "forged-token")
    with pytest.raises(DigitRefused):
        digits.take_back("no-such-digit", "owner-token")
    assert digits.arrays().ids == [mine]
    assert digits.mine("owner-token") == [mine]
    digits.take_back(mine, "owner-token")
    assert len(digits.arrays()) == 0


def test_the_prompt_keeps_the_set_balanced(digits, clock, test_split):
    image = _digit(test_split, 0)
    for label in range(10):
        if label != 4:
            clock.now += 1
            digits.add(label, image, {}, {}, f"s{label}")
    assert {digits.next_label(f"student-{i}") for i in range(20)} == {4}
    clock.now += 1
    digits.add(4, image, {}, {}, "s4")
    assert len({digits.next_label(f"student-{i}") for i in range(20)}) > 1  # all tied


@pytest.mark.parametrize("key", [None, "", "wrong"])
def test_the_lecturers_set_controls_refuse_without_the_key(digits, test_split, key):
    digit_id = digits.add(7, _digit(test_split, 0), {}, {}, "s")
    with pytest.raises(PermissionError):
        digits.delete(digit_id, key)
    with pytest.raises(PermissionError):
        digits.archive_and_start_new(key)
    with pytest.raises(PermissionError):
        digits.reopen(digits.open_set().id, key)
    assert digits.arrays().ids == [digit_id]


def test_the_lecturer_archives_starts_anew_and_reopens(digits, clock, test_split):
    first = digits.open_set()
    kept = digits.add(7, _digit(test_split, 0), {}, {}, "s")
    fresh = digits.archive_and_start_new(KEY)
    assert fresh.id != first.id
    assert len(digits.arrays()) == 0
    assert [(s.id, s.is_open, s.count) for s in digits.sets()] == [
        (fresh.id, True, 0), (first.id, False, 1)
    ]  # fmt: skip
    digits.reopen(first.id, KEY)
    assert digits.arrays().ids == [kept]
    digits.delete(kept, KEY)
    assert len(digits.arrays()) == 0


def _class_set(test_split: Split, count: int = 240) -> tuple[np.ndarray, np.ndarray]:
    """MNIST test digits, a third of them turned upside down: a set with real misses."""
    images = test_split.images[:count].numpy().copy()
    images[::3] = images[::3, ::-1, ::-1]
    return images, test_split.labels[:count].numpy()


def test_the_class_statistics_equal_a_plain_recomputation_from_the_export(
    digits, models, test_split, tmp_path
):
    images, labels = _class_set(test_split)
    probabilities, excitations = answer_many(models, images)
    sessions = [f"s{i % 7}" for i in range(len(labels))]
    for session in set(sessions):
        rows = [i for i, s in enumerate(sessions) if s == session]
        digits.add_many(
            images[rows], labels[rows],
            {m: p[rows] for m, p in probabilities.items()},
            {b: e[rows] for b, e in excitations.items()},
            session,
        )  # fmt: skip
    stored = digits.arrays()
    report = class_report(stored.labels, stored.probabilities, stored.sessions)

    export_digits(stored.images, stored.labels, tmp_path, "npz")
    exported_images, exported_labels = read_digits(tmp_path / "class-digits.npz")
    with torch.no_grad():
        again, _ = answer_many(models, exported_images)
    predicted = {m: p.argmax(1) for m, p in again.items()}
    assert report.count == len(exported_labels) == len(labels)
    assert report.students == 7
    assert report.per_label.tolist() == np.bincount(exported_labels, minlength=10).tolist()
    for name in ("cnn", "senet"):
        right = predicted[name] == exported_labels
        assert report.scores[name].accuracy == accuracy_score(exported_labels, predicted[name])
        assert report.scores[name].interval == pytest.approx(
            wilson_interval(int(right.sum()), len(right))
        )
        assert np.array_equal(
            report.confusion[name],
            confusion_matrix(exported_labels, predicted[name], labels=range(10)),
        )
    assert 0.5 < report.scores["senet"].accuracy < 0.95  # the upside-down third is missed
    cnn_right, se_right = (predicted[m] == exported_labels for m in ("cnn", "senet"))
    b, c = int(np.sum(cnn_right & ~se_right)), int(np.sum(~cnn_right & se_right))
    assert (report.mcnemar.only_first_correct, report.mcnemar.only_second_correct) == (b, c)
    assert report.mcnemar.p_value == pytest.approx(binomtest(min(b, c), b + c, 0.5).pvalue)
    assert (
        report.disagreements.tolist()
        == np.flatnonzero(predicted["cnn"] != predicted["senet"]).tolist()
    )
    assert f"{b + c:,} of our {len(labels):,} digits" in class_verdict(report)


def test_with_few_digits_the_verdict_says_it_cannot_tell_and_how_many_more():
    labels = np.arange(20) % 10
    cnn = np.eye(10)[labels]
    senet = cnn.copy()
    senet[:3] = np.eye(10)[(labels[:3] + 1) % 10]  # the SENet misses 3 the CNN gets
    report = class_report(labels, {"cnn": cnn, "senet": senet}, ["a"] * 20)
    needed = digits_needed(report)
    assert needed is not None
    assert needed > 20
    # 3 of 20 discordant, all one way: the exact test needs 6 such digits (p = 0.0625 at 5)
    assert binomtest(0, 6, 0.5).pvalue < 0.05 < binomtest(0, 5, 0.5).pvalue
    assert needed == 40  # 6 / (3 / 20)
    text = class_verdict(report)
    assert "cannot tell the models apart yet (p = 0.25)" in text
    assert "about 40 digits in all (20 more)" in text


@pytest.mark.parametrize("fmt", FORMATS)
def test_export_import_export_gives_identical_files(digits, clock, test_split, tmp_path, fmt):
    images, labels = _class_set(test_split, 50)
    first = export_digits(images, labels, tmp_path / "one", fmt)
    read_images, read_labels = read_digits(tmp_path / "one")
    assert np.array_equal(read_images, images)
    assert np.array_equal(read_labels, labels)
    digits.add_many(read_images, read_labels, {}, {}, "import")
    stored = digits.arrays()
    second = export_digits(stored.images, stored.labels, tmp_path / "two", fmt)
    assert [f.read_bytes() for f in first] == [f.read_bytes() for f in second]


def test_torchvisions_mnist_reader_loads_the_idx_export(test_split, tmp_path):
    images, labels = _class_set(test_split, 30)
    export_digits(images, labels, tmp_path, "idx")
    assert torch.equal(
        read_image_file(str(tmp_path / "class-images-idx3-ubyte")), torch.from_numpy(images)
    )
    assert read_label_file(str(tmp_path / "class-labels-idx1-ubyte")).tolist() == labels.tolist()


def test_a_gzipped_idx_folder_imports(test_split, tmp_path):
    import gzip

    images, labels = _class_set(test_split, 10)
    for path in export_digits(images, labels, tmp_path, "idx"):
        path.with_name(path.name + ".gz").write_bytes(gzip.compress(path.read_bytes()))
        path.unlink()
    read_images, read_labels = read_digits(tmp_path)
    assert np.array_equal(read_images, images)
    assert np.array_equal(read_labels, labels)


def test_the_command_line_exports_and_imports(store_url, tmp_path, test_split):
    images, labels = _class_set(test_split, 12)
    export_digits(images, labels, tmp_path / "given", "csv")
    env = {**__import__("os").environ, DB_ENV_VAR: store_url}

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "se_demo", "class", *args], cwd=PROJECT_ROOT,
                              env=env, capture_output=True, text=True, timeout=300)  # fmt: skip

    added = cli("import", str(tmp_path / "given" / "class-digits.csv"))
    assert added.returncode == 0, added.stderr
    assert "added 12 digits to Class set 1" in added.stdout
    exported = cli("export", "--format", "idx", "--out", str(tmp_path / "out"))
    assert exported.returncode == 0, exported.stderr
    again_images, again_labels = read_digits(tmp_path / "out")
    assert np.array_equal(again_images, images)
    assert np.array_equal(again_labels, labels)
    bad = tmp_path / "bad.csv"
    bad.write_text("label,pixel0\n11,0\n")
    refused = cli("import", str(bad))
    assert refused.returncode == 2
    assert "header must be label,pixel0..pixel783" in refused.stderr


def test_a_version_1_store_is_upgraded_with_its_queue_kept(store_url):
    store = open_store(store_url)
    with store.write() as connection:
        class_digits.drop(connection)
        digit_sets.drop(connection)
        connection.execute(update(schema_info).values(value="1"))
    store.dispose()
    store = open_store(store_url)  # the newer app on the older file
    tables = set(inspect(store.engine).get_table_names())
    assert {"class_digits", "digit_sets", "lab_runs"} <= tables
    with store.read() as connection:
        version = connection.execute(schema_info.select()).one().value
    assert int(version) == SCHEMA_VERSION == 2
    store.dispose()
