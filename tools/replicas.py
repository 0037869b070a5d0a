"""N app replicas behind nginx on this machine, as ``python -m scripts.replicas`` starts them.

nginx's cookie (``se_route``) keeps each browser on one replica: its page, static files
and websocket (a Streamlit session lives in one process); ``X-Upstream`` names the
replica that served a response. The replicas share one store, one runs folder and one
worker process (``python -m se_demo worker``); each is visited once as it starts, so the
first student finds its caches warm.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from se_demo.classroom.store import DB_ENV_VAR
from se_demo.classroom.worker import WORKER_ENV_VAR
from se_demo.core.config import DATA_ENV_VAR, PROJECT_ROOT, RUNS_ENV_VAR
from tools.appserver import AppServer, free_port, start_app
from tools.ws_session import DrawSession, run_blocking

ROUTE_COOKIE = "se_route"
# Opened once on each replica after it starts: the lesson page loads torch and the models,
# so the first student's Draw page takes ~0.6 s instead of ~4.5 s (bench/first_visit.py).
WARM_PAGE = "how-se-works"
NGINX_CONF = """
worker_processes 1;
daemon off;
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 8192; }}
http {{
    access_log {work}/access.log;
    client_body_temp_path {work}/body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    client_max_body_size 11m;  # over Streamlit's 10 MB; the app refuses over 5 MB itself, saying why
    # Sticky sessions: the se_route cookie, or for a first request a fresh random id that
    # becomes the cookie; the same key always reaches the same replica.
    map $cookie_{cookie} $route {{ "" $request_id; default $cookie_{cookie}; }}
    map $cookie_{cookie} $set_route {{ "" "{cookie}=$request_id; Path=/; SameSite=Lax"; default ""; }}
    map $http_upgrade $connection_upgrade {{ default upgrade; "" close; }}
    upstream streamlit {{
        hash $route consistent;
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://streamlit;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_read_timeout 1d;  # a student's websocket stays open through the lesson
            proxy_buffering off;
            add_header Set-Cookie $set_route always;
            add_header X-Upstream $upstream_addr always;
        }}
    }}
}}
"""


@dataclass
class Deployment:
    """Running replicas and the nginx in front of them."""

    replicas: list[AppServer]
    nginx: subprocess.Popen[bytes]
    url: str
    workdir: Path
    worker: subprocess.Popen[bytes] | None = None
    store_url: str = ""

    def pids(self) -> list[int]:
        """The replicas' process ids (for their CPU and memory)."""
        return [replica.process.pid for replica in self.replicas]

    def stop(self) -> None:
        """Stop nginx, then every replica."""
        self.nginx.terminate()
        try:
            self.nginx.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.nginx.kill()
            self.nginx.wait()
        for replica in self.replicas:
            replica.stop()
        if self.worker is not None:
            self.worker.terminate()
            self.worker.wait(timeout=30)


def nginx_path() -> str | None:
    """Debian's nginx (``apt-get install nginx``), or None when it is not installed."""
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None
    )


def start_worker(
    store_url: str, runs: Path, data_dir: str | None, log: Path
) -> subprocess.Popen[bytes]:
    """The class's one worker on this machine: ``python -m se_demo worker``."""
    env = {**os.environ, DB_ENV_VAR: store_url, RUNS_ENV_VAR: str(runs)}
    if data_dir:
        env[DATA_ENV_VAR] = data_dir
    with open(log, "wb") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "se_demo", "worker"],
            cwd=PROJECT_ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip


def start_replicas(
    count: int,
    workdir: Path,
    port: int | None = None,
    data_dir: str | None = None,
    store_url: str | None = None,
) -> Deployment:
    """Start one worker, ``count`` replicas and nginx on ``port`` (default: a free one);
    wait until nginx answers the health check. All share ``store_url`` (default: SQLite in
    WORKDIR/runs) and WORKDIR/runs. Raises RuntimeError when nginx is missing or fails.
    """
    nginx = nginx_path()
    if nginx is None:
        raise RuntimeError("nginx is not installed: apt-get install nginx")
    workdir.mkdir(parents=True, exist_ok=True)
    runs = workdir / "runs"
    runs.mkdir(exist_ok=True)
    store_url = store_url or f"sqlite:///{runs / 'class.db'}"
    shared = {RUNS_ENV_VAR: str(runs), DB_ENV_VAR: store_url, WORKER_ENV_VAR: "none"}
    worker = start_worker(store_url, runs, data_dir, workdir / "worker.log")
    replicas: list[AppServer] = []
    try:
        for index in range(count):
            log = workdir / f"replica-{index}.log"
            replicas.append(start_app(data_dir, log, env=shared))
        port = port or free_port()
        servers = "\n".join(
            f"        server {r.url.removeprefix('http://')} max_fails=0;" for r in replicas
        )
        conf = workdir / "nginx.conf"
        conf.write_text(
            NGINX_CONF.format(work=workdir, port=port, servers=servers, cookie=ROUTE_COOKIE)
        )
        with open(workdir / "nginx.out", "wb") as sink:
            process = subprocess.Popen(
                [nginx, "-c", str(conf), "-p", str(workdir)], stdout=sink, stderr=sink
            )
    except BaseException:
        for replica in replicas:
            replica.stop()
        worker.terminate()
        raise
    deployment = Deployment(
        replicas, process, f"http://127.0.0.1:{port}", workdir, worker, store_url
    )
    _wait_healthy(deployment)
    try:
        for replica in replicas:  # the first student on each replica finds its caches warm
            run_blocking(_visit(replica.url, WARM_PAGE))
    except BaseException:
        deployment.stop()
        raise
    return deployment


async def _visit(url: str, page: str) -> None:
    session = DrawSession(url, page=page, timeout_s=120)
    await session.open()
    await session.close()


def _wait_healthy(deployment: Deployment, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if deployment.nginx.poll() is not None:
            break
        try:
            with urllib.request.urlopen(f"{deployment.url}/_stcore/health", timeout=2) as reply:
                if reply.read().decode().strip() == "ok":
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    error_log = deployment.workdir / "error.log"
    detail = error_log.read_text() if error_log.exists() else ""
    detail += (deployment.workdir / "nginx.out").read_text()
    deployment.stop()
    raise RuntimeError(f"nginx did not answer on {deployment.url}:\n{detail}")
