"""The class's own digits: every student's labelled drawing, kept in the class's store.

A digit is stored exactly as the models saw it (28x28, uint8 like MNIST's files), with
its label, both models' probabilities, the SENet's excitations, the time and the
session's anonymous token; nothing else (no name, no address, no full-size canvas).
Digits belong to a *set*; one set is open at a time. The lecturer (with the key)
deletes digits, archives the open set and starts a new one, or reopens an archived one.
A session may add one digit a second and `MAX_PER_SESSION` per set, and take back its
own digits only.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import delete, func, insert, select, update

from se_demo.classroom.queue import ClassQueue
from se_demo.classroom.store import Store, class_digits, digit_sets
from se_demo.core.config import IMAGE_SIZE, NUM_CLASSES

MIN_INTERVAL_S = 1.0  # one digit a second per session
MAX_PER_SESSION = 100  # digits per session in one set


class DigitRefused(ValueError):
    """A digit was not added (or not taken back); the message says why. Nothing changed."""


@dataclass(frozen=True)
class DigitSet:
    """One set of the class's digits."""

    id: int
    name: str
    created_at: float
    archived_at: float | None
    count: int

    @property
    def is_open(self) -> bool:
        """Whether digits are added to this set now."""
        return self.archived_at is None


@dataclass(frozen=True)
class ClassDigitArrays:
    """A set's digits as arrays, in the order they were added."""

    ids: list[str]
    labels: np.ndarray  # (N,) int64
    images: np.ndarray  # (N, 28, 28) uint8
    probabilities: dict[str, np.ndarray]  # model -> (N, 10)
    excitations: dict[str, np.ndarray]  # SE block -> (N, C)
    sessions: list[str]
    created_at: np.ndarray  # (N,) seconds since the epoch

    def __len__(self) -> int:
        return len(self.ids)


def quantize(digit: np.ndarray) -> np.ndarray:
    """A digit in [0, 1] as MNIST stores it: (28, 28) uint8, 0-255."""
    values = np.asarray(digit, dtype=np.float64)
    if values.shape != (IMAGE_SIZE, IMAGE_SIZE):
        raise DigitRefused(f"a digit is {IMAGE_SIZE}x{IMAGE_SIZE} pixels, not {values.shape}")
    return np.clip(np.rint(values * 255.0), 0, 255).astype(np.uint8)


class ClassDigits:
    """The class's digits on a store: what the Draw page, the class page and the CLI call."""

    def __init__(self, queue: ClassQueue, *, clock: Callable[[], float] = time.time) -> None:
        self.store: Store = queue.store
        self._queue = queue  # holds the lecturer's key
        self._clock = clock

    def is_lecturer(self, key: str | None) -> bool:
        """Whether ``key`` is the lecturer's key (the queue's, compared in constant time)."""
        return self._queue.is_lecturer(key)

    # --- sets -------------------------------------------------------------------------
    def open_set(self) -> DigitSet:
        """The set digits go to now (created the first time)."""
        with self.store.write(serial=True) as connection:
            return self._open_set(connection)

    def _open_set(self, connection: Any) -> DigitSet:
        row = connection.execute(
            select(digit_sets).where(digit_sets.c.archived_at.is_(None))
        ).first()
        if row is None:
            number = connection.execute(select(func.count()).select_from(digit_sets)).scalar_one()
            set_id = connection.execute(
                insert(digit_sets)
                .values(name=f"Class set {number + 1}", created_at=self._clock())
                .returning(digit_sets.c.id)
            ).scalar_one()
            return DigitSet(set_id, f"Class set {number + 1}", self._clock(), None, 0)
        return DigitSet(row.id, row.name, row.created_at, None, self._count(connection, row.id))

    def _count(self, connection: Any, set_id: int) -> int:
        return int(
            connection.execute(
                select(func.count())
                .select_from(class_digits)
                .where(class_digits.c.set_id == set_id)
            ).scalar_one()
        )

    def sets(self) -> list[DigitSet]:
        """Every set, newest first, with how many digits each holds."""
        counts = (
            select(class_digits.c.set_id, func.count().label("n"))
            .group_by(class_digits.c.set_id)
            .subquery()
        )
        with self.store.read() as connection:
            rows = connection.execute(
                select(digit_sets, counts.c.n)
                .outerjoin(counts, counts.c.set_id == digit_sets.c.id)
                .order_by(digit_sets.c.id.desc())
            ).all()
        return [DigitSet(r.id, r.name, r.created_at, r.archived_at, int(r.n or 0)) for r in rows]

    def archive_and_start_new(self, key: str | None, name: str | None = None) -> DigitSet:
        """Archive the open set and open a new, empty one (lecturer only)."""
        self._queue.require_lecturer(key)
        with self.store.write(serial=True) as connection:
            connection.execute(
                update(digit_sets)
                .where(digit_sets.c.archived_at.is_(None))
                .values(archived_at=self._clock())
            )
            number = connection.execute(select(func.count()).select_from(digit_sets)).scalar_one()
            name = name or f"Class set {number + 1}"
            set_id = connection.execute(
                insert(digit_sets)
                .values(name=name, created_at=self._clock())
                .returning(digit_sets.c.id)
            ).scalar_one()
        return DigitSet(set_id, name, self._clock(), None, 0)

    def reopen(self, set_id: int, key: str | None) -> None:
        """Make an archived set the open one again, archiving the open one (lecturer only)."""
        self._queue.require_lecturer(key)
        with self.store.write(serial=True) as connection:
            if (
                connection.execute(select(digit_sets.c.id).where(digit_sets.c.id == set_id)).first()
                is None
            ):
                raise KeyError(set_id)
            connection.execute(
                update(digit_sets)
                .where(digit_sets.c.archived_at.is_(None))
                .values(archived_at=self._clock())
            )
            connection.execute(
                update(digit_sets).where(digit_sets.c.id == set_id).values(archived_at=None)
            )

    # --- digits -----------------------------------------------------------------------
    def next_label(self, session: str) -> int:
        """The label to ask this session for: one of the rarest in the open set, so the
        class's set stays balanced across 0-9 (students asked at once get different ones)."""
        with self.store.read() as connection:
            open_id = connection.execute(
                select(digit_sets.c.id).where(digit_sets.c.archived_at.is_(None))
            ).scalar()
            rows = (
                connection.execute(
                    select(class_digits.c.label, func.count())
                    .where(class_digits.c.set_id == open_id)
                    .group_by(class_digits.c.label)
                ).all()
                if open_id is not None
                else []
            )
        counts = np.zeros(NUM_CLASSES, dtype=np.int64)
        for label, count in rows:
            counts[label] = count
        rarest = np.flatnonzero(counts == counts.min())
        pick = int.from_bytes(hashlib.sha256(f"{session}:{counts.sum()}".encode()).digest()[:4])
        return int(rarest[pick % len(rarest)])

    def add(
        self,
        label: int,
        pixels: np.ndarray,
        probabilities: Mapping[str, np.ndarray],
        excitations: Mapping[str, np.ndarray],
        session: str,
    ) -> str:
        """Add one labelled digit to the open set; returns its id.

        Raises `DigitRefused` (nothing stored) for a label outside 0-9, a blank image, or a
        session over its limits (one a second, `MAX_PER_SESSION` per set).
        """
        if (
            isinstance(label, bool)
            or not isinstance(label, int | np.integer)
            or not 0 <= label <= 9
        ):
            raise DigitRefused(f"A digit's label is a whole number from 0 to 9, not {label!r}.")
        image = np.asarray(pixels)
        if image.dtype != np.uint8 or image.shape != (IMAGE_SIZE, IMAGE_SIZE):
            raise DigitRefused(f"a digit is {IMAGE_SIZE}x{IMAGE_SIZE} uint8 pixels")
        if not image.any():
            raise DigitRefused("The canvas is empty: draw a digit first. Nothing was added.")
        digit_id = secrets.token_hex(6)
        now = self._clock()
        with self.store.write(serial=True) as connection:
            open_set = self._open_set(connection)
            mine = connection.execute(
                select(func.count(), func.max(class_digits.c.created_at)).where(
                    class_digits.c.set_id == open_set.id, class_digits.c.session == session
                )
            ).one()
            if mine[0] >= MAX_PER_SESSION:
                raise DigitRefused(
                    f"You have added {MAX_PER_SESSION} digits to this set, the most one "
                    "session may. Thank you! Nothing more was added."
                )
            if mine[1] is not None and now - mine[1] < MIN_INTERVAL_S:
                raise DigitRefused("One digit a second, please: that one was not added.")
            connection.execute(
                insert(class_digits).values(
                    id=digit_id,
                    set_id=open_set.id,
                    label=int(label),
                    pixels=image.tobytes(),
                    probabilities={m: [float(p) for p in v] for m, v in probabilities.items()},
                    excitations={b: [float(e) for e in v] for b, v in excitations.items()},
                    created_at=now,
                    session=session,
                )
            )
        return digit_id

    def take_back(self, digit_id: str, session: str) -> None:
        """Delete one of this session's own digits. Raises `DigitRefused` for anyone else's
        (or an unknown) digit; nothing is deleted then."""
        with self.store.write(serial=True) as connection:
            row = connection.execute(
                select(class_digits.c.session).where(class_digits.c.id == digit_id)
            ).first()
            if row is None or not hmac.compare_digest(row.session, session):
                raise DigitRefused("Only the session that added a digit can take it back.")
            connection.execute(delete(class_digits).where(class_digits.c.id == digit_id))

    def delete(self, digit_id: str, key: str | None) -> None:
        """Delete any digit (lecturer only)."""
        self._queue.require_lecturer(key)
        with self.store.write(serial=True) as connection:
            connection.execute(delete(class_digits).where(class_digits.c.id == digit_id))

    def mine(self, session: str) -> list[str]:
        """This session's digits in the open set, oldest first."""
        open_set = self.open_set()
        with self.store.read() as connection:
            return list(
                connection.execute(
                    select(class_digits.c.id)
                    .where(class_digits.c.set_id == open_set.id, class_digits.c.session == session)
                    .order_by(class_digits.c.seq)
                ).scalars()
            )

    def arrays(self, set_id: int | None = None) -> ClassDigitArrays:
        """A set's digits (default: the open set) as arrays."""
        set_id = self.open_set().id if set_id is None else set_id
        with self.store.read() as connection:
            rows = connection.execute(
                select(class_digits)
                .where(class_digits.c.set_id == set_id)
                .order_by(class_digits.c.seq)
            ).all()
        return _arrays(rows)

    def add_many(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        probabilities: Mapping[str, np.ndarray],
        excitations: Mapping[str, np.ndarray],
        session: str,
    ) -> int:
        """Add digits in one go to the open set (the command line's import): no per-session
        limits, same checks on every label and image. Returns how many were added."""
        for label in labels:
            if not 0 <= int(label) <= 9:
                raise DigitRefused(f"A digit's label is a whole number from 0 to 9, not {label}.")
        now = self._clock()
        with self.store.write(serial=True) as connection:
            open_set = self._open_set(connection)
            connection.execute(
                insert(class_digits),
                [
                    {
                        "id": secrets.token_hex(6),
                        "set_id": open_set.id,
                        "label": int(labels[i]),
                        "pixels": np.asarray(images[i], dtype=np.uint8).tobytes(),
                        "probabilities": {
                            m: [float(p) for p in v[i]] for m, v in probabilities.items()
                        },
                        "excitations": {
                            b: [float(e) for e in v[i]] for b, v in excitations.items()
                        },
                        "created_at": now,
                        "session": session,
                    }
                    for i in range(len(labels))
                ],
            )
        return len(labels)


def _arrays(rows: Sequence[Any]) -> ClassDigitArrays:
    count = len(rows)
    images = np.zeros((count, IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    for index, row in enumerate(rows):
        images[index] = np.frombuffer(row.pixels, dtype=np.uint8).reshape(IMAGE_SIZE, IMAGE_SIZE)
    models = rows[0].probabilities.keys() if rows else ()
    blocks = rows[0].excitations.keys() if rows else ()
    return ClassDigitArrays(
        ids=[row.id for row in rows],
        labels=np.array([row.label for row in rows], dtype=np.int64),
        images=images,
        probabilities={
            m: np.array([row.probabilities[m] for row in rows], dtype=np.float64).reshape(count, -1)
            for m in models
        },
        excitations={
            b: np.array([row.excitations[b] for row in rows], dtype=np.float64).reshape(count, -1)
            for b in blocks
        },
        sessions=[row.session for row in rows],
        created_at=np.array([row.created_at for row in rows], dtype=np.float64),
    )
