"""CPU and memory of server processes over time, sampled from /proc in a thread."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process (all its threads), seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_queue_seconds(pid: int) -> float:
    """Seconds the process's threads have spent runnable but waiting for a core.

    From /proc/PID/task/*/schedstat (threads that ended are not counted): how much the
    other processes on the machine (or the process's own threads) kept it off the CPUs.
    """
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[1])
        except (OSError, IndexError, ValueError):  # a thread that just ended
            continue
    return total / 1e9


def rss_mb(pid: int) -> float:
    """Resident memory of one process, MB (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class ServerStats:
    """Samples the summed CPU and RSS of ``pids`` every ``interval_s`` between start/stop."""

    def __init__(self, pids: list[int], interval_s: float = 1.0) -> None:
        self.pids = pids
        self.interval_s = interval_s
        # (time s, CPU s, waiting for a core s, RSS MB)
        self.samples: list[tuple[float, float, float, float]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> tuple[float, float, float, float]:
        cpu = sum(cpu_seconds(pid) for pid in self.pids)
        wait = sum(run_queue_seconds(pid) for pid in self.pids)
        return time.monotonic(), cpu, wait, sum(rss_mb(pid) for pid in self.pids)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.samples.append(self._sample())

    def start(self) -> None:
        """Begin a new series of samples."""
        self.samples = [self._sample()] if self.pids else []
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def stop(self) -> dict[str, Any]:
        """End the series: cores busy and cores' worth of waiting for a core (averages),
        RSS at start and peak, the load average and the samples.
        """
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        load = " ".join(f"{x:.1f}" for x in os.getloadavg())
        if not self.pids:
            return {"cpu_cores": float("nan"), "wait_cores": float("nan"), "rss_start_mb": 0.0,
                    "rss_peak_mb": 0.0, "load": load, "samples": []}  # fmt: skip
        self.samples.append(self._sample())
        (t0, c0, w0, r0), (t1, c1, w1, _) = self.samples[0], self.samples[-1]
        return {
            "cpu_cores": (c1 - c0) / max(t1 - t0, 1e-9),
            "wait_cores": (w1 - w0) / max(t1 - t0, 1e-9),
            "rss_start_mb": r0,
            "rss_peak_mb": max(r for *_, r in self.samples),
            "load": load,
            "samples": [
                (round(t - t0, 1), round(c - c0, 2), round(w - w0, 2), round(r))
                for t, c, w, r in self.samples
            ],
        }
