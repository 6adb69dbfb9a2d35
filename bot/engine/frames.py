"""A conversation's frames as stored (the top frame's fields plus `stack`)."""

from __future__ import annotations

from typing import Any


def loaded_frame(stored: dict[str, Any], bottom: bool) -> dict[str, Any]:
    """A stored frame with every field the engine reads present and of the right kind.
    Stored conversations are data: written by hand, by tools (the bench seeds residents
    mid-flow) or before a field existed, they must still resume, not fail every turn."""
    frame = {
        "pending": None,
        "return_to": None,
        "save_as": None,
        "result": None,
        "outcome": None,
        **stored,
    }
    if not isinstance(frame.get("slots"), dict):
        frame["slots"] = {}
    if not isinstance(frame.get("misses"), int):
        frame["misses"] = 0
    if frame.get("mode") not in ("root", "interrupt", "call"):
        frame["mode"] = "root" if bottom else "interrupt"
    return frame
