"""Message templates: sandboxed jinja2 with StrictUndefined and Japanese filters.

Staff write these, so they run in a SandboxedEnvironment; a misspelt name fails the
check (find_undeclared_variables) rather than printing a blank to a resident.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import jinja2
from jinja2 import meta
from jinja2.sandbox import SandboxedEnvironment

from bot.turn import Reply

log = logging.getLogger(__name__)

WEEKDAYS = "月火水木金土日"


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def jdate(value: Any) -> str:
    """2026-12-03 → 12月3日(木)"""
    d = _as_date(value)
    return f"{d.month}月{d.day}日({WEEKDAYS[d.weekday()]})"


def jdate_long(value: Any) -> str:
    d = _as_date(value)
    return f"{d.year}年{d.month}月{d.day}日({WEEKDAYS[d.weekday()]})"


def yen(value: Any) -> str:
    return f"{int(value):,}円"


def jlist(values: Iterable[Any], sep: str = "、") -> str:
    return sep.join(str(v) for v in values)


def numbered(values: Iterable[Any]) -> str:
    return "\n".join(f"{i}. {v}" for i, v in enumerate(values, 1))


def make_env() -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(jdate=jdate, jdate_long=jdate_long, yen=yen, jlist=jlist, numbered=numbered)
    return env


def undeclared(env: SandboxedEnvironment, source: str) -> set[str]:
    """Names a template reads that it does not define itself (syntax errors raise)."""
    return set(meta.find_undeclared_variables(env.parse(source))) - set(env.globals)


def attributes(env: SandboxedEnvironment, source: str) -> dict[tuple[str, str], int]:
    """(name, attr) pairs read as `name.attr`, with the template line of the first — to
    check data keys and action results. Left out: names the template binds itself
    anywhere (loop variables, macro parameters, set/with), which may then name something
    else, and `name.attr is defined` tests, which are how a template asks."""
    tree = env.parse(source)
    bound = {
        node.name for node in tree.find_all(jinja2.nodes.Name) if node.ctx in ("store", "param")
    }
    asked = {
        id(node.node)
        for node in tree.find_all(jinja2.nodes.Test)
        if node.name in ("defined", "undefined")
    }
    out: dict[tuple[str, str], int] = {}
    for node in tree.find_all(jinja2.nodes.Getattr):
        if (
            isinstance(node.node, jinja2.nodes.Name)
            and node.node.name not in bound
            and id(node) not in asked
        ):
            out.setdefault((node.node.name, node.attr), node.lineno)
    return out


@dataclass
class Message:
    """One thing to say: a default text and optional per-channel variants."""

    default: jinja2.Template | None
    variants: dict[str, jinja2.Template] = field(default_factory=dict)
    suggestions: list[jinja2.Template] = field(default_factory=list)
    line: int = 0

    def template_for(self, channel: str) -> jinja2.Template | None:
        return self.variants.get(channel, self.default)

    def render(
        self, names: Mapping[str, Any], channel: str, error_text: str | Callable[[], str]
    ) -> Reply:
        """Render for a channel; a run-time template failure says `error_text` instead
        (a callable is only called then)."""
        template = self.template_for(channel)
        try:
            text = render(template, names).strip() if template else ""
            chips = [render(s, names).strip() for s in self.suggestions]
        except Exception:  # a staff template failed on real data: never crash the turn
            log.exception("template failed at run time (line %s)", self.line)
            return Reply(text=error_text() if callable(error_text) else error_text)
        return Reply(text=text, suggestions=[c for c in chips if c])


def render(template: jinja2.Template, names: Mapping[str, Any]) -> str:
    """template.render(names), without rebuilding the template's globals for every call.

    jinja2 copies the template's globals (a ChainMap over the environment's) into each
    render's context; the copy is made once per template here and the names laid over it,
    which is the same context (names win over globals, as in jinja2)."""
    base = template.__dict__.get("_bot_globals")
    if base is None:
        base = template._bot_globals = dict(template.globals)  # type: ignore[attr-defined]
    context = template.new_context({**base, **names}, shared=True)
    try:
        return template.environment.concat(template.root_render_func(context))  # type: ignore[attr-defined]
    except Exception:
        return template.environment.handle_exception()
