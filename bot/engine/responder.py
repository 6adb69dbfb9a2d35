"""FlowResponder: the engine behind bot.turn.Responder, with versioned hot reload."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.clock import Clock
from bot.engine.actions import Domain
from bot.engine.errors import FlowError, FlowsInvalid, NotAFlowsFolder
from bot.engine.loader import load, load_flowset
from bot.engine.model import Flow, FlowSet
from bot.engine.runner import Run
from bot.nlu import refreshed
from bot.store.services import TurnServices
from bot.turn import ResidentContext, Turn, TurnResult

log = logging.getLogger(__name__)


class FlowResponder:
    """Answers residents from the flows in `flows_dir`. Raises FlowsInvalid at start if
    the flows fail the check; later bad edits are logged and the old flows keep serving."""

    def __init__(self, flows_dir: Path | str, nlu: Any, clock: Clock, domain: Domain) -> None:
        self.flows_dir = Path(flows_dir)
        self.nlu = nlu
        self.clock = clock
        self.domain = domain
        self.fired: set[tuple[str, str]] = set()
        self._versions: dict[tuple[str, str], Flow] = {}
        self._keys: dict[str, str] = {}
        self._stamp = self._scan()
        try:
            self.flowset: FlowSet = load_flowset(self.flows_dir, domain)
        except FlowsInvalid as exc:
            for e in exc.errors:
                log.error("flows refused at start: %s", e)
            raise
        self._remember(self.flowset)

    def respond(
        self,
        turn: Turn,
        conversation: dict[str, Any] | None,
        resident: ResidentContext,
        services: TurnServices,
    ) -> TurnResult:
        return Run(self, turn, conversation, resident, services).go()

    def intent(self, text: str, now: datetime) -> str | None:
        """What `text` asks for (the pipeline's handoff rules use it)."""
        return getattr(self.nlu.understand(text, now), "intent", None)

    # ---- versions ---------------------------------------------------------------------

    def _remember(self, flowset: FlowSet) -> None:
        for flow in flowset.flows.values():
            self._versions.setdefault((flow.id, flow.key), flow)

    def flow_for(self, frame: dict[str, Any]) -> Flow | None:
        """The exact version a conversation started on; else the current one if its state
        still exists there (e.g. after a server restart)."""
        flow = self._versions.get((frame.get("flow", ""), frame.get("version", "")))
        if flow is not None:
            return flow
        current = self.flowset.flows.get(frame.get("flow", ""))
        if current is not None and frame.get("state") in current.states:
            frame["version"] = current.key
            return current
        return None

    def reload(self) -> list[FlowError]:
        """Re-check the flows; swap them in only if clean. Returns the errors (logged)."""
        self._stamp = self._scan()
        try:
            flowset, errors = load(self.flows_dir, self.domain)
        except NotAFlowsFolder as exc:  # the folder or its _global.yaml went away
            flowset, errors = None, [FlowError(str(self.flows_dir), 1, str(exc))]
        if errors or flowset is None:
            for e in errors:
                log.error("flow reload refused: %s", e)
            return errors
        self._remember(flowset)
        self.flowset = flowset
        self.nlu = refreshed(self.nlu)  # the NLU reads flows/nlu and flows/data too
        log.info(
            "flows reloaded: %s", ", ".join(f"{f.id} v{f.version}" for f in flowset.flows.values())
        )
        return []

    def maybe_reload(self) -> list[FlowError] | None:
        """Reload only if a file under flows_dir changed since the last look (mtime poll)."""
        if self._scan() == self._stamp:
            return None
        return self.reload()

    def _scan(self) -> tuple[tuple[str, int, int], ...]:
        out = []
        for path in sorted(self.flows_dir.rglob("*")):
            try:
                info = path.stat()
            except OSError:
                continue
            out.append((str(path), info.st_mtime_ns, info.st_size))
        return tuple(out)

    def key(self, text: str) -> str:
        """The NLU's matching key of a text (cached: labels and aliases repeat)."""
        cached = self._keys.get(text)
        if cached is None:
            cached = self.nlu.key(text)
            if len(self._keys) < 10000:
                self._keys[text] = cached
        return cached
