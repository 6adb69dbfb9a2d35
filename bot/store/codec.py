"""How residents' texts are sealed at rest, field by field (bot.store.sealed uses it around
any backend, and the SQLite backend's one-time sealing of older rows uses it too).

A text is `Sealer.seal(text)` (ASCII); a JSON object (a conversation, a timer's or message's
payload) is `{"sealed": <sealed JSON text>}`, so records keep their types and backends keep
their schema. Empty texts and empty objects stay as they are (nothing personal in them);
values a backend writes itself (a timer's name as its inbox text) and rows written before
sealing are read back unchanged.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

from bot.store import records as r

SEALED_KEY = "sealed"

# Where sealed values rest, for the backends' one-time sealing of rows written before texts
# were sealed (bot.store.sqlite.sealing, bot.store.postgres.sealing) and for `bot migrate
# --from` (which seals a plain SQLite city as it copies it): table → column → kind, one of
# "text", "object" (a JSON object), "texts" (a JSON list of texts) and "digest" (a text
# matched by equality, kept as a keyed hash). Both backends use these table and column
# names; a new owner's table with residents' words is listed here too.
AT_REST: dict[str, dict[str, str]] = {
    "inbox": {"text": "text", "postback": "text", "payload": "object"},
    "outbox": {"text": "text", "suggestions": "texts"},
    "conversations": {"state": "object"},
    "timers": {"payload": "object"},
    "staff_notes": {"text": "text"},
    "faq_misses": {"key": "digest", "text": "text"},
    # A resident's answer to a notice's question (a notice's own words are the city's).
    "notice_answers": {"choice": "text"},
}
# The migration ledger's entry (owner, name) of a database whose texts are all sealed.
SEALED_STEP = ("sealing", "texts sealed at rest")
# An audit detail's free text: keys ending so are sealed (bot.audit's callers use them).
FREE_TEXT_KEYS = ("reason", "text", "note", "message", "comment")


def _free_text(key: str) -> bool:
    return key.endswith(FREE_TEXT_KEYS)


R = TypeVar("R")


def _with(record: R, **changes: Any) -> R:
    """A copy of a record with some fields changed: dataclasses.replace without re-running
    __init__ (several per turn; replace cost more than the encryption itself)."""
    new = copy.copy(record)
    for name, value in changes.items():
        object.__setattr__(new, name, value)  # frozen records too: the copy is ours
    return new


class Sealer(Protocol):
    """bot.identity.TextVault."""

    def seal(self, text: str) -> str: ...

    def open(self, stored: str) -> str: ...

    def is_sealed(self, stored: str) -> bool: ...

    def digest(self, text: str) -> str: ...


class Codec:
    """How each kind of field is sealed and opened (backends' legacy migrations use it too,
    so rows sealed in place read back exactly like rows sealed on the way in)."""

    def __init__(self, sealer: Sealer) -> None:
        self.sealer = sealer

    def text(self, value: str) -> str:
        return self.sealer.seal(value) if value else value

    def open_text(self, value: str) -> str:
        return self.sealer.open(value) if value and self.sealer.is_sealed(value) else value

    def maybe_text(self, value: str | None) -> str | None:
        return None if value is None else self.text(value)

    def open_maybe_text(self, value: str | None) -> str | None:
        return None if value is None else self.open_text(value)

    def texts(self, values: Sequence[str]) -> list[str]:
        return [self.text(value) for value in values]

    def open_texts(self, values: Sequence[str]) -> list[str]:
        return [self.open_text(value) for value in values]

    def obj(self, value: dict[str, Any]) -> dict[str, Any]:
        if not value:
            return value
        text = json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))
        return {SEALED_KEY: self.sealer.seal(text)}

    def open_obj(self, value: dict[str, Any]) -> dict[str, Any]:
        if isinstance(value, dict) and len(value) == 1 and isinstance(value.get(SEALED_KEY), str):
            opened = json.loads(self.sealer.open(value[SEALED_KEY]))
            if isinstance(opened, dict):
                return opened
        return value

    def maybe_obj(self, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if value is None else self.obj(value)

    def open_maybe_obj(self, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if value is None else self.open_obj(value)

    def at_rest(self, kind: str, value: Any) -> Any:
        """A plain value of a column of AT_REST, sealed (Python values: JSON decoded)."""
        if value is None:
            return None
        if kind == "text":
            return self.text(value)
        if kind == "object":
            return self.obj(value)
        if kind == "texts":
            return self.texts(value)
        if kind == "digest":
            return self.sealer.digest(value)
        raise ValueError(f"unknown kind of sealed column: {kind!r}")

    # ---- records ------------------------------------------------------------------------

    def inbound(self, row: r.InboundRow) -> r.InboundRow:
        return _with(
            row,
            text=self.text(row.text),
            postback=self.maybe_text(row.postback),
            payload=self.obj(row.payload),
        )

    def open_claimed(self, item: r.Claimed) -> r.Claimed:
        return _with(
            item,
            text=self.open_text(item.text),
            postback=self.open_maybe_text(item.postback),
            payload=self.open_obj(item.payload),
            conversation=self.open_maybe_obj(item.conversation),
        )

    def completion(self, done: r.Completion) -> r.Completion:
        return _with(
            done,
            faq_misses=[self.faq_miss(miss) for miss in done.faq_misses],
            conversation=self.maybe_obj(done.conversation),
            timers=[_with(timer, payload=self.obj(timer.payload)) for timer in done.timers],
            staff_notes=[(kind, self.text(text)) for kind, text in done.staff_notes],
            outbox=[
                _with(out, text=self.text(out.text), suggestions=self.texts(out.suggestions))
                for out in done.outbox
            ],
        )

    def faq_miss(self, miss: r.FaqMiss) -> r.FaqMiss:
        """The question sealed; its key (the folded text) a keyed hash: the same question
        is still one counted row, and nothing of it is readable in the table."""
        return r.FaqMiss(self.sealer.digest(miss.key), self.text(miss.text))

    def open_outbox(self, item: r.OutboxItem) -> r.OutboxItem:
        return _with(
            item, text=self.open_text(item.text), suggestions=self.open_texts(item.suggestions)
        )

    def open_sent(self, message: r.SentMessage) -> r.SentMessage:
        return _with(
            message,
            text=self.open_text(message.text),
            suggestions=self.open_texts(message.suggestions),
        )

    def open_note(self, note: r.StaffNote) -> r.StaffNote:
        return _with(note, text=self.open_text(note.text))

    def open_entry(self, entry: r.TranscriptEntry) -> r.TranscriptEntry:
        return _with(
            entry, text=self.open_text(entry.text), suggestions=self.open_texts(entry.suggestions)
        )

    def detail(self, detail: dict[str, Any]) -> dict[str, Any]:
        """An audit entry's detail holds ids, counts and codes, and sometimes words staff
        typed (a reason to pass a deadline may name a resident): those — under a key
        ending in one of FREE_TEXT_KEYS — are sealed; the rest stays readable."""
        return {
            key: self.text(value) if _free_text(key) and isinstance(value, str) else value
            for key, value in detail.items()
        }

    def open_detail(self, detail: dict[str, Any]) -> dict[str, Any]:
        return {
            key: self.open_text(value) if _free_text(key) and isinstance(value, str) else value
            for key, value in detail.items()
        }
