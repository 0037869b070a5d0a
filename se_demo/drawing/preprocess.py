"""Drawings and uploaded images to MNIST-like 28x28 digits.

LeCun et al. built MNIST this way (http://yann.lecun.com/exdb/mnist/): each digit was
size-normalised to fit a 20x20 box keeping its aspect ratio (anti-aliasing gives the grey
levels), then placed in a 28x28 field so that its centre of mass lands at the centre.
Measured on the test set, every digit's ink box has a longer side of exactly 20 px and
the centre of mass sits at row 14, column 14 (pixel indices) to within integer rounding,
so we do the same: integer shifts, no resampling blur after the resize.

Everything here works on numpy arrays; the models' normalisation is `se_demo.core.data.normalize`.
"""

from __future__ import annotations

import base64
import io
import math

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from scipy import ndimage

from se_demo.core.config import IMAGE_SIZE

DIGIT_BOX = 20  # MNIST's size-normalisation box: the longer side of the ink, in pixels
# MNIST's centre of mass (row, column), measured on the test set: half a pixel below and
# right of the grid's middle `IMAGE_CENTRE` (13.5), where rotations turn.
MNIST_CENTRE_OF_MASS = (14.0, 14.0)
INK_THRESHOLD = 0.1  # ink fraction above which a pixel counts for the bounding box

UPLOAD_FORMATS = ("PNG", "JPEG")
MAX_UPLOAD_BYTES = 5 * 1024 * 1024  # the largest image accepted, refused with a message above
# What the server receives at all (= server.maxUploadSize in .streamlit/config.toml): twice
# the accepted size, so that a file over the limit reaches `open_upload` and the page can
# say why it is refused; only a file over this is refused by the browser alone.
MAX_TRANSFER_BYTES = 2 * MAX_UPLOAD_BYTES
MAX_UPLOAD_PIXELS = 40_000_000  # about a 48 MP phone photo's 8000 x 5000; decoding costs ~4 B/px
UPLOAD_WORKING_SIDE = 1024  # uploads are shrunk to this longer side before any pixel work
MIN_INK_CONTRAST = 0.2  # mean ink minus mean paper below this: a blank page, uneven light
# A drawing less than this many stroke widths across is a dot or a dash: scaled up to
# MNIST's 20 px it becomes a blob that the models still "read" with confidence. MNIST's
# digits are 20 px across with 2-3 px strokes (7-10 widths); a small digit drawn with a
# thin pen is fine.
MIN_SPAN_IN_STROKES = 3.0


class ImageRejectedError(ValueError):
    """An upload is not a usable image; the message says why, for the user."""


def rgba_to_ink(rgba: np.ndarray) -> np.ndarray:
    """A canvas drawing (H, W, 4) uint8 RGBA, light strokes -> ink (H, W) float32 in [0, 1].

    The canvas returns the strokes over a transparent (or black) background, so the
    strokes are composited onto black: ink = luminance x alpha.
    """
    if rgba.ndim != 3 or rgba.shape[2] != 4:
        raise ValueError(f"expected an (H, W, 4) RGBA array, got shape {rgba.shape}")
    rgb = rgba[..., :3].astype(np.float32) / 255.0
    alpha = rgba[..., 3].astype(np.float32) / 255.0
    luminance = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601, as PIL "L"
    return luminance * alpha


def ink_to_mnist(ink: np.ndarray) -> np.ndarray | None:
    """Ink (H, W) in [0, 1], bright on dark -> an MNIST-like digit (28, 28) float32 in [0, 1].

    Crops to the ink's bounding box, scales its longer side to 20 px keeping the aspect
    ratio (anti-aliased), and places it in 28x28 with its centre of mass at MNIST's
    centre. Returns None when there is no ink (a blank canvas).
    """
    ink = np.clip(np.asarray(ink, dtype=np.float32), 0.0, 1.0)
    rows = np.flatnonzero((ink > INK_THRESHOLD).any(axis=1))
    cols = np.flatnonzero((ink > INK_THRESHOLD).any(axis=0))
    if rows.size == 0:
        return None
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    height, width = crop.shape
    scale = DIGIT_BOX / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))  # PIL: (W, H)
    # PIL's bilinear resize widens its filter when shrinking: proper anti-aliasing.
    digit = np.asarray(Image.fromarray(crop).resize(size, Image.Resampling.BILINEAR))
    digit = np.clip(digit, 0.0, 1.0)
    if digit.max() > 0:
        digit = digit / digit.max()  # a faint stroke still reaches full ink, as in MNIST
    com_row, com_col = ndimage.center_of_mass(digit)
    # Integer shift as MNIST did, clamped so that no ink leaves the 28x28 field.
    top = int(np.clip(round(MNIST_CENTRE_OF_MASS[0] - com_row), 0, IMAGE_SIZE - digit.shape[0]))
    left = int(np.clip(round(MNIST_CENTRE_OF_MASS[1] - com_col), 0, IMAGE_SIZE - digit.shape[1]))
    out = np.zeros((IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
    out[top : top + digit.shape[0], left : left + digit.shape[1]] = digit
    return out


def drawing_problem(rgba: np.ndarray) -> str | None:
    """Why a canvas drawing (H, W, 4) cannot be read as a digit, for the user; None if it can.

    A blank canvas is no problem (there is just nothing to read yet); a drawing less than
    `MIN_SPAN_IN_STROKES` stroke widths across is. The stroke width is twice the largest
    distance from an ink pixel to the nearest background pixel (scipy's distance transform).
    """
    ink = rgba_to_ink(rgba) > INK_THRESHOLD
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    if rows.size == 0:
        return None
    span = max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1)
    stroke = 2.0 * float(ndimage.distance_transform_edt(ink).max())
    if span < MIN_SPAN_IN_STROKES * stroke:
        return (
            f"Too small to read: the drawing is {span} px across, about {span / stroke:.1f} "
            "stroke widths. Draw the digit larger, across most of the canvas: scaled up to "
            "digit size, a small mark becomes a blob that the models would only guess at."
        )
    return None


def drawing_to_mnist(rgba: np.ndarray | None) -> np.ndarray | None:
    """A canvas's RGBA image (or None before the first stroke) -> (28, 28) digit, or None."""
    if rgba is None:
        return None
    return ink_to_mnist(rgba_to_ink(rgba))


def open_upload(data: bytes) -> Image.Image:
    """Check an uploaded file and decode it, refusing bad files before heavy decoding.

    Only the header is read before the checks (format, byte size, pixel count); the
    pixels are decoded afterwards, at most at about `UPLOAD_WORKING_SIDE` for JPEGs.
    Raises ImageRejectedError with a message for the user.
    """
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImageRejectedError(
            f"The file is {math.ceil(len(data) * 10 / 2**20) / 10:.1f} MB; images up to "
            f"{MAX_UPLOAD_BYTES // 2**20} MB are accepted."
        )  # rounded up: a file just over the limit never reads "5.0 MB"
    too_large = (
        f"images up to {MAX_UPLOAD_PIXELS / 1e6:.0f} MP are accepted; "
        "downscale the photo and try again."
    )
    try:
        # Lazy: reads the header only; and only PNG's and JPEG's parsers see the bytes.
        image: Image.Image = Image.open(io.BytesIO(data), formats=UPLOAD_FORMATS)
    except Image.DecompressionBombError:  # PIL's own, far higher limit
        raise ImageRejectedError(f"The image is too large: {too_large}") from None
    except (UnidentifiedImageError, OSError, SyntaxError):
        raise ImageRejectedError(
            "This file is not a PNG or JPEG image. Upload a photo or scan as PNG or JPEG."
        ) from None
    width, height = image.size
    if width * height > MAX_UPLOAD_PIXELS:
        raise ImageRejectedError(
            f"The image is {width} x {height} pixels ({width * height / 1e6:.0f} MP): {too_large}"
        )
    try:
        image.draft("L", (UPLOAD_WORKING_SIDE, UPLOAD_WORKING_SIDE))  # JPEG: decode at 1/2..1/8
        image.load()
        image = ImageOps.exif_transpose(image)  # phone photos are stored rotated
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise ImageRejectedError(
            "The image is corrupt or truncated and cannot be decoded."
        ) from None
    image.thumbnail((UPLOAD_WORKING_SIDE, UPLOAD_WORKING_SIDE), Image.Resampling.BILINEAR)
    return image


def image_to_ink(image: Image.Image) -> np.ndarray:
    """A photo or scan of a digit -> ink (H, W) float32 in [0, 1], bright on dark.

    Dark-on-light images (ink on paper) are inverted: the background is taken to be
    the median of the border pixels. Otsu's threshold then splits ink from paper, so
    uneven light and paper texture are dropped, and the ink is stretched to [0, 1].
    """
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        image = _flatten_alpha(image.convert("RGBA"))
    if image.mode.startswith("I"):  # 16-bit grey PNG ("I;16"): convert("L") clips at 255
        grey = np.clip(np.asarray(image, dtype=np.float32) / 65535.0, 0.0, 1.0)
    else:
        grey = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    if float(grey.max() - grey.min()) < MIN_INK_CONTRAST:  # a blank page
        return np.zeros_like(grey)
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    if np.median(border) > 0.5:  # light paper, dark ink
        grey = 1.0 - grey
    threshold = _otsu_threshold(grey)
    is_ink = grey > threshold
    if not is_ink.any() or is_ink.all():
        return np.zeros_like(grey)
    paper, peak = float(np.median(grey[~is_ink])), float(np.percentile(grey[is_ink], 99))
    if float(grey[is_ink].mean()) - float(grey[~is_ink].mean()) < MIN_INK_CONTRAST:
        return np.zeros_like(grey)
    ink = np.clip((grey - paper) / (peak - paper), 0.0, 1.0)
    ink[~is_ink] = 0.0
    return ink


def _otsu_threshold(grey: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold: the grey level that maximises the variance between the two classes."""
    counts, edges = np.histogram(grey, bins=bins, range=(0.0, 1.0))
    centres = (edges[:-1] + edges[1:]) / 2
    weight_low = np.cumsum(counts)  # pixels at or below each level
    weight_high = weight_low[-1] - weight_low
    sum_low = np.cumsum(counts * centres)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_low = sum_low / weight_low
        mean_high = (sum_low[-1] - sum_low) / weight_high
        between = weight_low * weight_high * (mean_low - mean_high) ** 2
    return float(centres[np.nanargmax(between)])


def _flatten_alpha(rgba: Image.Image) -> Image.Image:
    """Composite onto a background that contrasts with the opaque pixels (the ink)."""
    pixels = np.asarray(rgba)
    opaque = pixels[..., 3] > 127
    ink_is_dark = opaque.any() and float(np.asarray(rgba.convert("L"))[opaque].mean()) < 128
    background = Image.new("RGBA", rgba.size, "white" if ink_is_dark else "black")
    return Image.alpha_composite(background, rgba).convert("RGB")


PREVIEW_SIDE = 400  # an upload's preview, in pixels on its longer side (shown 200 px wide)


def preview(image: Image.Image) -> str:
    """An upload as a browser shows it: a PNG data URL of 8-bit RGB(A), whatever its mode
    (16-bit grey too), at most PREVIEW_SIDE px on its longer side.

    Inline, not a media file: a media file is dropped at the next rerun, and a browser
    still fetching it then logs a 404.
    """
    if image.mode.startswith("I"):
        grey = np.clip(np.asarray(image, dtype=np.float32) / 257.0, 0, 255).astype(np.uint8)
        shown = Image.fromarray(grey).convert("RGB")
    else:
        shown = image.convert(
            "RGBA" if "A" in image.getbands() or "transparency" in image.info else "RGB"
        )
    shown.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
    png = io.BytesIO()
    shown.save(png, format="PNG")
    return "data:image/png;base64," + base64.b64encode(png.getvalue()).decode("ascii")


def upload_to_mnist(data: bytes) -> np.ndarray | None:
    """Uploaded PNG or JPEG bytes -> (28, 28) digit in [0, 1], or None when it holds no ink.

    Raises ImageRejectedError for non-images, corrupt files and oversized images.
    """
    return ink_to_mnist(image_to_ink(open_upload(data)))
