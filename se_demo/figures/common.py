"""What the figures of every page share: the SE blocks' titles (colours: `se_demo.registry`)."""

from __future__ import annotations

from se_demo.registry import se_block_number


def block_title(block: str, channels: int) -> str:
    """'stages.1.se' with 32 channels -> 'SE block 2 (32 channels)'."""
    return f"SE block {se_block_number(block)} ({channels} channels)"
