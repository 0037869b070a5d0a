"""What the figures of every page share: the SE blocks' titles (colours: `se_demo.core.registry`)
and small images shown inline."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image

from se_demo.core.registry import se_block_number

# Point sizes of the Graphviz diagrams' (node, cluster title) text: normal, and large for
# a projector. Streamlit renders every Graphviz text at 9.6 px whatever the DOT says, so
# the page's CSS (app_pages/presentation.py) sets these same sizes back.
DIAGRAM_FONTS = {False: (10, 13), True: (18, 20)}
PIXEL_SCALE = 4  # a 28 px test image shown at 112 px, each pixel a 4x4 block


def block_title(block: str, channels: int) -> str:
    """'stages.1.se' with 32 channels -> 'SE block 2 (32 channels)'."""
    return f"SE block {se_block_number(block)} ({channels} channels)"


def pixels_png(pixels: np.ndarray, scale: int = PIXEL_SCALE) -> str:
    """A grey uint8 image (H, W) as a PNG data URL, ``scale`` times larger, nearest
    neighbour (crisp pixels, no JPEG blur).

    Inline, not a media file: a media file is dropped at the next rerun, and a browser
    still fetching it then logs a 404.
    """
    larger = np.asarray(pixels, dtype=np.uint8).repeat(scale, axis=0).repeat(scale, axis=1)
    png = io.BytesIO()
    Image.fromarray(larger).save(png, format="PNG")
    return "data:image/png;base64," + base64.b64encode(png.getvalue()).decode("ascii")
