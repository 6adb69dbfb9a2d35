"""Checks for flows/data/garbage.yaml (ごみの分け方と収集日), read by bot/domain/garbage.py,
bot/nlu/lexicon.py and the garbage_sorting flow's templates (data.garbage)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bot.domain.checker import Checker, _top
from bot.domain.dayrule import DayRule
from bot.domain.text import fold
from bot.engine.checks import hint

GARBAGE_KEYS = (
    "put_out",
    "closed_periods",
    "unknown",
    "schedule_note",
    "categories",
    "items",
)
KIND_KEYS = (
    "name",
    "aliases",
    "bag",
    "how",
    "schedule",
    "same_days_as",
    "booking",
    "not_collected",
    "small_items",
)
THING_KEYS = ("name", "category", "how", "note", "where", "synonyms")
FLAGS = ("booking", "not_collected", "small_items")


def check_garbage(
    doc: Any,
    c: Checker,
    districts: set[str] | None = None,
    catalogue_words: dict[str, str] | None = None,
) -> None:
    """Kinds with their weekly schedule per district, items with their kind. `districts`:
    the names in districts.yaml; `catalogue_words`: folded catalogue word -> item (a word
    must mean one thing in both files)."""
    doc = _top(c, doc, "garbage.yaml")
    if doc is None:
        return
    c.keys(doc, GARBAGE_KEYS, "garbage.yaml")
    put_out = c.mapping(doc, "put_out", "put_out")
    if put_out is not None:
        c.keys(put_out, ("by", "where"), "put_out")
        c.hhmm(put_out, "by", "put_out.by")
        c.text(put_out, "where", "put_out.where")
    c.closed_periods(doc, "")
    c.text(doc, "unknown", "unknown")
    c.text(doc, "schedule_note", "schedule_note", required=False)
    words: dict[str, tuple[str, int]] = {}
    kinds = _kinds(c, doc, districts, words)
    for i, row in c.records(doc, "items", "items"):
        name = c.text(row, "name", f"items[{i + 1}].name")
        w = f"item `{name or i + 1}`"
        c.keys(row, THING_KEYS, w)
        kind = c.text(row, "category", f"{w}: category")
        if kind and kinds and kind not in kinds:
            c.error(
                c.line(row, "category"),
                f"{w}: category `{kind}` is not one of categories{hint(kind, kinds)}",
            )
        for key in ("how", "note", "where"):
            c.text(row, key, f"{w}: {key}", required=False)
        if kind and kinds.get(kind) == "not_collected" and "where" not in row:
            c.error(row.line, f"{w}: a thing the city does not collect needs `where`")
        spelled = [name] if name else []
        spelled += c.texts(row, "synonyms", f"{w}: synonyms")
        for word in spelled:
            _owned(c, words, catalogue_words, word, name or "", c.line(row, "name"))


def _kinds(
    c: Checker, doc: Any, districts: set[str] | None, words: dict[str, tuple[str, int]]
) -> dict[str, str]:
    """Check the categories; returns name -> its flag ('' when it has none)."""
    kinds: dict[str, str] = {}
    flagged: dict[str, str] = {}
    same: list[tuple[Any, str, str]] = []
    for i, row in c.records(doc, "categories", "categories"):
        name = c.text(row, "name", f"categories[{i + 1}].name")
        w = f"category `{name or i + 1}`"
        c.keys(row, KIND_KEYS, w)
        for key in ("bag", "how"):
            c.text(row, key, f"{w}: {key}", required=False)
        flag = ""
        for key in FLAGS:
            if key in row and c.boolean(row, key, f"{w}: {key}"):
                if key in flagged:
                    c.error(c.line(row, key), f"{w}: `{key}` is already on `{flagged[key]}`")
                flagged[key] = name or ""
                flag = key
        if name:
            if name in kinds:
                c.error(c.line(row, "name"), f"{w}: listed twice")
            kinds[name] = flag
            for word in [name, *c.texts(row, "aliases", f"{w}: aliases")]:
                _owned(c, words, None, word, name, c.line(row, "name"))
        if "same_days_as" in row:
            target = c.text(row, "same_days_as", f"{w}: same_days_as")
            if target:
                same.append((row, w, target))
        elif "schedule" in row:
            _schedule(c, row, w, districts)
        elif not flag:
            c.error(row.line, f"{w}: needs `schedule` (or same_days_as, booking, not_collected)")
    for row, w, target in same:
        if target not in kinds:
            c.error(
                c.line(row, "same_days_as"),
                f"{w}: same_days_as `{target}` is not a category{hint(target, kinds)}",
            )
    return kinds


def _schedule(c: Checker, row: Any, w: str, districts: set[str] | None) -> None:
    schedule = c.mapping(row, "schedule", f"{w}: schedule")
    if schedule is None:
        return
    for district in schedule:
        where = f"{w}: schedule.{district}"
        if districts is not None and str(district) not in districts:
            c.error(
                c.line(schedule, district),
                f"{where}: `{district}` is not a district of districts.yaml"
                f"{hint(district, districts)}",
            )
        for j, day in enumerate(c.texts(schedule, district, where, required=True, nonempty=True)):
            if DayRule.parse(day) is None:
                c.error(
                    c.line(schedule[district], j),
                    f"{where}[{j + 1}]: `{day}` is not a weekday (月…日) or 第N and a weekday "
                    "(第1火)",
                )
    if districts is not None:
        missing = sorted(districts - {str(d) for d in schedule})
        if missing:
            c.error(c.line(row, "schedule"), f"{w}: schedule has no days for {', '.join(missing)}")


def _owned(
    c: Checker,
    seen: dict[str, tuple[str, int]],
    catalogue: dict[str, str] | None,
    word: str,
    owner: str,
    line: int,
) -> None:
    key = fold(word)
    if catalogue is not None and key in catalogue:
        c.error(
            line,
            f"`{word}` is a catalogue.yaml word (`{catalogue[key]}`): the catalogue answers "
            "for it; remove it here",
        )
        return
    c.owned(seen, word, owner, line)


def catalogue_words(rows: Iterable[dict[str, Any]]) -> dict[str, str]:
    """Folded names and synonyms of catalogue.yaml items (accepted, refused, small)."""
    out: dict[str, str] = {}
    for row in rows:
        if isinstance(row, dict) and isinstance(row.get("name"), str):
            for word in [row["name"], *(row.get("synonyms") or [])]:
                out.setdefault(fold(str(word)), row["name"])
    return out
