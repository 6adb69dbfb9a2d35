"""What residents can reach: warnings for a flow nothing starts and an intent no rule gives.

Intent ids are data: the NLU's rule files (flows/nlu/*.yaml) give them, flows enter on
them (`entry_intents`), `_global.yaml` handles a few everywhere. A flow whose intents no
rule gives and that no other flow starts is dead weight a city would not notice; so is an
entry intent no rule gives (residents cannot ask for it in words). Warnings, not errors:
the flows still work, and a city may be half-way through adding an intent.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any

from bot.engine.errors import FlowError
from bot.engine.model import FlowSet, Transition
from bot.engine.yamlloc import LDict, LList, YamlProblem, line_of
from bot.engine.yamlloc import load as load_yaml

WORDS_FILE = "words.yaml"


def rule_intents(nlu_dir: Path) -> set[str]:
    """Every intent id a rule in the folder's rule files gives (unreadable files: none)."""
    produced: set[str] = set()
    if not nlu_dir.is_dir():
        return produced
    for path in sorted([*nlu_dir.glob("*.yaml"), *nlu_dir.glob("*.yml")]):
        if path.name == WORDS_FILE:
            continue
        try:
            doc, _ = load_yaml(path.read_text(encoding="utf-8"))
        except (OSError, YamlProblem, ValueError):
            continue  # reported by the data check
        rules = doc.get("rules") if isinstance(doc, dict) else None
        for rule in rules if isinstance(rules, list) else []:
            if isinstance(rule, dict) and isinstance(rule.get("intent"), str):
                produced.add(rule["intent"])
    return produced


def _transitions(flowset: FlowSet, fid: str) -> list[Transition]:
    flow = flowset.flows[fid]
    out = list(flow.transitions)
    for state in flow.states.values():
        out += [ov.transition for ov in state.intents.values() if ov.transition]
    return out


def _started_by(flowset: FlowSet, fid: str, from_data: AbstractSet[str]) -> set[str]:
    """The flows flow `fid` can start: `start:`, `intent:` targets and sub-flow calls;
    with a `start_from:` transition, the flows the city's data names (`from_data`)."""
    out: set[str] = set()
    for t in _transitions(flowset, fid):
        if t.target.kind == "start" and t.target.name:
            out.add(t.target.name)
        elif t.target.kind == "start_from":
            out |= from_data
        elif t.target.kind == "intent":
            out |= _intent_flows(flowset, t.target.name or "")
    out |= {st.call for st in flowset.flows[fid].states.values() if st.call}
    return out


def _intent_flows(flowset: FlowSet, intent: str) -> set[str]:
    """The flows an intent leads to: its entry flow, or a global intent's flow(s)."""
    out = set()
    entry = flowset.intent_flows.get(intent)
    if entry:
        out.add(entry)
    gi = flowset.config.intents.get(intent)
    if gi is not None:
        out |= {name for name in (gi.flow, gi.idle_flow) if name}
    return out


def reach_warnings(
    flowset: FlowSet,
    produced: set[str],
    raw: dict[str, tuple[Path, LDict, str]],
    from_data: AbstractSet[str] = frozenset(),
) -> list[FlowError]:
    """Warnings (`file:line: warning: …`) for unreachable flows and intents no rule gives.
    `raw`: each flow's file and parsed YAML (for lines); `from_data`: the flows the
    city's data starts (a FAQ entry's `flow`)."""
    warnings: list[FlowError] = []
    roots = {flowset.config.fallback}
    for intent in produced:
        roots |= _intent_flows(flowset, intent)
    escalate = flowset.config.escalate
    if escalate is not None and escalate.target.kind == "intent":
        roots |= _intent_flows(flowset, escalate.target.name or "")
    reached: set[str] = set()
    todo = [fid for fid in roots if fid in flowset.flows]
    while todo:
        fid = todo.pop()
        if fid in reached:
            continue
        reached.add(fid)
        todo += [
            f
            for f in _started_by(flowset, fid, from_data)
            if f in flowset.flows and f not in reached
        ]
    for fid, flow in flowset.flows.items():
        path, doc, _ = raw[fid]
        intents = doc.get("entry_intents")
        lines = intents.lines if isinstance(intents, LList) else []
        for i, intent in enumerate(flow.entry_intents):
            if intent not in produced:
                line = lines[i] if i < len(lines) else line_of(doc, "entry_intents")
                warnings.append(
                    FlowError(
                        str(path),
                        line,
                        f"warning: entry intent `{intent}`: no rule in nlu/ gives it "
                        "(residents cannot ask for it in words)",
                    )
                )
        if fid not in reached:
            why = (
                "no rule gives its entry intents"
                if flow.entry_intents
                else "it has no entry_intents"
            )
            warnings.append(
                FlowError(
                    str(path),
                    line_of(doc, "id"),
                    f"warning: flow `{fid}` cannot be started: {why}, and no reachable "
                    "flow starts it",
                )
            )
    gfile = flowset.config.file
    gdoc: Any = raw.get("_global", (None, None, ""))[1]
    for name in flowset.config.intents:
        if name not in produced:
            line = line_of(gdoc["intents"], name) if isinstance(gdoc, LDict) else 1
            warnings.append(
                FlowError(gfile, line, f"warning: global intent `{name}`: no rule in nlu/ gives it")
            )
    return sorted(warnings)
