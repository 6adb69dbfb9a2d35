"""Builds and checks one flow file (called by the loader; the shared helpers are Elements)."""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.engine.checks import Reporter, hint
from bot.engine.errors import FlowError
from bot.engine.model import (
    BUILTIN_NAMES,
    SLOT_TYPES,
    Change,
    Check,
    Confirm,
    Flow,
    Option,
    Override,
    Slot,
    State,
    Transition,
)
from bot.engine.yamlloc import LDict, LList, line_of

if TYPE_CHECKING:
    from bot.engine.elements import Elements

FLOW_KEYS = (
    "id",
    "version",
    "title",
    "description",
    "entry_intents",
    "on_interrupt",
    "start",
    "data",
    "idle",
    "slots",
    "states",
)
STATE_KEYS = (
    "do",
    "say",
    "ask",
    "retry",
    "escalate",
    "confirm",
    "call",
    "with",
    "save_as",
    "next",
    "end",
    "intents",
    "idle",
)
SLOT_KEYS = (
    "type",
    "description",
    "options",
    "options_from",
    "max_length",
    "validate",
    "free_text",
)


def _mappings(node: Any) -> Iterator[dict[str, Any]]:
    """Every mapping in a parsed YAML tree (the states, their actions, transitions...)."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _mappings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _mappings(value)


def _save_as_names(raw_states: Any) -> list[str]:
    names: list[str] = []
    for mapping in _mappings(raw_states):
        name = mapping.get("save_as")
        if isinstance(name, str) and name not in names:
            names.append(name)
    return names


def _action_results(
    raw_states: Any, slots: set[str], result_keys: dict[str, frozenset[str]]
) -> dict[str, frozenset[str]]:
    """Names saved from actions (`- {action: bulky_quote, save_as: quote}`) -> the keys
    their results have. A name also asked as a slot, saved from a call, or from an action
    that declares no keys is left out: its shape is not known."""
    bound: dict[str, set[str] | None] = {}
    for mapping in _mappings(raw_states):
        name = mapping.get("save_as")
        if not isinstance(name, str):
            continue
        action = mapping.get("action")
        keys = result_keys.get(action) if isinstance(action, str) else None
        if keys is None or (name in bound and bound[name] is None):
            bound[name] = None
        else:
            bound[name] = (bound.get(name) or set()) | keys
    return {n: frozenset(k) for n, k in bound.items() if k is not None and n not in slots}


class FlowBuilder:
    def __init__(self, loader: Elements, path: Path, doc: LDict, digest: str) -> None:
        self.L = loader
        self.path = path
        self.doc = doc
        self.digest = digest
        self.rep = Reporter(str(path), loader.errors)

    def build(self) -> Flow | None:
        rep, doc = self.rep, self.doc
        rep.keys(doc, FLOW_KEYS, "flow", required=("id", "version", "title", "states"))
        fid = str(doc["id"])
        version = doc.get("version")
        if isinstance(version, bool) or not isinstance(version, (int, str)):
            if "version" in doc:
                rep.error(line_of(doc, "version"), "version must be a number or text")
            version = "?"
        title = rep.text(doc, "title", "title") or fid
        entry = doc.get("entry_intents")
        if entry is not None and not isinstance(entry, LList):
            rep.error(line_of(doc, "entry_intents"), "entry_intents must be a list of intent ids")
        on_interrupt = rep.text(doc, "on_interrupt", "on_interrupt") or "suspend"
        if on_interrupt not in ("suspend", "abandon"):
            rep.error(
                line_of(doc, "on_interrupt"),
                f"on_interrupt must be suspend or abandon, not `{on_interrupt}`",
            )
        self.data = self._data()
        raw_states = doc.get("states")
        if raw_states is not None and not isinstance(raw_states, LDict):
            rep.error(line_of(doc, "states"), "states must be a mapping of state id to state")
            raw_states = None
        if isinstance(raw_states, LDict) and not raw_states:
            rep.error(line_of(doc, "states"), "a flow needs at least one state")
        raw_states = raw_states or LDict()
        self.state_names = {str(k) for k in raw_states}
        for name in raw_states:
            if (
                not isinstance(name, str)
                or not name
                or not name[0].isalpha()
                or not name.replace("_", "a").isalnum()
            ):
                rep.error(line_of(raw_states, name), f"state id `{name}` must be a-z, 0-9, _")
        self.slots = self._slots()
        implicit = _save_as_names(raw_states)
        self.names = set(self.slots) | set(implicit) | BUILTIN_NAMES
        for name in self.slots:
            if name in BUILTIN_NAMES or name == "value":
                rep.error(line_of(doc.get("slots"), name), f"slot `{name}` is a reserved name")
        self._build_slot_checks()
        states: dict[str, State] = {}
        self.L.action_results = _action_results(
            raw_states, set(self.slots), self.L.registry.result_keys
        )
        try:
            for name, spec in raw_states.items():
                st = self._state(str(name), spec, raw_states)
                if st is not None:
                    states[str(name)] = st
        finally:
            self.L.action_results = {}
        start = (
            rep.ident(doc, "start", "start")
            if "start" in doc
            else next((str(k) for k in raw_states), None)
        )
        if start and start not in self.state_names:
            rep.error(
                line_of(doc, "start"),
                f"start state `{start}` is not defined{hint(start, self.state_names)}",
            )
        transitions = self._number(states)
        if start in states:
            self._reachability(states, start)
        idle = self.L.idle(rep, doc, "idle", self.names, self.data)
        return Flow(
            id=fid,
            version=str(version),
            key=f"{version}:{self.digest[:10]}",
            title=title,
            file=str(self.path),
            entry_intents=[str(i) for i in (entry or []) if isinstance(i, str)],
            on_interrupt=on_interrupt,
            start=start or "",
            data=self.data,
            idle=idle,
            slots=self.slots,
            states=states,
            transitions=transitions,
        )

    # ---- pieces -----------------------------------------------------------------------

    def _data(self) -> dict[str, Any]:
        raw = self.doc.get("data")
        if raw is None:
            return {}
        d = self.rep.mapping(raw, "data", line_of(self.doc, "data"))
        if d is None:
            return {}
        out = {}
        for alias in d:
            name = self.rep.text(d, alias, f"data.{alias}")
            if name is not None:
                out[str(alias)] = self.L.data_file(self.rep, name, line_of(d, alias))
        return out

    def _slots(self) -> dict[str, Slot]:
        rep = self.rep
        raw = self.doc.get("slots")
        if raw is None:
            return {}
        d = rep.mapping(raw, "slots", line_of(self.doc, "slots"))
        if d is None:
            return {}
        out: dict[str, Slot] = {}
        self._raw_slots = d
        for name, spec in d.items():
            where = f"slot `{name}`"
            s = rep.mapping(spec, where, line_of(d, name))
            if s is None:
                continue
            rep.keys(s, SLOT_KEYS, where, required=("type",))
            stype = rep.text(s, "type", where)
            if stype is not None and stype not in SLOT_TYPES:
                rep.error(
                    line_of(s, "type"),
                    f"{where}: unknown type `{stype}` (one of {', '.join(SLOT_TYPES)}){hint(stype, SLOT_TYPES)}",
                )
            slot = Slot(str(name), stype or "text")
            if "options" in s:
                slot.options = self._options(s, where)
            if slot.type == "choice" and ("options" in s) == ("options_from" in s):
                rep.error(
                    s.line, f"{where}: a choice needs exactly one of `options` or `options_from`"
                )
            if slot.type != "choice" and ("options" in s or "options_from" in s):
                rep.error(s.line, f"{where}: options only apply to type choice")
            if "max_length" in s:
                ml = s["max_length"]
                if isinstance(ml, bool) or not isinstance(ml, int) or ml < 1:
                    rep.error(
                        line_of(s, "max_length"), f"{where}: max_length must be a positive number"
                    )
                else:
                    slot.max_length = ml
            if "free_text" in s:
                if not isinstance(s["free_text"], bool):
                    rep.error(line_of(s, "free_text"), f"{where}: free_text must be true or false")
                elif slot.type != "text":
                    rep.error(line_of(s, "free_text"), f"{where}: free_text applies to type text")
                else:
                    slot.free_text = s["free_text"]
            out[str(name)] = slot
        return out

    def _build_slot_checks(self) -> None:
        d = getattr(self, "_raw_slots", None)
        if d is None:
            return
        for name, slot in self.slots.items():
            s = d[name]
            where = f"slot `{name}`"
            if "options_from" in s:
                slot.options_from = self.L.expr(
                    self.rep, s, "options_from", self.names, self.data, f"{where}.options_from"
                )
            raw = s.get("validate")
            if raw is None:
                continue
            if not isinstance(raw, LList):
                self.rep.error(
                    line_of(s, "validate"), f"{where}.validate must be a list of {{if, error}}"
                )
                continue
            for i, item in enumerate(raw):
                c = self.rep.mapping(item, f"{where}.validate", line_of(raw, i))
                if c is None:
                    continue
                self.rep.keys(c, ("if", "error"), f"{where}.validate", required=("if", "error"))
                if "if" not in c or "error" not in c:
                    continue
                names = self.names | {"value"}
                cond = self.L.expr(self.rep, c, "if", names, self.data, f"{where}.validate if")
                err = self.L.message(
                    self.rep, c, "error", names, self.data, f"{where}.validate error"
                )
                if cond and err:
                    slot.validate.append(Check(cond, err))

    def _options(self, s: LDict, where: str) -> list[Option]:
        raw = s["options"]
        if not isinstance(raw, LList) or not raw:
            self.rep.error(line_of(s, "options"), f"{where}: options must be a non-empty list")
            return []
        out = []
        for i, item in enumerate(raw):
            if isinstance(item, LDict):
                self.rep.keys(
                    item, ("value", "label", "aliases"), f"{where} option", required=("value",)
                )
                value = self.rep.text(item, "value", f"{where} option value")
                label = self.rep.text(item, "label", f"{where} option label") or value
                aliases = self.rep.text_list(item, "aliases", f"{where} option aliases")
            else:
                value = label = self.rep.text(raw, i, f"{where} option")
                aliases = []
            if value is not None and label is not None:
                out.append(Option(value, label, aliases))
        return out

    def _state(self, name: str, spec: Any, raw_states: LDict) -> State | None:
        rep, L = self.rep, self.L
        where = f"state `{name}`"
        s = rep.mapping(spec, where, line_of(raw_states, name))
        if s is None:
            return None
        rep.keys(s, STATE_KEYS, where)
        st = State(name, line_of(raw_states, name))
        st.do = L.actions(rep, s, "do", f"{where} do")
        if "say" in s:
            st.say = L.message(rep, s, "say", self.names, self.data, f"{where} say")
        if "ask" in s:
            st.ask = rep.ident(s, "ask", f"{where} ask")
            if st.ask and st.ask not in self.slots:
                rep.error(
                    line_of(s, "ask"),
                    f"{where}: asks for slot `{st.ask}`, which is not declared in `slots`{hint(st.ask, self.slots)}",
                )
        st.retry = L.messages(rep, s, "retry", self.names, self.data, f"{where} retry")
        if "escalate" in s:
            st.escalate = L.transition(
                rep, s, "escalate", name, "escalate", self.names, self.data, self.state_names
            )
        if "confirm" in s:
            st.confirm = self._confirm(s, where, name)
        if "call" in s:
            st.call = rep.ident(s, "call", f"{where} call")
            if st.call and st.call not in L.raw:
                rep.error(
                    line_of(s, "call"),
                    f"{where}: call `{st.call}`: no such flow{hint(st.call, L.raw)}",
                )
                st.call = None
            elif st.call == self.doc.get("id"):
                rep.error(line_of(s, "call"), f"{where}: a flow cannot call itself")
        if "with" in s:
            self._with(s, st, where)
        if "save_as" in s:
            st.save_as = rep.ident(s, "save_as", f"{where} save_as")
            if "call" not in s:
                rep.error(
                    line_of(s, "save_as"), f"{where}: save_as (on a state) only applies with `call`"
                )
        raw_next = s.get("next")
        if raw_next is not None:
            if not isinstance(raw_next, LList):
                rep.error(line_of(s, "next"), f"{where}: next must be a list of transitions")
            else:
                for i in range(len(raw_next)):
                    t = L.transition(
                        rep,
                        raw_next,
                        i,
                        name,
                        "next",
                        self.names,
                        self.data,
                        self.state_names,
                        allow_if=True,
                    )
                    if t is not None:
                        st.next.append(t)
        if "end" in s:
            st.end = rep.ident(s, "end", f"{where} end")
        if "intents" in s:
            self._overrides(s, st, where)
        st.idle = L.idle(rep, s, "idle", self.names, self.data)
        self._shape(s, st, where)
        return st

    def _shape(self, s: LDict, st: State, where: str) -> None:
        rep = self.rep
        kinds = [k for k in ("ask", "confirm", "call", "end") if k in s]
        if len(kinds) > 1:
            rep.error(
                st.line,
                f"{where}: use only one of ask / confirm / call / end (found {', '.join(kinds)})",
            )
            return
        if "end" in s:
            extra = [k for k in ("next", "retry", "escalate") if k in s]
            if extra:
                rep.error(st.line, f"{where}: a final state (end) cannot have {', '.join(extra)}")
            return
        if "confirm" in s:
            if "next" in s:
                rep.error(
                    line_of(s, "next"),
                    f"{where}: a confirm state continues through confirm.confirmed / change, not next",
                )
            return
        if "ask" in s:
            if not st.next and "next" not in s:
                rep.error(st.line, f"{where}: asks `{st.ask}` but has no `next`: no way out")
            return
        if "next" not in s:
            rep.error(
                st.line, f"{where}: no way out — add `next`, `ask`, `confirm`, `call` or `end`"
            )
        elif st.next and st.next[-1].cond is not None:
            what = "continues after its sub-flow" if "call" in s else "goes straight on"
            rep.error(
                line_of(s, "next"),
                f"{where}: {what} but every transition has `if`; give the last one no `if`",
            )
        elif "next" in s and isinstance(s["next"], LList) and not s["next"]:
            rep.error(line_of(s, "next"), f"{where}: next is empty: no way out")

    def _confirm(self, s: LDict, where: str, name: str) -> Confirm | None:
        rep, L = self.rep, self.L
        c = rep.mapping(s["confirm"], f"{where} confirm", line_of(s, "confirm"))
        if c is None:
            return None
        rep.keys(
            c,
            ("confirmed", "ask_change", "change"),
            f"{where} confirm",
            required=("confirmed", "change"),
        )
        dest = rep.ident(c, "confirmed", f"{where} confirm.confirmed")
        if dest and dest not in self.state_names:
            rep.error(
                line_of(c, "confirmed"),
                f"{where}: confirmed `{dest}`: no such state{hint(dest, self.state_names)}",
            )
        confirmed = Transition(
            "", name, _goto(dest), line=line_of(c, "confirmed"), kind="confirmed"
        )
        ask_change = (
            L.message(rep, c, "ask_change", self.names, self.data, f"{where} ask_change")
            if "ask_change" in c
            else None
        )
        changes: list[Change] = []
        raw = c.get("change")
        if raw is not None and (not isinstance(raw, LList) or not raw):
            rep.error(
                line_of(c, "change"), f"{where}: change must be a non-empty list of {{label, goto}}"
            )
        elif isinstance(raw, LList):
            for i, item in enumerate(raw):
                d = rep.mapping(item, f"{where} change", line_of(raw, i))
                if d is None:
                    continue
                rep.keys(
                    d,
                    ("label", "aliases", "goto", "return"),
                    f"{where} change",
                    required=("label", "goto"),
                )
                label = rep.text(d, "label", f"{where} change label") or "?"
                goto = rep.ident(d, "goto", f"{where} change goto")
                if goto and goto not in self.state_names:
                    rep.error(
                        line_of(d, "goto"),
                        f"{where}: change goto `{goto}`: no such state{hint(goto, self.state_names)}",
                    )
                back = d.get("return", True)
                if not isinstance(back, bool):
                    rep.error(line_of(d, "return"), f"{where}: return must be true or false")
                    back = True
                t = Transition("", name, _goto(goto), line=line_of(raw, i), kind="change")
                changes.append(
                    Change(label, rep.text_list(d, "aliases", f"{where} change aliases"), t, back)
                )
        return Confirm(confirmed, ask_change, changes)

    def _with(self, s: LDict, st: State, where: str) -> None:
        d = self.rep.mapping(s["with"], f"{where} with", line_of(s, "with"))
        if d is None:
            return
        if "call" not in s:
            self.rep.error(line_of(s, "with"), f"{where}: `with` only applies with `call`")
        callee = self.L.raw.get(str(s.get("call")))
        callee_slots = (
            set(callee[1].get("slots") or {})
            if callee and isinstance(callee[1].get("slots"), dict)
            else set()
        )
        for key in d:
            if callee and key not in callee_slots:
                self.rep.error(
                    line_of(d, key),
                    f"{where}: with `{key}`: flow `{s.get('call')}` has no such slot{hint(key, callee_slots)}",
                )
            e = self.L.expr(self.rep, d, key, self.names, self.data, f"{where} with.{key}")
            if e is not None:
                st.call_with[str(key)] = e

    def _overrides(self, s: LDict, st: State, where: str) -> None:
        rep, L = self.rep, self.L
        d = rep.mapping(s["intents"], f"{where} intents", line_of(s, "intents"))
        if d is None:
            return
        known = L.global_intents | set(L.intent_flows)
        for intent, spec in d.items():
            line = line_of(d, intent)
            w = f"{where} intents.{intent}"
            if intent not in known:
                rep.error(
                    line,
                    f"{w}: `{intent}` is not a global intent or any flow's entry intent{hint(intent, known)}",
                )
            if spec == "ignore":
                st.intents[str(intent)] = Override(ignore=True)
                continue
            if not isinstance(spec, LDict):
                rep.text(d, intent, w)  # explains `off` / `no`
                if not isinstance(spec, bool):
                    rep.error(
                        line, f"{w}: use `ignore` or a mapping with say / goto / start / intent"
                    )
                continue
            rep.keys(spec, ("say", "goto", "start", "intent"), w)
            target = L.target(rep, spec, w, self.state_names, need=False)
            say = (
                L.message(rep, spec, "say", self.names, self.data, f"{w} say")
                if "say" in spec
                else None
            )
            if target is None:
                continue
            if target.kind is None and say is None:
                rep.error(line, f"{w}: give `say` and/or a target")
            tr = (
                Transition("", st.name, target, line=line, kind=f"intent {intent}")
                if target.kind
                else None
            )
            st.intents[str(intent)] = Override(False, say, tr)

    def _number(self, states: dict[str, State]) -> list[Transition]:
        """Give every transition a readable, unique id (used by coverage)."""
        out: list[Transition] = []
        for st in states.values():
            items: list[tuple[Transition, str]] = [(t, "") for t in st.next]
            if st.escalate:
                items.append((st.escalate, " (escalate)"))
            if st.confirm:
                items.append((st.confirm.confirmed, " (confirmed)"))
                items.extend((c.transition, f" (change {c.label})") for c in st.confirm.change)
            for intent, ov in st.intents.items():
                if ov.transition:
                    items.append((ov.transition, f" ({intent})"))
            for t, suffix in items:
                t.id = f"{st.name}→{t.target.label()}{suffix}"
                out.append(t)
        seen: dict[str, int] = {}
        for t in out:
            n = seen.get(t.id, 0) + 1
            seen[t.id] = n
            if n > 1:
                t.id = f"{t.id} #{n}"
        return out

    def _reachability(self, states: dict[str, State], start: str) -> None:
        """Report states the start cannot reach. A state cut off only by a misspelt
        `goto` (already reported, with its `did you mean`) is not reported again: the
        typo is one root cause, and its message says how many states hang on it."""
        strict = self._reached(states, start, repair=False)
        repaired = self._reached(states, start, repair=True)
        for name, st in states.items():
            if name not in repaired:
                self.rep.error(
                    st.line, f"state `{name}` is unreachable from the start state `{start}`"
                )
        behind = len(repaired) - len(strict)
        if behind:
            self._note_follow_ons(states, behind)

    def _reached(self, states: dict[str, State], start: str, *, repair: bool) -> set[str]:
        """States reachable from `start`; with `repair`, a goto to a missing state counts
        as going to the state its `did you mean` names."""
        seen = {start}
        todo = [start]
        while todo:
            st = states.get(todo.pop())
            if st is None:
                continue
            for t in _edges(st):
                if t.target.kind != "goto":
                    continue
                name = t.target.name or ""
                if name not in states and repair:
                    close = difflib.get_close_matches(name, list(states), n=1, cutoff=0.6)
                    name = close[0] if close else name
                if name not in seen:
                    seen.add(name)
                    todo.append(name)
        return seen

    def _note_follow_ons(self, states: dict[str, State], behind: int) -> None:
        """Append to the first misspelt-goto error how many states it cuts off."""
        sink = self.rep.sink
        for i, error in enumerate(sink):
            if (
                error.file == self.rep.file
                and ": no such state (did you mean" in error.message
                and "goto `" in error.message
            ):
                note = f"; {behind} state(s) after it cannot be reached until this is fixed"
                sink[i] = FlowError(error.file, error.line, error.message + note)
                return


def _edges(st: State) -> list[Transition]:
    edges = list(st.next)
    if st.escalate:
        edges.append(st.escalate)
    if st.confirm:
        edges.append(st.confirm.confirmed)
        edges.extend(c.transition for c in st.confirm.change)
    edges.extend(ov.transition for ov in st.intents.values() if ov.transition)
    return edges


def _goto(name: str | None) -> Any:
    from bot.engine.model import Target

    return Target("goto", name)
