"""Warm the server's caches in the background as it starts, once per process.

Without this, the first student to open a page after a server start waits for the
imports (torch alone takes ~5 s on a 2-core machine), the models and the saved results
that every later visitor gets from the caches. A daemon thread fills the same
``st.cache_resource`` caches the pages use (app_pages/resources.py), so a page opened
while it runs waits at most for what is still loading, and one opened later waits for
nothing extra. Failures are only logged: the page that needs the resource reports them.
"""

from __future__ import annotations

import logging
import threading
import time

import numpy as np
import streamlit as st

from app_pages.resources import load_models, load_records, load_results, load_test_split
from se_demo.config import CHECKPOINT_DIR, DATASETS

_LOG = logging.getLogger(__name__)


def _warm() -> None:
    start = time.perf_counter()
    import plotly.graph_objects  # noqa: F401  (imported by every chart page)

    from se_demo import excitation, plots  # noqa: F401
    from se_demo.answers import answer_both

    for dataset in DATASETS:
        directory = CHECKPOINT_DIR / dataset
        try:
            load_records(directory)
            models = load_models(directory)
            load_results(directory)
        except Exception as error:  # the page that needs them shows it, with context
            _LOG.warning("warm-up: checkpoints in %s: %s", directory, error)
            continue
        load_test_split(dataset)
        if dataset == "mnist":  # one answer: torch's first forward pass is slow
            answer_both({name: model for name, (model, _) in models.items()}, np.zeros((28, 28)))
    _LOG.info("warm-up done in %.1f s", time.perf_counter() - start)


@st.cache_resource(show_spinner=False)
def warm_caches_in_background() -> threading.Thread:
    """Start the warm-up thread; cached, so it starts once per server process."""
    thread = threading.Thread(target=_warm, name="se-demo-warmup", daemon=True)
    thread.start()
    return thread
