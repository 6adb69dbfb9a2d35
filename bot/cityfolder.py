"""Where the city lives: its flows folder and its Sudachi dictionary sources.

Every command finds the city the same way: `--flows DIR`, else `BOT_FLOWS`, else `./flows`;
the dictionaries are `DIR/../dictionaries` unless `BOT_DICTIONARIES` says otherwise. A
folder that is not a city is reported in one line that says how to fix it, before anything
is written to disk.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.errors import ConfigError

GLOBAL_FILE = "_global.yaml"  # the file that makes a folder a flows folder
FLOWS_VARIABLE = "BOT_FLOWS"
DICTIONARIES_VARIABLE = "BOT_DICTIONARIES"
INIT_HINT = "write the sample city with `bot init city` and pass `--flows city/flows`"


def beside(flows: Path) -> Path:
    """The dictionaries folder beside a flows folder (flows/../dictionaries)."""
    if flows.name in ("", ".", ".."):  # `.` has no useful parent as written
        flows = flows.resolve()
    return flows.parent / "dictionaries"


def _shown(path: Path) -> str:
    text = str(path)
    return text if path.is_absolute() or text.startswith(".") else f"./{text}"


@dataclass(frozen=True)
class CityFolder:
    flows: Path
    dictionaries: Path
    flows_from: str = "the default"  # --flows, BOT_FLOWS or the default: named in errors
    dictionaries_from: str = "beside the flows folder"

    @classmethod
    def locate(
        cls, flows: str | Path | None = None, env: Mapping[str, str] | None = None
    ) -> CityFolder:
        env = os.environ if env is None else env
        if flows is not None and str(flows):
            folder, source = Path(flows), "--flows"
        elif env.get(FLOWS_VARIABLE, "").strip():
            folder, source = Path(env[FLOWS_VARIABLE].strip()), FLOWS_VARIABLE
        else:
            folder, source = Path("flows"), "the default"
        if env.get(DICTIONARIES_VARIABLE, "").strip():
            words = Path(env[DICTIONARIES_VARIABLE].strip())
            return cls(folder, words, source, DICTIONARIES_VARIABLE)
        return cls(folder, beside(folder), source)

    @property
    def root(self) -> Path:
        """The folder that holds flows/ (and usually dictionaries/ and tests/)."""
        return beside(self.flows).parent

    def missing(self) -> str | None:
        """What keeps this from being a city, as one line saying how to fix it; or None."""
        flows = _shown(self.flows)
        if not self.flows.is_dir():
            what = "no such folder" if not self.flows.exists() else "not a folder"
            return (
                f"no city at {flows} ({what}; the flows folder comes from {self.flows_from}): "
                f"{INIT_HINT}, or set {FLOWS_VARIABLE} to your city's flows folder"
            )
        if not (self.flows / GLOBAL_FILE).is_file():
            return (
                f"{flows} is not a city's flows folder (no {GLOBAL_FILE} in it; it comes from "
                f"{self.flows_from}): {INIT_HINT}, or set {FLOWS_VARIABLE} to your city's "
                f"flows folder"
            )
        if not self.dictionaries.is_dir():
            return (
                f"no dictionaries folder at {_shown(self.dictionaries)} ({self.dictionaries_from}; "
                f"the city's Sudachi word lists, *.csv): put the city's dictionaries/ beside "
                f"{flows}, or set {DICTIONARIES_VARIABLE} to it"
            )
        return None

    def require(self) -> CityFolder:
        """This folder, or ConfigError with the one line `missing()` gives."""
        problem = self.missing()
        if problem:
            raise ConfigError(problem)
        return self
