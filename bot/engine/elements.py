"""The flow loader's shared state and element compilers (messages, templates, expressions,
transitions, actions, idle rules), used by the loader and by each flow's builder."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import jinja2
import yaml

from bot.engine.actions import ActionRegistry
from bot.engine.checks import Reporter, hint
from bot.engine.errors import FlowError
from bot.engine.expr import Expr, ExprError, compile_expr
from bot.engine.model import (
    ActionCall,
    GlobalConfig,
    GlobalIntent,
    Idle,
    Target,
    Transition,
)
from bot.engine.templates import Message, attributes, make_env, undeclared
from bot.engine.yamlloc import LDict, LList, YamlProblem, line_of, text_line
from bot.engine.yamlloc import load as load_yaml
from bot.yamlsource import YamlSourceError
from bot.yamlsource import load_yaml as load_source

GLOBAL_FILE = "_global.yaml"
MESSAGE_KEYS = ("text", "sms", "rcs", "template", "suggestions")
TRANSITION_KEYS = ("if", "say", "do", "goto", "start", "start_from", "intent")
TARGET_KEYS = ("goto", "start", "start_from", "intent")
IDLE_KEYS = ("remind_after", "reminder", "expire_after", "expired")
GLOBAL_KEYS = (
    "fallback",
    "ignore",
    "intents",
    "retry",
    "escalate",
    "idle",
    "resume",
    "nothing_to_cancel",
    "ask_change",
    "error",
    "smalltalk",
    "follow_up",
)
SMALLTALK_KINDS = ("thanks", "greeting")
CHANNELS = ("sms", "rcs")
# Methods a template may call on any mapping (`quote.get("total")`), not result keys.
MAPPING_METHODS = frozenset({"get", "items", "keys", "values"})


class Elements:
    def __init__(self, directory: Path, errors: list[FlowError], actions: ActionRegistry) -> None:
        self.dir = directory
        self.registry = actions
        self.errors = errors
        self.env = make_env()
        self.raw: dict[str, tuple[Path, LDict, str]] = {}  # flow id -> (path, doc, digest)
        self.gdoc: Any = None  # _global.yaml as read
        self.data_cache: dict[str, Any] = {}
        self.intent_flows: dict[str, str] = {}  # intent -> the flow it starts
        self.global_intents: set[str] = set()
        # While a flow is built: its names saved from actions -> the keys those results have.
        self.action_results: dict[str, frozenset[str]] = {}

    # ---- top level -------------------------------------------------------------------

    def _read(self, path: Path) -> Any:
        try:
            value, problems = load_yaml(path.read_text(encoding="utf-8"))
        except YamlProblem as exc:
            self.errors.append(FlowError(str(path), exc.line, exc.message))
            return None
        except UnicodeDecodeError:
            self.errors.append(FlowError(str(path), 1, "not UTF-8 text"))
            return None
        for line, message in problems:
            self.errors.append(FlowError(str(path), line, message))
        return value

    def _intent_map(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for fid, (path, doc, _) in self.raw.items():
            rep = Reporter(str(path), self.errors)
            intents = doc.get("entry_intents")
            if intents is None:
                continue
            if not isinstance(intents, LList):
                continue  # reported by the flow builder
            for i in range(len(intents)):
                name = rep.ident(intents, i, "entry_intents")
                if name is None:
                    continue
                if name in out and out[name] != fid:
                    rep.error(
                        intents.lines[i],
                        f"entry intent `{name}` is already declared by flow `{out[name]}`",
                    )
                out.setdefault(name, fid)
        return out

    def _check_template_files(self) -> None:
        tdir = self.dir / "templates"
        if not tdir.is_dir():
            return
        for path in sorted(tdir.rglob("*.j2")):
            try:
                self.env.parse(path.read_text(encoding="utf-8"))
            except jinja2.TemplateSyntaxError as exc:
                self.errors.append(
                    FlowError(str(path), exc.lineno or 1, f"template syntax: {exc.message}")
                )

    # ---- data files ------------------------------------------------------------------

    def data_file(self, rep: Reporter, name: str, line: int) -> Any:
        if name in self.data_cache:
            return self.data_cache[name]
        path = self.dir / "data" / name
        value = None
        if ".." in Path(name).parts or not path.is_file():
            rep.error(line, f"data file `{name}` not found in {self.dir / 'data'}")
        else:
            try:
                load_source(path)  # syntax errors as one `file:line: message`
                value = yaml.safe_load(path.read_text(encoding="utf-8"))
            except YamlSourceError as exc:
                self.errors.append(FlowError(str(path), exc.line, exc.message))
            except (ValueError, TypeError, OverflowError):
                pass  # a value YAML cannot build (2026-11-31): reported by validate_folder
            except yaml.YAMLError as exc:
                mark = getattr(exc, "problem_mark", None)
                problem = getattr(exc, "problem", None) or "cannot read the file"
                self.errors.append(
                    FlowError(str(path), mark.line + 1 if mark else 1, f"YAML syntax: {problem}")
                )
        self.data_cache[name] = value
        return value

    # ---- global config ---------------------------------------------------------------

    def _global(self, gpath: Path, doc: LDict) -> GlobalConfig | None:
        rep = Reporter(str(gpath), self.errors)
        rep.keys(doc, GLOBAL_KEYS, GLOBAL_FILE, required=("fallback", "intents"))
        names = {"title", "channel", "today", "now", "notices"}
        fallback = rep.ident(doc, "fallback", "fallback") or ""
        if fallback and fallback not in self.raw:
            rep.error(
                line_of(doc, "fallback"),
                f"fallback flow `{fallback}` is not defined{hint(fallback, self.raw)}",
            )
        intents: dict[str, GlobalIntent] = {}
        raw_intents = doc.get("intents")
        if raw_intents is not None and rep.mapping(raw_intents, "intents", line_of(doc, "intents")):
            for name, spec in raw_intents.items():
                where = f"intents.{name}"
                line = line_of(raw_intents, name)
                if not isinstance(spec, LDict):
                    rep.error(line, f"{where} must be a mapping with `do`")
                    continue
                rep.keys(
                    spec, ("do", "flow", "say", "idle_rules", "idle_flow"), where, required=("do",)
                )
                do = rep.text(spec, "do", where)
                if do is not None and do not in ("cancel", "restart", "start"):
                    rep.error(
                        line_of(spec, "do"),
                        f"{where}.do must be cancel, restart or start, not `{do}`",
                    )
                flow = self._flow_ref(rep, spec, "flow", where)
                say = self.message(rep, spec, "say", names, {}, where) if "say" in spec else None
                if (
                    do == "start"
                    and not flow
                    and str(name) not in self.intent_flows
                    and say is None
                ):
                    rep.error(
                        line,
                        f"{where}: no flow declares entry intent `{name}`; add `flow:` or `say:`",
                    )
                idle_flow = self._flow_ref(rep, spec, "idle_flow", where)
                idle_rules = rep.text_list(spec, "idle_rules", f"{where}.idle_rules")
                if idle_rules and not idle_flow:
                    rep.error(line, f"{where}: `idle_rules` needs `idle_flow`")
                intents[str(name)] = GlobalIntent(
                    do or "start", flow, say, list(idle_rules or []), idle_flow
                )
        retry = self.messages(rep, doc, "retry", names, {}, "retry")
        escalate = None
        if "escalate" in doc:
            escalate = self.transition(
                rep,
                doc,
                "escalate",
                "_global",
                "escalate",
                names,
                {},
                states=set(),
                need_target=False,
            )
            if escalate and escalate.target.kind == "goto":
                rep.error(
                    line_of(doc, "escalate"),
                    "escalate in _global.yaml cannot `goto` a state; use `intent` or `start`",
                )
        idle = self.idle(rep, doc, "idle", names, {}) or Idle()
        smalltalk: dict[str, Message] = {}
        raw_small = doc.get("smalltalk")
        if raw_small is not None and rep.mapping(raw_small, "smalltalk", line_of(doc, "smalltalk")):
            rep.keys(raw_small, SMALLTALK_KINDS, "smalltalk")
            for kind in SMALLTALK_KINDS:
                if kind in raw_small:
                    said = self.message(rep, raw_small, kind, names, {}, f"smalltalk.{kind}")
                    if said is not None:
                        smalltalk[kind] = said
        return GlobalConfig(
            file=str(gpath),
            fallback=fallback,
            ignore=rep.text_list(doc, "ignore", "ignore"),
            intents=intents,
            retry=retry,
            escalate=escalate,
            idle=idle,
            resume=self.message(rep, doc, "resume", names, {}, "resume")
            if "resume" in doc
            else None,
            nothing_to_cancel=self.message(
                rep, doc, "nothing_to_cancel", names, {}, "nothing_to_cancel"
            )
            if "nothing_to_cancel" in doc
            else None,
            ask_change=self.message(rep, doc, "ask_change", names, {}, "ask_change")
            if "ask_change" in doc
            else None,
            error=self.message(rep, doc, "error", names, {}, "error") if "error" in doc else None,
            smalltalk=smalltalk,
            follow_up=rep.duration(doc, "follow_up", "follow_up") if "follow_up" in doc else None,
        )

    # ---- pieces shared by flows and the global file -----------------------------------

    def compile_template(
        self,
        rep: Reporter,
        source: str,
        line: int,
        names: set[str],
        data: dict[str, Any],
        file: str | None = None,
        exact_lines: bool = False,
    ) -> jinja2.Template | None:
        """`line`: where the template's first line is; with `exact_lines` (a literal block)
        its line N is on line + N - 1, otherwise every problem is reported at `line`."""
        report_file = file or rep.file
        exact_lines = exact_lines or file is not None
        first = 1 if file else line

        def at_line(template_line: int | None) -> int:
            return first + (template_line or 1) - 1 if exact_lines else first

        def err(at: int, message: str) -> None:
            self.errors.append(FlowError(report_file, at, message))

        try:
            found = undeclared(self.env, source)
            attrs = attributes(self.env, source)
            template = self.env.from_string(source)
        except jinja2.TemplateSyntaxError as exc:
            err(at_line(exc.lineno), f"template syntax: {exc.message}")
            return None
        for name in sorted(found - names):
            err(
                line if not file else 1,
                f"template uses `{name}`, which is not a slot or built-in name{hint(name, names)}",
            )
        self._check_data_refs(
            err, line if not file else 1, set(attrs), data, _jinja_data_keys(self.env, source)
        )
        self._check_result_refs(err, {a: at_line(at) for a, at in attrs.items() if a[0] in found})
        return template

    def _check_result_refs(self, err: Any, attrs: dict[tuple[str, str], int]) -> None:
        """`quote.totl` where `quote` is saved from an action whose result has no `totl`."""
        for (name, attr), line in sorted(attrs.items()):
            keys = self.action_results.get(name)
            if keys is None or attr in keys or attr in MAPPING_METHODS:
                continue
            err(
                line,
                f"`{name}.{attr}`: the action result saved as `{name}` has no `{attr}`"
                f" (it has: {', '.join(sorted(keys))}){hint(attr, keys)}",
            )

    def _check_data_refs(
        self,
        err: Any,
        line: int,
        attrs: set[tuple[str, str]],
        data: dict[str, Any],
        deep: set[tuple[str, str]],
    ) -> None:
        for name, alias in attrs:
            if name == "data" and alias not in data:
                err(
                    line,
                    f"`data.{alias}`: this flow has no data alias `{alias}`{hint(alias, data)}",
                )
        for alias, key in deep:
            value = data.get(alias)
            if isinstance(value, dict) and key not in value:
                err(
                    line,
                    f"`data.{alias}.{key}`: the data file has no top-level key `{key}`{hint(key, value)}",
                )

    def _flow_ref(self, rep: Reporter, spec: LDict, key: str, where: str) -> str | None:
        """An optional key naming a flow, which must exist."""
        flow = rep.ident(spec, key, where)
        if flow and flow not in self.raw:
            rep.error(
                line_of(spec, key), f"{where}: flow `{flow}` is not defined{hint(flow, self.raw)}"
            )
        return flow

    def message(
        self,
        rep: Reporter,
        container: Any,
        key: Any,
        names: set[str],
        data: dict[str, Any],
        where: str,
    ) -> Message | None:
        value = container[key]
        line = line_of(container, key)
        if isinstance(value, str):
            start, exact = text_line(container, key)
            t = self.compile_template(rep, value, start, names, data, exact_lines=exact)
            return Message(t, line=line) if t else None
        if not isinstance(value, LDict):
            rep.text(container, key, where)  # explains booleans
            if not isinstance(value, bool):
                rep.error(
                    line,
                    f"{where}: a message is text or a mapping with text/sms/rcs/template/suggestions",
                )
            return None
        rep.keys(value, MESSAGE_KEYS, where)
        msg = Message(None, line=line)
        tname = rep.text(value, "template", where)
        if tname is not None:
            base = self.dir / "templates" / tname
            found = False
            for suffix, channel in ((".j2", None), (".sms.j2", "sms"), (".rcs.j2", "rcs")):
                path = base.with_name(base.name + suffix)
                if path.is_file():
                    found = True
                    t = self.compile_template(
                        rep, path.read_text(encoding="utf-8"), 1, names, data, str(path)
                    )
                    if channel is None:
                        msg.default = t
                    elif t is not None:
                        msg.variants[channel] = t
            if not found:
                rep.error(
                    line_of(value, "template"),
                    f"{where}: template `{tname}` not found (looked for {base}.j2, .sms.j2, .rcs.j2)",
                )
        text = rep.text(value, "text", where)
        if text is not None:
            start, exact = text_line(value, "text")
            msg.default = self.compile_template(rep, text, start, names, data, exact_lines=exact)
        for channel in CHANNELS:
            src = rep.text(value, channel, where)
            if src is not None:
                start, exact = text_line(value, channel)
                t = self.compile_template(rep, src, start, names, data, exact_lines=exact)
                if t is not None:
                    msg.variants[channel] = t
        if msg.default is None and tname is None and text is None:
            missing = [c for c in CHANNELS if c not in value]
            if missing:
                rep.error(
                    line,
                    f"{where}: no text for {', '.join(missing)} (add `text:` or both `sms:` and `rcs:`)",
                )
        for i, s in enumerate(rep.text_list(value, "suggestions", f"{where}.suggestions")):
            sugg = value["suggestions"]
            t = self.compile_template(rep, s, line_of(sugg, i), names, data)
            if t is not None:
                msg.suggestions.append(t)
        return msg

    def messages(
        self,
        rep: Reporter,
        container: LDict,
        key: str,
        names: set[str],
        data: dict[str, Any],
        where: str,
    ) -> list[Message]:
        value = container.get(key)
        if value is None:
            return []
        if not isinstance(value, LList):
            rep.error(line_of(container, key), f"{where}: expected a list of messages")
            return []
        out = []
        for i in range(len(value)):
            m = self.message(rep, value, i, names, data, f"{where}[{i + 1}]")
            if m is not None:
                out.append(m)
        return out

    def expr(
        self,
        rep: Reporter,
        container: Any,
        key: Any,
        names: set[str],
        data: dict[str, Any],
        where: str,
    ) -> Expr | None:
        line = line_of(container, key)
        value = container[key]
        if isinstance(value, bool):
            rep.text(container, key, where)
            return None
        try:
            e = compile_expr(value)
        except ExprError as exc:
            rep.error(line, f"{where}: {exc}")
            return None
        for name in sorted(e.names - names):
            rep.error(line, f"{where}: `{name}` is not a slot or built-in name{hint(name, names)}")
        deep = set()
        for node in ast.walk(e.tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Attribute)
                and isinstance(node.value.value, ast.Name)
                and node.value.value.id == "data"
            ):
                deep.add((node.value.attr, node.attr))
        self._check_data_refs(rep.error, line, e.attributes, data, deep)
        self._check_result_refs(rep.error, dict.fromkeys(e.attributes, line))
        return e

    def idle(
        self, rep: Reporter, container: LDict, key: str, names: set[str], data: dict[str, Any]
    ) -> Idle | None:
        if key not in container:
            return None
        d = rep.mapping(container[key], "idle", line_of(container, key))
        if d is None:
            return None
        rep.keys(d, IDLE_KEYS, "idle")
        return Idle(
            rep.duration(d, "remind_after", "idle.remind_after"),
            self.message(rep, d, "reminder", names, data, "idle.reminder")
            if "reminder" in d
            else None,
            rep.duration(d, "expire_after", "idle.expire_after"),
            self.message(rep, d, "expired", names, data, "idle.expired")
            if "expired" in d
            else None,
        )

    def target(
        self,
        rep: Reporter,
        d: LDict,
        where: str,
        states: set[str],
        need: bool,
        names: set[str] | None = None,
        data: dict[str, Any] | None = None,
    ) -> Target | None:
        given = [k for k in TARGET_KEYS if k in d]
        if len(given) > 1:
            rep.error(
                d.line,
                f"{where}: give only one of goto / start / intent (found {', '.join(given)})",
            )
            return None
        if not given:
            if need:
                rep.error(
                    d.line, f"{where}: needs a target: goto (a state), start (a flow) or intent"
                )
                return None
            return Target(None)
        kind = given[0]
        if kind == "start_from":
            if names is None:  # only transitions may name their flow by an expression
                rep.error(line_of(d, kind), f"{where}: start_from is only for transitions")
                return None
            flow_from = self.expr(rep, d, kind, names, data or {}, f"{where}: start_from")
            return Target(kind, None, flow_from) if flow_from is not None else None
        name = rep.ident(d, kind, where)
        if name is None:
            return None
        line = line_of(d, kind)
        if kind == "goto" and name not in states:
            rep.error(line, f"{where}: goto `{name}`: no such state{hint(name, states)}")
        elif kind == "start" and name not in self.raw:
            rep.error(line, f"{where}: start `{name}`: no such flow{hint(name, self.raw)}")
        elif kind == "intent" and name not in self.intent_flows and name not in self.global_intents:
            known = set(self.intent_flows) | self.global_intents
            rep.error(
                line,
                f"{where}: intent `{name}`: no flow declares it in entry_intents and it is not a global intent{hint(name, known)}",
            )
        return Target(kind, name)

    def actions(self, rep: Reporter, container: LDict, key: str, where: str) -> list[ActionCall]:
        value = container.get(key)
        if value is None:
            return []
        if isinstance(value, str):
            value_list: Any = LList([value])
            value_list.line = line_of(container, key)
            value_list.lines = [value_list.line]
            value_list.raws = [value]
            value = value_list
        if not isinstance(value, LList):
            rep.error(line_of(container, key), f"{where}: expected a list of actions")
            return []
        out = []
        for i, item in enumerate(value):
            line = line_of(value, i)
            if isinstance(item, LDict):
                rep.keys(
                    item, ("action", "args", "save_as"), f"{where}[{i + 1}]", required=("action",)
                )
                name = rep.text(item, "action", where)
                args = item.get("args") or {}
                if not isinstance(args, dict):
                    rep.error(line_of(item, "args"), f"{where}: args must be a mapping")
                    args = {}
                save_as = rep.ident(item, "save_as", where)
            else:
                name = rep.text(value, i, where)
                args, save_as = {}, None
            if name is None:
                continue
            if name not in self.registry.actions:
                rep.error(
                    line, f"{where}: unknown action `{name}`{hint(name, self.registry.actions)}"
                )
            out.append(ActionCall(name, dict(args), save_as))
        return out

    def transition(
        self,
        rep: Reporter,
        container: Any,
        key: Any,
        source: str,
        kind: str,
        names: set[str],
        data: dict[str, Any],
        states: set[str],
        need_target: bool = True,
        allow_if: bool = False,
    ) -> Transition | None:
        d = rep.mapping(container[key], kind, line_of(container, key))
        if d is None:
            return None
        allowed = TRANSITION_KEYS if allow_if else tuple(k for k in TRANSITION_KEYS if k != "if")
        rep.keys(d, allowed, f"{source}: {kind}")
        target = self.target(rep, d, f"{source}: {kind}", states, need_target, names, data)
        if target is None:
            return None
        cond = self.expr(rep, d, "if", names, data, f"{source}: if") if "if" in d else None
        say = self.message(rep, d, "say", names, data, f"{source}: say") if "say" in d else None
        do = self.actions(rep, d, "do", f"{source}: do")
        return Transition("", source, target, cond, say, do, d.line, kind)


def _jinja_data_keys(env: jinja2.Environment, source: str) -> set[tuple[str, str]]:
    out = set()
    for node in env.parse(source).find_all(jinja2.nodes.Getattr):
        inner = node.node
        if (
            isinstance(inner, jinja2.nodes.Getattr)
            and isinstance(inner.node, jinja2.nodes.Name)
            and inner.node.name == "data"
        ):
            out.add((inner.attr, node.attr))
    return out
