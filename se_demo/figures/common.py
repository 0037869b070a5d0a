"""What the figures of every page share: each model's colour, the SE blocks' titles."""

from __future__ import annotations

MODEL_COLORS = {"cnn": "#636EFA", "senet": "#EF553B"}


def block_title(block: str, channels: int) -> str:
    """'stages.1.se' with 32 channels -> 'SE block 2 (32 channels)'."""
    index = int(block.split(".")[1]) + 1 if block.startswith("stages.") else block
    return f"SE block {index} ({channels} channels)"
