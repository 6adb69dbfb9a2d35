"""Read the city data files (flows/data/*.yaml), reloading a file when it changes on disk.

A changed file is served only if it passes the same checks as `bot flows check`
(bot/domain/validate.py); otherwise the errors are logged as `file:line: message` and the
previous content keeps serving until the file is fixed.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import yaml

from bot.domain.validate import validate_data_file
from bot.errors import InputError

log = logging.getLogger(__name__)

# bot/domain/data.py → repo root / flows / data: the sample city, for code that runs
# outside any city (unit tests of the domain's functions).
DEFAULT_DATA_DIR = Path(__file__).resolve().parents[2] / "flows" / "data"

# The city whose data is being read: set around every action the engine runs (by the
# registry bot.domain.build_domain made from Settings.flows_dir), so a turn reads the data
# of the flows it runs — never the current folder's or an environment variable's.
_reading: ContextVar[Path | None] = ContextVar("city_data", default=None)

Stamp = tuple[int, int]

_cache: dict[Path, tuple[Stamp, Any]] = {}  # the content being served
_refused: dict[Path, Stamp] = {}  # a version already refused (not re-checked every call)
_lock = threading.Lock()


class DataInvalid(InputError):
    """A data file fails its check and there is no earlier good version to serve."""


def data_dir() -> Path:
    """The data folder of the city being served (see `reading`), else the sample city's."""
    return _reading.get() or DEFAULT_DATA_DIR


@contextlib.contextmanager
def reading(folder: Path) -> Iterator[None]:
    """Read `folder` (a city's data/) within this block, on this thread or task."""
    token = _reading.set(folder)
    try:
        yield
    finally:
        _reading.reset(token)


def _stamp(path: Path) -> Stamp:
    info = path.stat()
    return (info.st_mtime_ns, info.st_size)


def load(name: str, directory: Path | None = None) -> Any:
    """The parsed YAML file `name` (e.g. "bulky_rules"); cached until its mtime changes,
    and then replaced only by a version that passes validation."""
    path = (directory or data_dir()) / f"{name}.yaml"
    stamp = _stamp(path)
    cached = _cache.get(path)
    if cached and cached[0] == stamp:
        return cached[1]
    if cached and _refused.get(path) == stamp:
        return cached[1]
    with _lock:
        return _reload(path, stamp)


def _reload(path: Path, stamp: Stamp) -> Any:
    cached = _cache.get(path)
    if cached and cached[0] == stamp:  # another thread got here first
        return cached[1]
    # `stamp` was taken before reading: a later edit has a newer stamp and is read then.
    text = path.read_text(encoding="utf-8")
    problems = validate_data_file(path, text)
    if problems:
        for problem in problems:
            log.error("data file refused: %s", problem)
        _refused[path] = stamp
        if cached is not None:
            log.error("still serving the previous %s until the file is fixed", path.name)
            return cached[1]
        raise DataInvalid(f"{problems[0]} ({len(problems)} problem(s); see `bot flows check`)")
    value = yaml.safe_load(text)
    if cached is not None:
        log.info("data file reloaded: %s", path)
    _cache[path] = (stamp, value)
    _refused.pop(path, None)
    return value
