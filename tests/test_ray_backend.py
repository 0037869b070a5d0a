"""compare on Ray (a local Ray started by the CLI) gives the in-process numbers, seed for seed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from se_demo.core.config import PROJECT_ROOT

pytestmark = pytest.mark.slow

FLAGS = ["--seeds", "2", "--epochs", "1", "--train-subset", "2000"]


def _compare(folder: Path, data_dir: Path, *backend: str) -> dict:
    command = [sys.executable, "-m", "se_demo", "compare", *FLAGS, *backend]
    command += ["--data-dir", str(data_dir), "--checkpoint-dir", str(folder)]
    done = subprocess.run(
        command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads((folder / "comparison.json").read_text())


def test_ray_gives_the_in_process_numbers(tmp_path: Path, data_dir: Path) -> None:
    here = _compare(tmp_path / "inprocess", data_dir)
    on_ray = _compare(tmp_path / "ray", data_dir, "--backend", "ray")
    for name in ("cnn", "senet"):
        assert [r["seed"] for r in on_ray["runs"][name]] == [0, 1]
        for key in ("accuracy", "f1", "parameters"):
            assert [r[key] for r in on_ray["runs"][name]] == [r[key] for r in here["runs"][name]]
    assert on_ray["accuracy"] == here["accuracy"]
    # Two seeds on 2000 images still differ: the runs are real, not copies of one.
    assert here["runs"]["senet"][0]["accuracy"] != here["runs"]["senet"][1]["accuracy"]


def test_ray_address_needs_the_ray_backend(tmp_path: Path, data_dir: Path) -> None:
    command = [sys.executable, "-m", "se_demo", "compare", *FLAGS, "--ray-address", "auto"]
    done = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "--ray-address needs --backend ray" in done.stderr
