"""The real app under ``streamlit run app.py`` on a free port, for bench/, scripts/ and
tests/, and the Chromium they drive it with (Debian's, never a downloaded one).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from se_demo.core.config import DATA_ENV_VAR, PROJECT_ROOT

CHROMIUM_ARGS = ["--disable-gpu", "--disable-quic", "--disable-dev-shm-usage"]


def chromium_path() -> str | None:
    """Debian's Chromium (``apt-get install chromium``), or None when it is not installed."""
    return shutil.which("chromium")


@dataclass
class AppServer:
    """A running ``streamlit run app.py``: its process, base URL and output log."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def output(self) -> str:
        """Everything the server has printed so far (stdout and stderr)."""
        return self.log.read_text(errors="replace")

    def tracebacks(self) -> int:
        """How many tracebacks the server has printed."""
        return self.output().count("Traceback")

    def rss_mb(self) -> float:
        """Resident memory of the server process, MB (VmRSS in /proc/PID/status)."""
        return self._status_kb("VmRSS") / 1024

    def peak_rss_mb(self) -> float:
        """Peak resident memory so far, MB (VmHWM)."""
        return self._status_kb("VmHWM") / 1024

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process (all its threads), seconds."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def cpu_wait_by_thread(self) -> dict[str, int]:
        """Nanoseconds each server thread has spent runnable but waiting for a core.

        From /proc/PID/task/*/schedstat: how much the other processes on this machine
        (the browsers, background jobs) delayed the server.
        """
        waits = {}
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            try:
                waits[task.name] = int((task / "schedstat").read_text().split()[1])
            except (OSError, IndexError, ValueError):  # a thread that just ended
                continue
        return waits

    def _status_kb(self, key: str) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
        raise KeyError(key)

    def stop(self) -> None:
        """Terminate the server, killing it if it does not exit within 10 s."""
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that no one listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_app(
    data_dir: str | os.PathLike[str] | None,
    log: Path,
    timeout_s: float = 120.0,
    env: dict[str, str] | None = None,
) -> AppServer:
    """Start the app on a free port and wait until ``/_stcore/health`` answers ``ok``.

    ``data_dir`` becomes the server's SE_DEMO_DATA (None: inherit it); ``env`` adds
    environment variables. Raises RuntimeError, with the server's output, when it exits
    or is not healthy in time.
    """
    port = free_port()
    command = [
        sys.executable, "-m", "streamlit", "run", "app.py",
        "--server.headless", "true",
        "--server.port", str(port),
        "--server.address", "127.0.0.1",
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    environment = {
        **os.environ,
        **({DATA_ENV_VAR: str(data_dir)} if data_dir else {}),
        **(env or {}),
    }
    with open(log, "wb") as sink:
        process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=environment, stdout=sink, stderr=subprocess.STDOUT
        )
    server = AppServer(process, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + timeout_s
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with {process.returncode}:\n{server.output()}")
        try:
            with urllib.request.urlopen(f"{server.url}/_stcore/health", timeout=2) as response:
                if response.read().decode().strip() == "ok":
                    return server
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"streamlit not healthy after {timeout_s:.0f} s:\n{server.output()}")
        time.sleep(0.05)
