"""Safe by default: nothing unpickles a file, only inert files are shipped, and the server
settings in .streamlit/config.toml are the ones Streamlit actually runs with."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from se_demo.config import CHECKPOINT_DIR, PROJECT_ROOT
from se_demo.preprocess import MAX_UPLOAD_BYTES

SKIPPED_DIRS = {".venv", ".git", "data", "runs", "tests", "__pycache__", "node_modules"}
# Modules whose whole purpose is (un)pickling objects: importing one is already a finding.
PICKLE_MODULES = {"pickle", "_pickle", "cPickle", "dill", "cloudpickle", "joblib", "shelve"}
# Calls that unpickle whatever file they are given.
UNPICKLING_CALLS = {
    ("torch", "load"),
    ("serialization", "load"),  # torch.serialization.load
    ("pickle", "load"),
    ("pickle", "loads"),
    ("joblib", "load"),
}
STREAMLIT_CONFIG = PROJECT_ROOT / ".streamlit" / "config.toml"


def _dotted(node: ast.expr) -> tuple[str, ...]:
    """``torch.serialization.load`` -> ("torch", "serialization", "load")."""
    if isinstance(node, ast.Attribute):
        return (*_dotted(node.value), node.attr)
    if isinstance(node, ast.Name):
        return (node.id,)
    return ()


def unpickling(source: str) -> list[str]:
    """Every import or call in ``source`` that can unpickle a file, as 'line: what'."""
    findings = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            findings += [
                f"{node.lineno}: import {alias.name}"
                for alias in node.names
                if alias.name.split(".")[0] in PICKLE_MODULES
            ]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = {alias.name for alias in node.names}
            root = node.module.split(".")[0]
            if root in PICKLE_MODULES or (root == "torch" and "load" in names):
                findings.append(f"{node.lineno}: from {node.module} import {sorted(names)}")
        elif isinstance(node, ast.Call):
            name = _dotted(node.func)
            if name[-2:] in UNPICKLING_CALLS or name[-1:] == ("read_pickle",):
                findings.append(f"{node.lineno}: {'.'.join(name)}()")
            elif name[-1:] == ("load",) and name[-2:-1] in (("np",), ("numpy",)):
                allow = next((k.value for k in node.keywords if k.arg == "allow_pickle"), None)
                if not (allow is None or (isinstance(allow, ast.Constant) and not allow.value)):
                    findings.append(f"{node.lineno}: {'.'.join(name)}(allow_pickle=...)")
    return findings


def _project_python_files() -> list[Path]:
    files = []
    for path in PROJECT_ROOT.rglob("*.py"):
        if not SKIPPED_DIRS & set(path.relative_to(PROJECT_ROOT).parts[:-1]):
            files.append(path)
    return sorted(files)


@pytest.mark.parametrize(
    "source",
    [
        "import pickle",
        "import dill as d",
        "from cloudpickle import loads",
        "import joblib.numpy_pickle",
        "import torch\nmodel = torch.load('model.pt')",
        "from torch import load",
        "import torch.serialization\ntorch.serialization.load(f)",
        "import numpy as np\nnp.load('x.npy', allow_pickle=True)",
        "import numpy\nnumpy.load(f, allow_pickle=flag)",
        "import pandas as pd\npd.read_pickle('frame.pkl')",
        "def f(joblib):\n    return joblib.load(path)",
    ],
)
def test_the_scanner_finds_unpickling(source: str) -> None:
    assert unpickling(source), source


@pytest.mark.parametrize(
    "source",
    [
        "import numpy as np\nnp.load('x.npy')",
        "import numpy as np\nnp.load('x.npy', allow_pickle=False)",
        "from safetensors.torch import load_file\nload_file('w.safetensors')",
        "import json\njson.load(handle)",
        "'''torch.load is never used here'''",
    ],
)
def test_the_scanner_passes_safe_loading(source: str) -> None:
    assert unpickling(source) == []


def test_nothing_in_the_project_unpickles() -> None:
    files = _project_python_files()
    names = {str(path.relative_to(PROJECT_ROOT)) for path in files}
    # The scan really covers the library, the app and the scripts.
    assert {"app.py", "se_demo/checkpoints.py", "se_demo/evaluate.py", "app_pages/draw.py"} <= names
    assert any(name.startswith("bench/") for name in names)
    assert not any(name.startswith(("tests/", ".venv/")) for name in names)
    findings = {
        name: found
        for path, name in ((p, str(p.relative_to(PROJECT_ROOT))) for p in files)
        if (found := unpickling(path.read_text()))
    }
    assert findings == {}


def test_shipped_checkpoints_are_json_and_safetensors_only() -> None:
    files = [path for path in CHECKPOINT_DIR.rglob("*") if path.is_file()]
    assert len(files) >= 6  # cnn, senet and evaluation of MNIST, each a record + tensors
    for path in files:
        assert path.suffix in {".json", ".safetensors"}, path
        head = path.read_bytes()[:16]
        if path.suffix == ".json":
            json.loads(path.read_text())
        else:  # 8-byte little-endian header length, then the JSON header
            assert path.read_bytes()[8:9] == b"{", path
        assert not head.startswith((b"\x80", b"PK\x03\x04")), path  # pickle, torch.save zip


def test_the_server_config_limits_uploads_and_keeps_xsrf_on() -> None:
    settings = tomllib.loads(STREAMLIT_CONFIG.read_text())
    server = settings["server"]
    assert server["maxUploadSize"] * 2**20 == MAX_UPLOAD_BYTES  # one limit, server and app
    assert server["maxUploadSize"] <= 10
    assert server["enableXsrfProtection"] is True
    assert server["enableCORS"] is True
    assert settings["runner"]["postScriptGC"] is False  # see RELIABILITY.md: load


def test_streamlit_runs_with_these_settings() -> None:
    """Streamlit ignores misspelt options with a warning: ask Streamlit itself."""
    script = (
        "import json\n"
        "from streamlit import config\n"
        "names = ['server.maxUploadSize', 'server.enableXsrfProtection', "
        "'server.enableCORS', 'runner.postScriptGC', 'browser.gatherUsageStats']\n"
        "print(json.dumps({n: config.get_option(n) for n in names}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=PROJECT_ROOT,  # where `streamlit run app.py` is started, so where it reads config
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "server.maxUploadSize": MAX_UPLOAD_BYTES // 2**20,
        "server.enableXsrfProtection": True,
        "server.enableCORS": True,
        "runner.postScriptGC": False,
        "browser.gatherUsageStats": False,
    }
    assert "not a valid config option" not in result.stderr, result.stderr
