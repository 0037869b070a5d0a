"""How pages present themselves: presenter mode (large type for a projector), the glossary,
links to the other pages."""

from __future__ import annotations

import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError

from se_demo.figures.common import DIAGRAM_FONTS
from se_demo.words import GLOSSARY

PRESENTER_KEY = "presenter"  # also the URL's query parameter: ?presenter=true


def _diagram_css(large: bool) -> str:
    """Streamlit sets every Graphviz text to 9.6 px; give back the sizes the layout used."""
    layer, title = DIAGRAM_FONTS[large]
    return (
        f'[data-testid="stGraphVizChart"] svg :is(g.node, g.edge) text {{ font-size: {layer}px; }}\n'
        f'[data-testid="stGraphVizChart"] svg g.cluster text {{ font-size: {title}px; }}\n'
    )


# Streamlit pads the page top by 6rem; a projector (1280x720) needs every pixel of it.
_COMPACT_CSS = (
    """
<style>
.stMainBlockContainer { padding-top: 2.5rem; padding-bottom: 2rem; }
.st-key-draw_canvas_box { padding-top: 2.2rem; }  /* room for the canvas's own toolbar */
"""
    + _diagram_css(large=False)
    + "</style>"
)
_PRESENTER_CSS = (
    """
<style>
.stMainBlockContainer { padding-top: 2rem; font-size: 1.2rem; }
.stMainBlockContainer p, .stMainBlockContainer li { font-size: 1.2rem; }
.stMainBlockContainer h1 { font-size: 2.2rem; padding-bottom: 0.25rem; }
/* Key numbers larger than their labels (the rule on p above would make them equal). */
[data-testid="stMetricValue"] * { font-size: 2.4rem !important; line-height: 1.15 !important; }
[class*="st-key-draw_answer"] [data-testid="stMetricValue"] * { font-size: 3.5rem !important; line-height: 1.1 !important; }
[data-testid="stCaptionContainer"] p { font-size: 1rem; }
.st-key-draw_canvas_box { padding-top: 2.2rem; }
"""
    + _diagram_css(large=True)
    + "</style>"
)


def presenter_mode() -> bool:
    """Whether this session shows the projector layout (the sidebar's toggle)."""
    return bool(st.session_state.get(PRESENTER_KEY, False))


def apply_page_style() -> None:
    """Tighter page margins always; larger type in presenter mode."""
    st.html(_PRESENTER_CSS if presenter_mode() else _COMPACT_CSS)


def glossary_expander() -> None:
    """Every term the dashboard uses, explained in one place."""
    with st.expander("Glossary", icon=":material/menu_book:"):
        st.markdown("\n".join(f"- **{term}**: {text}" for term, text in GLOSSARY.items()))


def link_to_page(page: str, label: str, icon: str) -> None:
    """A link to another page of the app (its file, as app.py names it); plain text when
    the page runs without the app's navigation around it (AppTest runs a page alone)."""
    try:
        st.page_link(page, label=label, icon=icon)
    except StreamlitPageNotFoundError:
        st.caption(f"See the page {label}")
