"""The MNIST-C style corruptions and the stress sliders' function, on real MNIST digits.

Shape, dtype, range and determinism for every corruption and severity; exact hand-made
references where the corruption has a closed form (brightness, stripe, translate, Canny
on a square, Poisson's mean); `stress_digit` against NumPy's own rotations and shifts.
"""

from __future__ import annotations

import numpy as np
import pytest

from se_demo.core.datafiles import read_split
from se_demo.core.registry import DatasetName
from se_demo.robustness.corruptions import CORRUPTIONS, SEVERITIES, corrupt, corruptions_for
from se_demo.robustness.stress import stress_digit

SETTINGS = [(str(name), s) for name in CORRUPTIONS for s in SEVERITIES]


@pytest.fixture(scope="module")
def digits(data_dir) -> np.ndarray:
    return read_split(False, data_dir, dataset=DatasetName.MNIST)[0][:64].copy()


@pytest.mark.parametrize(("name", "severity"), SETTINGS)
def test_each_corruption_keeps_shape_dtype_range_and_changes_the_images(digits, name, severity):
    out = corrupt(digits, name, severity, seed=0)
    assert out.shape == digits.shape
    assert out.dtype == np.uint8  # so the range is 0..255 by construction
    assert np.any(out != digits)


@pytest.mark.parametrize(("name", "severity"), SETTINGS)
def test_each_corruption_is_deterministic_given_its_seed(digits, name, severity):
    same = corrupt(digits, name, severity, seed=3)
    np.testing.assert_array_equal(same, corrupt(digits, name, severity, seed=3))
    other = corrupt(digits, name, severity, seed=4)
    assert np.any(other != same) == CORRUPTIONS[name].random  # type: ignore[index]


@pytest.mark.parametrize("name", [str(n) for n in CORRUPTIONS])
def test_an_image_is_corrupted_the_same_whatever_follows_it_in_the_batch(digits, name):
    whole = corrupt(digits, name, 2, seed=1)
    np.testing.assert_array_equal(corrupt(digits[:5], name, 2, seed=1), whole[:5])
    np.testing.assert_array_equal(corrupt(digits[0], name, 2, seed=1), whole[0])


@pytest.mark.parametrize("name", [str(n) for n in CORRUPTIONS])
def test_severity_zero_is_an_unchanged_copy(digits, name):
    out = corrupt(digits, name, 0)
    np.testing.assert_array_equal(out, digits)
    assert out is not digits


def test_severities_grow_stronger_on_average(digits):
    for name in CORRUPTIONS:
        if name == "canny_edges":  # an edge map at every severity; sigma only smooths it
            continue
        change = [np.abs(corrupt(digits, name, s).astype(int) - digits).mean() for s in SEVERITIES]
        assert change == sorted(change), name


def test_brightness_stripe_and_translate_match_their_closed_forms(digits):
    x = digits.astype(np.float32) / 255  # the corruptions work in float32
    bright = np.rint(np.clip(x + 0.3, 0, 1) * 255)
    np.testing.assert_array_equal(corrupt(digits, "brightness", 2), bright)
    stripe = x.copy()
    stripe[:, :, :7] = 1 - stripe[:, :, :7]
    stripe[:, :, 21:] = 1 - stripe[:, :, 21:]
    np.testing.assert_array_equal(corrupt(digits, "stripe", 3), np.rint(stripe * 255))
    moved = corrupt(digits, "translate", 2)
    for image, out in zip(digits, moved, strict=True):
        candidates = []
        for down in (-3, 3):
            for right in (-3, 3):
                padded = np.pad(image, 3)
                candidates.append(padded[3 - down : 31 - down, 3 - right : 31 - right])
        assert any(np.array_equal(out, c) for c in candidates)


def test_shot_noise_is_unbiased_and_impulse_noise_hits_its_share_of_pixels():
    grey = np.full((400, 28, 28), 128, dtype=np.uint8)
    shot = corrupt(grey, "shot_noise", 2).astype(float)  # Poisson with 12 photons
    assert abs(shot.mean() - 128) < 1.0
    assert abs(shot.std() / 255 - np.sqrt(128 / 255 / 12)) < 0.01
    impulse = corrupt(grey, "impulse_noise", 3)  # 17 % of pixels set to 0 or 255
    assert abs(np.mean(impulse != 128) - 0.17) < 0.005
    assert abs(np.mean(impulse == 0) - np.mean(impulse == 255)) < 0.005


def test_canny_edges_of_a_filled_square_are_its_outline_only():
    square = np.zeros((1, 28, 28), dtype=np.uint8)
    square[0, 8:20, 8:20] = 255
    edges = corrupt(square, "canny_edges", 1)[0] > 0
    assert not edges[11:17, 11:17].any()  # nothing inside
    assert not edges[:5].any()  # nothing far outside
    assert not edges[23:].any()
    for side in (edges[6:10, 10:18], edges[18:22, 10:18], edges[10:18, 6:10], edges[10:18, 18:22]):
        assert side.any()  # every side has its edge


def test_fashion_gets_all_but_the_pen_strokes():
    names = {str(c.name) for c in corruptions_for("fashion")}
    assert names == {str(n) for n in CORRUPTIONS} - {"stripe", "dotted_line", "zigzag"}
    assert len(corruptions_for("mnist")) == 15


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("blur", 1), "unknown corruption 'blur'"),
        (("fog", 4), "severity must be 0 or one of"),
    ],
)
def test_bad_names_and_severities_are_refused(digits, args, message):
    with pytest.raises(ValueError, match=message):
        corrupt(digits, *args)


def test_images_that_are_not_uint8_28x28_are_refused(digits):
    with pytest.raises(ValueError, match="expected uint8 images"):
        corrupt(digits.astype(np.float32), "fog", 1)
    with pytest.raises(ValueError, match="expected uint8 images"):
        corrupt(digits[:, :27], "fog", 1)


# --- stress_digit -------------------------------------------------------------------


def test_stress_digit_at_zero_settings_is_the_identity(digits):
    digit = digits[0].astype(np.float32) / 255
    np.testing.assert_array_equal(stress_digit(digit), digit)


def test_stress_digit_rotates_anticlockwise_and_shifts_right_and_down(digits):
    digit = digits[0].astype(np.float32) / 255
    rotated = stress_digit(digit, rotation_deg=90)
    np.testing.assert_allclose(rotated, np.rot90(digit), atol=1e-6)
    shifted = stress_digit(digit, shift_px=(2, 3))
    expected = np.zeros_like(digit)
    expected[3:, 2:] = digit[:-3, :-2]
    np.testing.assert_allclose(shifted, expected, atol=1e-6)


def test_stress_digit_is_deterministic_in_range_and_works_on_batches(digits):
    batch = digits[:8].astype(np.float32) / 255
    settings = {"rotation_deg": 20.0, "noise": 0.3, "blur": 1.0, "shift_px": (1.5, -2.0)}
    out = stress_digit(batch, **settings, seed=5)
    assert out.shape == batch.shape
    assert out.dtype == np.float32
    assert out.min() >= 0
    assert out.max() <= 1
    np.testing.assert_array_equal(out, stress_digit(batch, **settings, seed=5))
    assert np.any(out != stress_digit(batch, **settings, seed=6))
    quiet = {**settings, "noise": 0.0}
    np.testing.assert_allclose(stress_digit(batch[2], **quiet), stress_digit(batch, **quiet)[2])


def test_stress_digit_refuses_bad_input():
    with pytest.raises(ValueError, match="expected a digit of shape"):
        stress_digit(np.zeros((28, 27)))
    with pytest.raises(ValueError, match="must be >= 0"):
        stress_digit(np.zeros((28, 28)), blur=-1)
