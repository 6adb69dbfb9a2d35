"""Builds the responder the pipeline calls for every turn."""

from __future__ import annotations

from pathlib import Path

from bot.clock import Clock
from bot.turn import Reply, ResidentContext, Responder, Turn, TurnResult

MENU = (
    "さくら市です。ご用件をお送りください。\n"
    "1. 粗大ごみの収集申込み\n2. 保育園の申込み・空き状況\n3. 児童手当\n4. 担当者と話す"
)


class MenuResponder:
    """Foundation seam: answers every message with the menu until the flow engine lands."""

    def respond(
        self, turn: Turn, conversation: dict | None, resident: ResidentContext, db: object
    ) -> TurnResult:
        if turn.kind != "message":
            return TurnResult(conversation=conversation)
        return TurnResult(conversation=None, replies=[Reply(MENU)])


def build_responder(flows_dir: Path, clock: Clock) -> Responder:
    return MenuResponder()
