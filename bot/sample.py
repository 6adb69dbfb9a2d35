"""The sample city the package carries (`bot init DIR`): flows, dictionaries and
conversation tests, in the same layout as the repository, so an installed bot runs anywhere.

A wheel holds them under bot/sample_city/ (setup.py copies them in at build time); a source
checkout (`pip install -e .`) reads them from the repository itself.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from bot.cityfolder import GLOBAL_FILE
from bot.errors import ConfigError

PARTS = ("flows", "dictionaries", "tests/conversations")
# Built or machine-made files never belong in a city folder.
IGNORED = ("*.dic", "__pycache__", "*.pyc", ".*")


def sample_root() -> Path:
    """The folder that holds the sample city's PARTS."""
    packaged = Path(__file__).parent / "sample_city"
    checkout = Path(__file__).resolve().parents[1]
    for root in (packaged, checkout):
        if (root / "flows" / GLOBAL_FILE).is_file() and (root / "dictionaries").is_dir():
            return root
    raise ConfigError("this installation carries no sample city (reinstall sakura-bot)")


def write_sample_city(target: Path) -> list[str]:
    """Copy the sample city into `target` (made if needed); never over anything there."""
    root = sample_root()
    taken = [part for part in PARTS if (target / part).exists()]
    if taken:
        raise ConfigError(
            f"{target / taken[0]} already exists: `bot init` never writes over a city; "
            f"choose a new folder"
        )
    if target.exists() and not target.is_dir():
        raise ConfigError(f"{target} is a file, not a folder")
    for part in PARTS:
        shutil.copytree(root / part, target / part, ignore=shutil.ignore_patterns(*IGNORED))
    return list(PARTS)
