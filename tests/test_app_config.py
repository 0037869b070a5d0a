"""What the app shows around its pages: the toolbar, and icons that every font can draw."""

from __future__ import annotations

import tomllib
from pathlib import Path

from streamlit import config

ROOT = Path(__file__).resolve().parents[1]
# The lead's branch replaces the emoji of these two files; add them here once merged.


def test_the_toolbar_shows_viewer_options_only():
    settings = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert settings["client"]["toolbarMode"] == "viewer"  # no "Deploy" button for students
    assert "viewer" in config.get_config_options()["client.toolbarMode"].description


def _pictographs(text: str) -> list[str]:
    """Emoji, dingbats and other symbols that need an emoji or symbol font (U+2300 up)."""
    return [c for c in text if ord(c) >= 0x2300 or c == "\ufe0f"]


def test_ui_text_uses_material_icons_not_emoji():
    sources = [
        ROOT / "app.py",
        *(ROOT / "app_pages").glob("*.py"),
        *(ROOT / "se_demo").rglob("*.py"),
    ]
    found = {str(path.relative_to(ROOT)): _pictographs(path.read_text()) for path in sources}
    assert {name: chars for name, chars in found.items() if chars} == {}
    assert _pictographs("ok \u2705 \U0001f9fd") == ["\u2705", "\U0001f9fd"]
    assert _pictographs("28\u00d728, \u00b1, \u2212") == []  # typography every font has
