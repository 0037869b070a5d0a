"""The pages' words: every glossary term carries its explanation where it first appears on
a page, the excitations are s everywhere, and "seed" always means a random seed (the reproduced repository is "the original
study"). Each page runs in AppTest; its elements are read in the order a student reads them.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from se_demo.core.config import DATA_ENV_VAR, PROJECT_ROOT
from se_demo.words import GLOSSARY, TERM_PATTERNS
from tests.conftest import element_texts

PAGES = ("lesson", "draw", "excitation", "results", "experiments", "robustness", "train")
TIMEOUT = 180
# "seed" meaning the reproduced repository: "the seed", "the seed's", "seed repo", a
# "seed column/table/report" (random seeds are "seed 0", "5 seeds", "per seed", "seeds").
ORIGINAL_STUDY_AS_SEED = re.compile(
    r"\bthe seed\b(?!s| \d| number)|\bseed's\b|\bseed (repo|repository|column|table|report|layout|code|paper)",
    re.IGNORECASE,
)

# The excitations are s on every page, as in the paper (s = sigma(W2 delta(W1 z))); never e.
EXCITATION_AS_E = re.compile(r"\bexcitations? e\b|\be = \d|\be_c\b|\be near\b|\bsmall e\b")


def _run(page: str, dataset: str) -> AppTest:
    at = AppTest.from_file(str(PROJECT_ROOT / "app_pages" / f"{page}.py"), default_timeout=TIMEOUT)
    at.session_state["dataset"] = dataset
    if page == "draw":  # a digit, so that the answers and their charts are on the page
        digit = np.zeros((28, 28), dtype=np.float32)
        digit[4:24, 13:16] = 1.0
        at.session_state["current_drawing"] = digit
        at.session_state["draw_strokes"] = {"objects": [{}]}
        at.session_state["arrived_on_page"] = True
    return at.run()


@pytest.fixture(scope="module", params=[(p, d) for p in PAGES for d in ("mnist", "fashion")],
                ids=lambda p: f"{p[0]}-{p[1]}")  # fmt: skip
def page_texts(request, data_dir: Path) -> list[tuple[str, str]]:
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv(DATA_ENV_VAR, str(data_dir))
    try:
        at = _run(*request.param)
        assert not at.exception, at.exception
        return list(element_texts(at._tree))
    finally:
        monkeypatch.undo()


def test_every_term_is_explained_where_it_first_appears(page_texts) -> None:
    missing = []
    for term, pattern in TERM_PATTERNS.items():
        first = next((t for t in page_texts if re.search(pattern, t[0])), None)
        if first is not None and GLOSSARY[term] not in first[1]:
            missing.append(f"{term!r} first in {first[0][:90]!r} without its help")
    assert not missing, "\n".join(missing)


def test_seed_means_a_random_seed(page_texts) -> None:
    wrong = [t for t, _ in page_texts if ORIGINAL_STUDY_AS_SEED.search(t)]
    assert not wrong, "\n".join(wrong)


def test_the_excitations_are_called_s_everywhere(page_texts) -> None:
    wrong = [t for t, _ in page_texts if EXCITATION_AS_E.search(t)]
    assert not wrong, "\n".join(wrong)
