"""N app replicas behind nginx on this machine: sticky sessions, websocket upgrade.

    python -m scripts.replicas [--replicas 2] [--port 8501] [--workdir DIR] [--db URL | --postgres]

Starts N ``streamlit run app.py`` on free loopback ports and Debian's nginx
(``apt-get install nginx``) in front of them on ``--port``, then waits for Ctrl-C and
stops them all. nginx gives each browser a cookie (``se_route``) on its first request
and hashes it to a replica, so the page, its static files and its websocket all reach the
same replica (a Streamlit session lives in one process); a browser without the cookie
is placed at random. ``X-Upstream`` on every response names the replica that served it.
Each replica is visited once as it starts, which fills its caches (torch, the models).
The replicas share one class: one store (``--db``, default the SQLite file in
``WORKDIR/runs``; ``--postgres`` starts a throwaway PostgreSQL server), one runs folder
(``WORKDIR/runs``) and one worker process (``python -m se_demo worker``) that trains the
queue for all of them (``SE_DEMO_WORKER=none`` stops each replica starting its own).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from tools.postgres import start_postgres
from tools.replicas import start_replicas


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--replicas", type=int, default=2, help="app processes")
    parser.add_argument("--port", type=int, default=8501, help="nginx's port on 127.0.0.1")
    parser.add_argument("--workdir", type=Path, default=None, help="config, logs and runs")
    parser.add_argument("--data-dir", default=None, help="MNIST root (default: $SE_DEMO_DATA)")
    store = parser.add_mutually_exclusive_group()
    store.add_argument("--db", default=None, help="the class's store (an SQLAlchemy URL)")
    store.add_argument("--postgres", action="store_true", help="start a throwaway PostgreSQL")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="se-demo-replicas-"))
    postgres = start_postgres(workdir.resolve() / "postgres") if args.postgres else None
    url = postgres.create_database("se_demo") if postgres else args.db
    deployment = start_replicas(args.replicas, workdir.resolve(), args.port, args.data_dir, url)
    print(f"{args.replicas} replicas behind nginx: {deployment.url}  (pids {deployment.pids()})")
    print(f"the class's store: {deployment.store_url}")
    print(f"config, logs and the shared runs in {workdir}; Ctrl-C stops everything")
    try:
        while all(r.process.poll() is None for r in deployment.replicas):
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        deployment.stop()
        if postgres is not None:
            postgres.stop()


if __name__ == "__main__":
    main()
