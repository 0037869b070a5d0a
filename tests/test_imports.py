"""What each page imports, in a fresh process: the heavy libraries stay off the paths that
do not need them (torch and torchvision take ~5 s to import on a 2-core machine, and the
first visit after a server start waits for them).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from se_demo.config import DATA_ENV_VAR, PROJECT_ROOT

HEAVY = ("torch", "torchvision", "sklearn", "scipy.stats")
RUN_PAGE = """
import json, sys
from streamlit.testing.v1 import AppTest
app = AppTest.from_file({path!r}, default_timeout=120)
app.run()
assert not app.exception, app.exception
assert app.title, "the page drew nothing"
print(json.dumps([name for name in {heavy!r} if name in sys.modules]))
"""


def _heavy_imports(path: str, data_dir: str) -> set[str]:
    script = RUN_PAGE.format(path=path, heavy=HEAVY)
    env = {**os.environ, DATA_ENV_VAR: data_dir}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def test_the_app_opens_on_results_without_torch_or_scikit_learn(data_dir):
    # The sidebar checks the checkpoints and the Results page draws from saved results,
    # both with NumPy and safetensors alone.
    assert _heavy_imports("app.py", str(data_dir)) == set()


def test_the_draw_page_needs_torch_but_not_torchvision_or_scikit_learn(data_dir):
    assert _heavy_imports("app_pages/draw.py", str(data_dir)) == {"torch"}
