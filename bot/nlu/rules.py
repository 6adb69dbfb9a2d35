"""Intent rules from the city's NLU files: concepts (word lists) and prioritised rules.

Every `flows/nlu/*.yaml` except words.yaml holds rules (intents.yaml ships them; a city
adds a file such as `flows/nlu/pets.yaml` for a new intent). Concepts are shared by all
files. Intent ids are data: whatever the rules give (`intents` lists those the bot
recognises before any flow enters on them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.nlu.gazetteer import Term

BUILTINS = (
    "$item",
    "$small_item",
    "$date",
    "$garbage",
    "$garbage_kind",
    "$faq",
    "$faq_close",
    "$whole",
)
# Built-ins the engine computes only when a rule asks (the FAQ search).
DEFERRED = frozenset({"$faq", "$faq_close"})
RULE_KEYS = (
    "id",
    "intent",
    "priority",
    "all",
    "none",
    "context",
    "after",
    "outside_flows",
    "max_chars",
)
WORDS_FILE = "words.yaml"  # flows/nlu/words.yaml holds answer words, not rules


def rule_files(nlu_dir: Path) -> list[Path]:
    """The rule files of a flows/nlu folder, in name order (intents.yaml first)."""
    if not nlu_dir.is_dir():
        return []
    files = [p for p in [*nlu_dir.glob("*.yaml"), *nlu_dir.glob("*.yml")] if p.name != WORDS_FILE]
    return sorted(files, key=lambda p: (p.stem != "intents", p.name))


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
    after: frozenset[str] | None = None  # flows just ended (a follow-up in their topic)
    outside_flows: bool = False  # only while no flow is active
    # Per entry of `all` / `none`: its costly built-ins (most entries have none).
    all_deferred: tuple[frozenset[str], ...] = field(default=(), init=False, repr=False)
    none_deferred: tuple[frozenset[str], ...] = field(default=(), init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "all_deferred", tuple(e & DEFERRED for e in self.all))
        object.__setattr__(self, "none_deferred", tuple(e & DEFERRED for e in self.none))

    def applies(
        self,
        present: set[str],
        context: str | None,
        chars: int,
        recent: str | None = None,
        whole: bool = False,
        lazy: Callable[[str], bool] | None = None,
    ) -> bool:
        """`lazy(name)`: whether a costly built-in (the FAQ's) is present, asked only when
        every other condition of the rule holds."""
        if self.context is not None and context not in self.context:
            return False
        if self.after is not None and recent not in self.after:
            return False
        if self.outside_flows and context is not None:
            return False
        # max_chars keeps a word buried in a long message from counting; a message that
        # is nothing but such words (やっぱり再開してください) is not buried, however long.
        if self.max_chars is not None and chars > self.max_chars and not whole:
            return False
        for alternatives, deferred in zip(self.all, self.all_deferred, strict=True):
            if alternatives.isdisjoint(present) and not (
                deferred and lazy and any(map(lazy, deferred))
            ):
                return False
        for alternatives, deferred in zip(self.none, self.none_deferred, strict=True):
            if not alternatives.isdisjoint(present) or (
                deferred and lazy and any(map(lazy, deferred))
            ):
                return False
        return True


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    terms: tuple[Term, ...]  # concept words, payload = ("concept", name)
    recognised: frozenset[str] = frozenset()  # intents declared without a flow yet
    # The rules by priority (ties: file order): decide() stops at the first that applies.
    ranked: tuple[Rule, ...] = field(default=(), init=False, repr=False)

    @property
    def intents(self) -> frozenset[str]:
        """Every intent id these rules can give."""
        return frozenset(rule.intent for rule in self.rules if rule.intent is not None)

    def decide(
        self,
        present: set[str],
        context: str | None,
        chars: int,
        recent: str | None = None,
        whole: bool = False,
        lazy: Callable[[str], bool] | None = None,
    ) -> Rule | None:
        """The rule with the highest priority that applies (ties: the first in the files)."""
        for rule in self.ranked:
            if rule.applies(present, context, chars, recent, whole, lazy):
                return rule
        return None

    def __post_init__(self) -> None:
        ranked = tuple(sorted(self.rules, key=lambda r: (-r.priority, r.order)))
        object.__setattr__(self, "ranked", ranked)


def _entries(value: Any, concepts: dict[str, list[str]], where: str) -> tuple[frozenset[str], ...]:
    entries = []
    for entry in value or []:
        names = frozenset(part.strip() for part in str(entry).split("|"))
        unknown = [n for n in names if n not in concepts and n not in BUILTINS]
        if unknown:
            raise RuleError(f"{where}: unknown concept {', '.join(sorted(unknown))}")
        entries.append(names)
    return tuple(entries)


def _read(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle) or {}
    if not isinstance(data, dict):
        raise RuleError(f"{path}: must be a mapping with concepts and rules")
    return data


def load_rules(paths: Path | list[Path]) -> RuleSet:
    """The rules of one file or of several (concepts shared, rule ids unique in all)."""
    files = [paths] if isinstance(paths, Path) else list(paths)
    docs = [(path, _read(path)) for path in files]
    concepts: dict[str, list[str]] = {}
    recognised: set[str] = set()
    for path, data in docs:
        for name, words in (data.get("concepts") or {}).items():
            if str(name) in concepts:
                raise RuleError(f"{path}: concept {name} is defined twice")
            concepts[str(name)] = [str(word) for word in words or []]
        recognised.update(str(intent) for intent in data.get("intents") or [])
    rules: list[Rule] = []
    seen: set[str] = set()
    for path, data in docs:
        rules += _rules(path, data, concepts, seen, len(rules))
    terms = tuple(
        Term(word, ("concept", name)) for name, words in concepts.items() for word in words
    )
    return RuleSet(tuple(rules), terms, frozenset(recognised))


def _rules(
    path: Path, data: dict[str, Any], concepts: dict[str, list[str]], seen: set[str], first: int
) -> list[Rule]:
    rules = []
    for order, raw in enumerate(data.get("rules") or [], start=first):
        rule_id = str(raw.get("id") or "")
        where = f"{path}: rule {rule_id or order + 1}"
        if not rule_id or rule_id in seen:
            raise RuleError(f"{where}: every rule needs a unique id")
        seen.add(rule_id)
        unknown_keys = set(raw) - set(RULE_KEYS)
        if unknown_keys:
            raise RuleError(f"{where}: unknown keys {', '.join(sorted(unknown_keys))}")
        intent = raw.get("intent")
        if not raw.get("all"):
            raise RuleError(f"{where}: `all` must name at least one concept")
        context = raw.get("context")
        after = raw.get("after")
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
                after=frozenset(map(str, after)) if after else None,
                outside_flows=bool(raw.get("outside_flows")),
            )
        )
    return rules
