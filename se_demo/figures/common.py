"""What the figures of every page share: the SE blocks' titles (colours: `se_demo.core.registry`)."""

from __future__ import annotations

from se_demo.core.registry import se_block_number

# Point sizes of the Graphviz diagrams' (node, cluster title) text: normal, and large for
# a projector. Streamlit renders every Graphviz text at 9.6 px whatever the DOT says, so
# the page's CSS (app_pages/presentation.py) sets these same sizes back.
DIAGRAM_FONTS = {False: (10, 13), True: (18, 20)}


def block_title(block: str, channels: int) -> str:
    """'stages.1.se' with 32 channels -> 'SE block 2 (32 channels)'."""
    return f"SE block {se_block_number(block)} ({channels} channels)"
