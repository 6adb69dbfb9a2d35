"""A real Pipeline (the lead's store and intake) with an echo responder, plus our webhooks.

The responder stands in for the engine: it replies 「受け付けました: <text>」 and, when the
text is 「選択」, offers suggestions — enough to exercise delivery without the NLU.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.channels.settings import ChannelSettings
from bot.channels.webhooks import add_channel_routes
from bot.clock import Clock
from bot.edge import EdgeLimits, install_edge
from bot.identity import NumberVault
from bot.metrics import Metrics
from bot.pipeline.service import Pipeline
from bot.store import open_store
from bot.system_texts import SystemTexts
from bot.turn import Reply, ResidentContext, Turn, TurnResult

ROOT = Path(__file__).resolve().parents[2]
SECRET = b"test-secret-key-0123456789-abcdefghijklmnop"


@dataclass
class EchoResponder:
    turns: list[Turn] = field(default_factory=list)

    def respond(
        self,
        turn: Turn,
        conversation: dict[str, Any] | None,
        resident: ResidentContext,
        services: Any,
    ) -> TurnResult:
        self.turns.append(turn)
        if turn.text == "選択":
            return TurnResult(None, [Reply("どちらにしますか。", ["はい", "いいえ"])])
        if turn.text.startswith("長文"):
            return TurnResult(None, [Reply("ご案内です。" * 150)])
        if turn.text == "お知らせ":
            return TurnResult(None, [Reply("収集日のお知らせです。", kind="notice")])
        return TurnResult(None, [Reply(f"受け付けました: {turn.text}")])


def make_pipeline(tmp_path: Path, clock: Clock | None = None) -> tuple[Pipeline, EchoResponder]:
    responder = EchoResponder()
    vault = NumberVault(SECRET)
    pipeline = Pipeline(
        store=open_store(tmp_path / "bot.db", vault.texts),
        clock=clock or Clock(),
        vault=vault,
        responder_factory=lambda: responder,
        texts=SystemTexts.load(ROOT / "flows"),
        metrics=Metrics(),
    )
    return pipeline, responder


async def start_bot(
    tmp_path: Path, cs: ChannelSettings, clock: Clock | None = None
) -> tuple[TestServer, Pipeline, EchoResponder]:
    pipeline, responder = make_pipeline(tmp_path, clock)
    await pipeline.start()
    app = web.Application()
    install_edge(app, pipeline.metrics, EdgeLimits())
    add_channel_routes(app, None, pipeline, channel_settings=cs)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    return server, pipeline, responder
