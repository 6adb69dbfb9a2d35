"""Read the city data files (flows/data/*.yaml), reloading a file when it changes on disk."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

# bot/domain/data.py → repo root / flows / data
DEFAULT_DATA_DIR = Path(__file__).resolve().parents[2] / "flows" / "data"

_cache: dict[Path, tuple[tuple[int, int], Any]] = {}


def data_dir() -> Path:
    """The data folder: BOT_DATA_DIR when set; else ./flows/data when there is one (the
    CLI reads flows from ./flows, so the domain reads the same city); else the package's."""
    override = os.environ.get("BOT_DATA_DIR")
    if override:
        return Path(override)
    local = Path("flows") / "data"
    return local if local.is_dir() else DEFAULT_DATA_DIR


def load(name: str, directory: Path | None = None) -> Any:
    """The parsed YAML file `name` (e.g. "bulky_rules"); cached until its mtime changes."""
    path = (directory or data_dir()) / f"{name}.yaml"
    info = path.stat()
    stamp = (info.st_mtime_ns, info.st_size)
    cached = _cache.get(path)
    if cached and cached[0] == stamp:
        return cached[1]
    with path.open(encoding="utf-8") as handle:
        value = yaml.safe_load(handle)
    _cache[path] = (stamp, value)
    return value
