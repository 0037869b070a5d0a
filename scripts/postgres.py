"""A throwaway PostgreSQL server for tests, benchmarks and trying replicas on one machine.

    python -m scripts.postgres [--workdir DIR]    # prints an SE_DEMO_DB URL; Ctrl-C stops it

Debian's ``postgresql`` package (``apt-get install postgresql``) provides the server; it
listens on a Unix socket in the work folder only, nothing on the network. initdb and
pg_ctl refuse to run as root, so as root they run as the ``postgres`` user. Throwaway
means fsync is off: fast, and nothing survives a crash of the machine.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from tools.postgres import start_postgres


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--database", default="se_demo")
    args = parser.parse_args()
    server = start_postgres(args.workdir)
    print(f"SE_DEMO_DB={server.create_database(args.database)}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
