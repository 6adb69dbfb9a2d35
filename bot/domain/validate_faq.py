"""Checks for flows/data/faq.yaml (よくある質問), read by bot/nlu/faq.py, the faq flow's
actions (bot/domain/actions_faq.py) and its templates (data.faq)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from bot.domain.checker import Checker, _top

FAQ_KEYS = ("link_domains", "match", "ignore", "synonyms", "aspects", "entries")
ENTRY_KEYS = (
    "topic",
    "questions",
    "answer",
    "department",
    "phone",
    "link",
    "valid_until",
    "during",
    "flow",
)
FAQ_FLOW = "faq"  # the flow that answers: an entry cannot start it again
MATCH_KEYS = ("margin", "close", "min_close", "alone")


def check_faq(doc: Any, c: Checker, flows: set[str] | None = None) -> None:
    """Entries (topic, ways of asking, answer, who to ask), synonym groups, thresholds."""
    doc = _top(c, doc, "faq.yaml")
    if doc is None:
        return
    c.keys(doc, FAQ_KEYS, "faq.yaml")
    domains = set(c.texts(doc, "link_domains", "link_domains"))
    match = c.mapping(doc, "match", "match", required=False)
    if match is not None:
        c.keys(match, MATCH_KEYS, "match")
        for key in MATCH_KEYS:
            _number(c, match, key, f"match.{key}", high=None if key == "margin" else 1.0)
    c.texts(doc, "ignore", "ignore")
    for key in ("synonyms", "aspects"):
        for i in range(len(c.seq(doc, key, key, required=False) or [])):
            c.texts(doc[key], i, f"{key}[{i + 1}]", required=True, nonempty=True)
    topics: dict[str, int] = {}
    for i, row in c.records(doc, "entries", "entries"):
        topic = c.text(row, "topic", f"entries[{i + 1}].topic")
        w = f"entry `{topic or i + 1}`"
        c.keys(row, ENTRY_KEYS, w)
        if topic:
            c.unique(topics, topic, c.line(row, "topic"), "topic")
        questions = c.texts(row, "questions", f"{w}: questions", required=True)
        if len(questions) < 2:
            c.error(c.line(row, "questions"), f"{w}: give at least two ways of asking")
        c.text(row, "answer", f"{w}: answer")
        c.text(row, "department", f"{w}: department", required=False)
        c.text(row, "phone", f"{w}: phone", required=False)
        link = c.text(row, "link", f"{w}: link", required=False)
        if link is not None:
            parts = urlsplit(link)
            if parts.scheme != "https" or parts.hostname not in domains:
                c.error(
                    c.line(row, "link"),
                    f"{w}: link must be https on the city's domains ({', '.join(sorted(domains))})",
                )
        if "valid_until" in row:
            c.a_date(row, "valid_until", f"{w}: valid_until")
        after = c.text(row, "flow", f"{w}: flow", required=False)
        if after is not None and flows is not None and (after not in flows or after == FAQ_FLOW):
            c.error(c.line(row, "flow"), f"{w}: flow `{after}` is not a flow to start")
        for j, flow in enumerate(c.texts(row, "during", f"{w}: during")):
            if flows is not None and flow not in flows:
                c.error(c.line(row["during"], j), f"{w}: during `{flow}` is not a flow id")


def _number(c: Checker, d: Any, key: str, where: str, high: float | None) -> None:
    value = d.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        c.error(c.line(d, key), f"{where}: expected a number, got `{value}`")
    elif value <= 0 or (high is not None and value > high):
        c.error(c.line(d, key), f"{where}: must be above 0{' and at most 1' if high else ''}")
