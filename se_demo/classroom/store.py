"""The class's store: one relational database for what a class shares, through SQLAlchemy.

``SE_DEMO_DB`` is an SQLAlchemy URL. Unset, the store is SQLite in WAL mode in a file next
to the runs (``runs/class.db``), created on first use, so ``streamlit run app.py`` needs
nothing else. Replicas on several machines share a PostgreSQL server
(``postgresql+psycopg://user@host/db``). The app creates the schema and records its
version; a database written by a newer se-demo is refused with what to do.

Writes that must see one consistent queue (submitting against the limits, claiming a
run) are serialised: SQLite takes its write lock at ``BEGIN IMMEDIATE``, PostgreSQL a
transaction-level advisory lock. Claims also use ``FOR UPDATE SKIP LOCKED`` there.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    exc,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine, make_url

from se_demo.core.config import runs_root

DB_ENV_VAR = "SE_DEMO_DB"
DB_FILE_NAME = "class.db"
SCHEMA_VERSION = 2  # 1: the lab's queue; 2: + the class's own digits
CONNECT_TIMEOUT_S = 5  # an unreachable server fails a page in seconds, not minutes
_WRITE_LOCK_KEY = 0x5E_DE_40  # PostgreSQL advisory lock that serialises queue writes

metadata = MetaData()

schema_info = Table(
    "se_demo_schema",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", String(256), nullable=False),
)

lab_runs = Table(
    "lab_runs",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),  # queue order
    Column("id", String(32), unique=True, nullable=False),
    Column("owner", String(64), nullable=False, index=True),  # the session's anonymous token
    Column("state", String(16), nullable=False, index=True),
    Column("request", JSON, nullable=False),  # models, model config, train config
    Column("images", BigInteger, nullable=False),  # epochs x images x models
    Column("queued_at", Float, nullable=False),  # time.time() of each event
    Column("started_at", Float),
    Column("heartbeat_at", Float),  # the worker training it is alive
    Column("last_batch_at", Float),
    Column("usable_at", Float),  # saved: every page can show it
    Column("completed_at", Float),  # the worker is done with it
    Column("worker", String(160)),
    Column("cancel_requested", String(16)),  # None, or who asked: "owner" / "lecturer"
    Column("model", String(16)),  # the model training now
    Column("progress", JSON),  # the last TrainProgress, as a dict
    Column("curve", JSON),  # one point per logged step
    Column("message", Text, nullable=False, default=""),
    Column("run_dir", String(512)),  # relative to the runs root: DATASET/NAME
    Column("images_per_second", Float),  # measured when it finished
    Column("overhead_s", Float),  # wall time not spent on training steps
)

lab_settings = Table(
    "lab_settings",
    metadata,
    Column("id", Integer, primary_key=True),  # one row, id 1
    Column("paused", Boolean, nullable=False),
    Column("max_active_runs", Integer, nullable=False),  # queued or running, per student
    Column("max_images_per_run", BigInteger, nullable=False),  # epochs x images, per model
)


digit_sets = Table(
    "digit_sets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(120), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("archived_at", Float),  # None: the open set (at most one)
)

class_digits = Table(
    "class_digits",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(32), unique=True, nullable=False),
    Column("set_id", Integer, ForeignKey("digit_sets.id"), nullable=False, index=True),
    Column("label", Integer, nullable=False),
    Column("pixels", LargeBinary, nullable=False),  # 28x28 uint8, as the models saw it
    Column("probabilities", JSON, nullable=False),  # {model: [10 floats]}
    Column("excitations", JSON, nullable=False),  # {SE block: [C floats]} of the SENet
    Column("created_at", Float, nullable=False),
    Column("session", String(64), nullable=False, index=True),  # anonymous token, no name
)


class StoreError(Exception):
    """The class's store cannot be used (unreachable, or written by a newer se-demo)."""


def store_url() -> str:
    """``$SE_DEMO_DB``, else SQLite at ``RUNS/class.db`` (the runs folder of this moment)."""
    return os.environ.get(DB_ENV_VAR) or f"sqlite:///{runs_root().resolve() / DB_FILE_NAME}"


@dataclass
class Store:
    """An engine on the class's database, its schema checked."""

    engine: Engine

    @property
    def is_sqlite(self) -> bool:
        """True for the embedded SQLite file, False for a database server."""
        return self.engine.dialect.name == "sqlite"

    def describe(self) -> str:
        """Where the store is, for messages (no password)."""
        url = self.engine.url
        if self.is_sqlite:
            return f"the SQLite file {url.database}"
        return (
            f"{url.get_backend_name()} database {url.database!r} on {url.host or 'a local socket'}"
        )

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reading; raises `StoreError` when the database is unreachable."""
        with _translated(self), self.engine.connect() as connection:
            yield connection

    @contextmanager
    def write(self, *, serial: bool = False) -> Iterator[Connection]:
        """A transaction that commits at the end (rolls back on an exception).

        ``serial``: no other serial write runs at the same time, on any replica.
        """
        with _translated(self), self.engine.connect() as connection:
            connection.execution_options(se_demo_write=True)
            with connection.begin():
                if serial and not self.is_sqlite:  # SQLite writes are serial already
                    connection.execute(select(func.pg_advisory_xact_lock(_WRITE_LOCK_KEY)))
                yield connection

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


@contextmanager
def _translated(store: Store) -> Iterator[None]:
    try:
        yield
    except (exc.OperationalError, exc.InterfaceError) as error:
        raise StoreError(f"the class's store ({store.describe()}) cannot be reached") from error


def open_store(url: str | None = None) -> Store:
    """Connect to the store at ``url`` (default `store_url`), creating or checking its schema.

    Raises `StoreError` when it cannot be reached or was written by a newer se-demo.
    """
    url = url or store_url()
    engine = _engine(url)
    store = Store(engine)
    try:
        with store.write(serial=True) as connection:
            metadata.create_all(connection)
            _check_version(connection, url)
            if connection.execute(select(lab_settings.c.id)).first() is None:
                connection.execute(insert(lab_settings).values(id=1, **DEFAULT_LIMITS))
    except BaseException:
        engine.dispose()
        raise
    return store


DEFAULT_LIMITS: dict[str, Any] = {
    "paused": False,
    # One run at a time per student: thirty students share two cores.
    "max_active_runs": 1,
    # Two epochs of all 60,000 images: enough to beat the original study (about a minute a
    # model on two cores); a lecturer can raise it.
    "max_images_per_run": 120_000,
}


def _add_the_class_digits(connection: Connection) -> None:
    """1 -> 2: the class's digits. Their two new tables are made by ``create_all``, which
    runs first; no table of version 1 changes."""
    del connection


# Upgrades from each older schema version to the next, run in order on open.
MIGRATIONS: dict[int, Callable[[Connection], None]] = {1: _add_the_class_digits}


def _check_version(connection: Connection, url: str) -> None:
    row = connection.execute(
        select(schema_info.c.value).where(schema_info.c.key == "version")
    ).first()
    if row is None:
        connection.execute(insert(schema_info).values(key="version", value=str(SCHEMA_VERSION)))
        return
    version = int(row.value)
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"the class's store at {make_url(url).render_as_string(hide_password=True)} has "
            f"schema version {version}, written by a newer se-demo than this one (schema "
            f"{SCHEMA_VERSION}): upgrade se-demo (git pull && pip install -r requirements.txt), "
            f"or point {DB_ENV_VAR} at another database"
        )
    while version < SCHEMA_VERSION:
        MIGRATIONS[version](connection)
        version += 1
    connection.execute(
        update(schema_info).where(schema_info.c.key == "version").values(value=str(version))
    )


def _engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database:
            os.makedirs(os.path.dirname(os.path.abspath(parsed.database)), exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    connect_args = (
        {"connect_timeout": CONNECT_TIMEOUT_S} if parsed.drivername.startswith("postgresql") else {}
    )
    return create_engine(
        url, connect_args=connect_args, pool_size=5, max_overflow=60, pool_pre_ping=True
    )


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" event below says BEGIN
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; WAL stays consistent
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    # A write takes SQLite's write lock at once: two writers that both read first and then
    # upgrade would fail with "database is locked" instead of waiting their turn.
    write = connection.get_execution_options().get("se_demo_write")
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
