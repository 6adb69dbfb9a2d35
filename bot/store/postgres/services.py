"""The services a turn sees (bot.store.services.TurnServices) on the connection of the
batch's transaction, each turn in a savepoint of its own (bot.store.postgres.store runs
the turns)."""

from __future__ import annotations

from typing import Any

from bot.store import records as r
from bot.store.postgres import pipeline
from bot.store.postgres.bookings import PostgresBookings
from bot.store.postgres.connection import Conn
from bot.store.postgres.notices import PostgresNoticeService, PostgresTurnCases
from bot.store.services import Conversations, Residents


class _Residents:
    def __init__(self, services: PostgresTurnServices) -> None:
        self.services = services

    def get(self, resident_id: str) -> r.ResidentRow | None:
        self.services.savepoint()
        return pipeline.resident(self.services.conn, resident_id)


class _Conversations:
    def __init__(self, services: PostgresTurnServices) -> None:
        self.services = services

    def get(self, resident_id: str) -> dict[str, Any] | None:
        self.services.savepoint()
        return pipeline.conversation(self.services.conn, resident_id)


class PostgresTurnServices:
    """bot.store.services.TurnServices on the connection of the turn's transaction. Each
    turn runs in a savepoint, made before its first statement (`saved`), so a failing turn
    is rolled back alone, its reads' errors included."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn
        self.saved = False
        self._residents = _Residents(self)
        self._conversations = _Conversations(self)
        self._bookings = PostgresBookings(conn, self.savepoint)
        self._notices = PostgresNoticeService(conn, self.savepoint)
        self._cases = PostgresTurnCases(conn, self.savepoint)

    def savepoint(self) -> None:
        if not self.saved:
            self.conn.execute("SAVEPOINT turn")
            self.saved = True

    def undo(self) -> None:
        """Roll back what the turn wrote (nothing, if it wrote nothing)."""
        if self.saved:
            self.conn.execute("ROLLBACK TO SAVEPOINT turn")
            self.saved = False

    @property
    def residents(self) -> Residents:
        return self._residents

    @property
    def conversations(self) -> Conversations:
        return self._conversations

    @property
    def bookings(self) -> PostgresBookings:
        return self._bookings

    @property
    def notices(self) -> PostgresNoticeService:
        return self._notices

    @property
    def cases(self) -> PostgresTurnCases:
        return self._cases
