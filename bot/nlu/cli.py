"""`bot nlu`: what the bot understands of each text (JSON lines or a readable explanation)."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

from bot.nlu import load_nlu
from bot.nlu.understanding import Understanding
from bot.nlu.userdict import UserDictError


def explain(understanding: Understanding) -> str:
    lines = [f"text:     {understanding.text}"]
    rule = f" (rule {understanding.rule})" if understanding.rule else " (no rule matched)"
    lines.append(f"intent:   {understanding.intent}{rule}")
    if understanding.dates:
        lines.append("dates:    " + ", ".join(day.isoformat() for day in understanding.dates))
    for item in understanding.items:
        detail = item.kind if item.group is None else f"{item.kind}, {item.group}"
        variant = f", variant {item.variant}" if item.variant else ""
        lines.append(f"item:     {item.name} x{item.quantity} ({detail}{variant})")
    if understanding.numbers:
        lines.append("numbers:  " + ", ".join(map(str, understanding.numbers)))
    if understanding.yes_no:
        lines.append(f"yes_no:   {understanding.yes_no}")
    if understanding.district:
        town = f" ({understanding.town})" if understanding.town else ""
        lines.append(f"district: {understanding.district}{town}")
    if understanding.choice is not None:
        lines.append(f"choice:   {understanding.choice}")
    lines.append(f"key:      {understanding.key}")
    return "\n".join(lines)


def run_nlu(
    texts: list[str],
    now: datetime | None,
    as_json: bool,
    flows: Path = Path("flows"),
    dictionaries: Path | None = None,
) -> int:
    """Print what the NLU understands of each text; return the exit code."""
    try:
        nlu = load_nlu(flows, dictionaries)
    except (UserDictError, ValueError, OSError) as error:
        print(f"bot nlu: {error}", file=sys.stderr)
        return 2
    for index, text in enumerate(texts):
        understanding = nlu.understand(text, now)
        if as_json:
            print(json.dumps(understanding.to_contract(), ensure_ascii=False))
        else:
            if index:
                print()
            print(explain(understanding))
    return 0
