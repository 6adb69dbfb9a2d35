"""Mermaid stateDiagram-v2 of a flow (for `bot flows graph`; never on the message path)."""

from __future__ import annotations

from bot.engine.model import FlowSet, Transition


def _label(t: Transition) -> str:
    parts = []
    if t.kind == "next" and t.cond is not None:
        parts.append(t.cond.source)
    elif t.kind != "next":
        parts.append(t.kind)
    return " : " + _escape(" ".join(parts)) if parts else ""


def _escape(text: str) -> str:
    return text.replace(":", "：").replace("\n", " ").replace(";", "；")


def mermaid(flowset: FlowSet, flow_id: str) -> str:
    flow = flowset.flows[flow_id]
    lines = ["stateDiagram-v2", f"    %% {flow.id} v{flow.version} — {_escape(flow.title)}"]
    lines.append(f"    [*] --> {flow.start}")
    outside: set[str] = set()
    for st in flow.states.values():
        if st.ask:
            lines.append(f"    {st.name} : {st.name} (ask {st.ask})")
        elif st.confirm:
            lines.append(f"    {st.name} : {st.name} (confirm)")
        elif st.call:
            lines.append(f"    {st.name} : {st.name} (call {st.call})")
    for t in flow.transitions:
        if t.target.kind == "goto":
            dest = t.target.name
        else:
            dest = f"{t.target.kind}_{t.target.name}"
            if dest not in outside:
                outside.add(dest)
                lines.append(f"    {dest} : {t.target.kind} {t.target.name}")
        lines.append(f"    {t.source} --> {dest}{_label(t)}")
    for st in flow.states.values():
        if st.end is not None:
            lines.append(f"    {st.name} --> [*] : end {st.end}")
    return "\n".join(lines) + "\n"
