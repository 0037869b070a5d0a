"""Safe by default: only inert files are shipped, and the server settings in
.streamlit/config.toml are the ones Streamlit actually runs with.

That no code unpickles a file (pickle, torch.load, np.load, joblib, ...) or runs code from
a string is ruff's job: see the S and TID251 rules in pyproject.toml.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib

from se_demo.core.config import CHECKPOINT_DIR, PROJECT_ROOT
from se_demo.drawing.preprocess import MAX_TRANSFER_BYTES, MAX_UPLOAD_BYTES

STREAMLIT_CONFIG = PROJECT_ROOT / ".streamlit" / "config.toml"


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
    # What the server receives at all; a larger image than the app accepts still arrives,
    # so that the page can say why it is refused (not only the browser, on hover).
    assert server["maxUploadSize"] * 2**20 == MAX_TRANSFER_BYTES
    assert MAX_TRANSFER_BYTES > MAX_UPLOAD_BYTES
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
        "server.maxUploadSize": MAX_TRANSFER_BYTES // 2**20,
        "server.enableXsrfProtection": True,
        "server.enableCORS": True,
        "runner.postScriptGC": False,
        "browser.gatherUsageStats": False,
    }
    assert "not a valid config option" not in result.stderr, result.stderr
