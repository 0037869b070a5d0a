"""What each page imports, in a fresh process: the heavy libraries stay off the paths that
do not need them (torch and torchvision take ~5 s to import on a 2-core machine, and the
first visit after a server start waits for them).
"""

from __future__ import annotations

import pytest

from tests.conftest import heavy_imports


def test_the_results_page_needs_neither_torch_nor_scikit_learn(data_dir):
    # The sidebar checks the checkpoints and the Results page draws from saved results,
    # both with NumPy and safetensors alone.
    assert heavy_imports("app_pages/results.py", str(data_dir)) == set()


@pytest.mark.slow  # a fresh process importing torch: ~5 s on two busy cores
def test_the_app_opens_on_the_lesson_with_torch_alone(data_dir):
    # The lesson runs the SENet on one image (torch), but needs no torchvision or scikit-learn.
    assert heavy_imports("app.py", str(data_dir)) == {"torch"}


@pytest.mark.slow  # a fresh process importing torch
def test_the_draw_page_needs_torch_but_not_torchvision_or_scikit_learn(data_dir):
    assert heavy_imports("app_pages/draw.py", str(data_dir)) == {"torch"}
