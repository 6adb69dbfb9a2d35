"""Intent rules from flows/nlu/intents.yaml: concepts (word lists) and prioritised rules."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.nlu.gazetteer import Term

BUILTINS = ("$item", "$date")


class RuleError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    intent: str | None
    priority: int
    all: tuple[frozenset[str], ...]  # each: any of these concepts
    none: tuple[frozenset[str], ...]
    context: frozenset[str] | None
    max_chars: int | None
    order: int

    def applies(self, present: set[str], context: str | None, chars: int) -> bool:
        if self.context is not None and context not in self.context:
            return False
        if self.max_chars is not None and chars > self.max_chars:
            return False
        for alternatives in self.all:
            if alternatives.isdisjoint(present):
                return False
        return all(alternatives.isdisjoint(present) for alternatives in self.none)


@dataclass(frozen=True, slots=True)
class RuleSet:
    rules: tuple[Rule, ...]
    terms: tuple[Term, ...]  # concept words, payload = ("concept", name)

    def decide(self, present: set[str], context: str | None, chars: int) -> Rule | None:
        best: Rule | None = None
        for rule in self.rules:
            if (best is None or rule.priority > best.priority) and rule.applies(
                present, context, chars
            ):
                best = rule
        return best


def _entries(value: Any, concepts: dict[str, list[str]], where: str) -> tuple[frozenset[str], ...]:
    entries = []
    for entry in value or []:
        names = frozenset(part.strip() for part in str(entry).split("|"))
        unknown = [n for n in names if n not in concepts and n not in BUILTINS]
        if unknown:
            raise RuleError(f"{where}: unknown concept {', '.join(sorted(unknown))}")
        entries.append(names)
    return tuple(entries)


def load_rules(path: Path, intents: set[str] | None = None) -> RuleSet:
    with path.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle) or {}
    concepts = {
        str(name): [str(word) for word in words or []]
        for name, words in (data.get("concepts") or {}).items()
    }
    rules = []
    seen: set[str] = set()
    for order, raw in enumerate(data.get("rules") or []):
        rule_id = str(raw.get("id") or "")
        where = f"{path}: rule {rule_id or order + 1}"
        if not rule_id or rule_id in seen:
            raise RuleError(f"{where}: every rule needs a unique id")
        seen.add(rule_id)
        unknown_keys = set(raw) - {
            "id",
            "intent",
            "priority",
            "all",
            "none",
            "context",
            "max_chars",
        }
        if unknown_keys:
            raise RuleError(f"{where}: unknown keys {', '.join(sorted(unknown_keys))}")
        intent = raw.get("intent")
        if intent is not None and intents is not None and intent not in intents:
            raise RuleError(f"{where}: unknown intent {intent}")
        if not raw.get("all"):
            raise RuleError(f"{where}: `all` must name at least one concept")
        context = raw.get("context")
        rules.append(
            Rule(
                id=rule_id,
                intent=None if intent is None else str(intent),
                priority=int(raw.get("priority", 0)),
                all=_entries(raw.get("all"), concepts, where),
                none=_entries(raw.get("none"), concepts, where),
                context=frozenset(map(str, context)) if context else None,
                max_chars=int(raw["max_chars"]) if raw.get("max_chars") else None,
                order=order,
            )
        )
    terms = tuple(
        Term(word, ("concept", name)) for name, words in concepts.items() for word in words
    )
    return RuleSet(tuple(rules), terms)
