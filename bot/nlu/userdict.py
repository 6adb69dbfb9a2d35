"""City user dictionaries: validate `dictionaries/*.csv`, build them once into a cache.

A compiled `.dic` only loads against the exact system dictionary it was built with, so
the cache file name is keyed by the CSV contents and the sudachipy / sudachidict
versions. The build runs in a child process (it needs ~0.7 GB for a few seconds) and
writes a temporary file that is renamed into place, so concurrent builds are safe.
"""

from __future__ import annotations

import csv
import hashlib
import os
import subprocess
import sys
import unicodedata
from importlib import metadata
from pathlib import Path

HEADER = (
    "Index_Form",
    "Left_Id",
    "Right_Id",
    "Cost",
    "Headword",
    "POS1",
    "POS2",
    "POS3",
    "POS4",
    "POS5",
    "POS6",
    "Reading_Form",
    "Normalized_Form",
    "Dictionary_Form",
    "Split_A",
    "Split_B",
    "Word_Structure",
    "Synonym_Groups",
    "User_Data",
)
_REJECTED_COLUMNS = ("Surface", "Writing")


class UserDictError(ValueError):
    """A user dictionary CSV is invalid; the message lists `file:line: message` lines."""


def csv_files(dictionaries_dir: Path) -> list[Path]:
    if not dictionaries_dir.is_dir():
        return []
    return sorted(dictionaries_dir.glob("*.csv"))


def _check_row(row: list[str]) -> str | None:
    if len(row) != len(HEADER):
        return f"expected {len(HEADER)} fields, found {len(row)}"
    values = dict(zip(HEADER, row, strict=False))
    index_form = values["Index_Form"]
    if not index_form:
        return "Index_Form is empty"
    if index_form != unicodedata.normalize("NFKC", index_form).lower():
        return (
            f"Index_Form {index_form!r} must be lowercase NFKC "
            f"(write {unicodedata.normalize('NFKC', index_form).lower()!r})"
        )
    for name in ("Left_Id", "Right_Id", "Cost"):
        try:
            number = int(values[name])
        except ValueError:
            return f"{name} must be an integer, found {values[name]!r}"
        if name == "Cost" and not -32767 <= number <= 32767:
            return f"Cost {number} is out of range (-32767..32767)"
    for name in (
        "Headword",
        "POS1",
        "POS2",
        "POS3",
        "POS4",
        "POS5",
        "POS6",
        "Reading_Form",
        "Normalized_Form",
    ):
        if not values[name]:
            return f"{name} is empty (use * for an unused POS level)"
    for name in ("Dictionary_Form", "Split_A", "Split_B", "Word_Structure"):
        if values[name] == "*":
            return f"{name} must be empty, not '*', for a word with no split or base form"
    return None


def validate(path: Path) -> list[str]:
    """Return `file:line: message` errors for one CSV (empty list when valid)."""
    errors: list[str] = []
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        return [f"{path}:1: empty file (expected the header {','.join(HEADER)})"]
    header = [cell.strip().lstrip("\ufeff") for cell in rows[0]]
    for column in _REJECTED_COLUMNS:
        if column in header:
            errors.append(
                f"{path}:1: column {column!r} is not part of the Sudachi V1 "
                f"user-dictionary format; use Index_Form/Headword"
            )
    if not errors and tuple(header) != HEADER:
        errors.append(f"{path}:1: header must be exactly {','.join(HEADER)}")
    if errors:
        return errors
    for line, row in enumerate(rows[1:], start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        problem = _check_row(row)
        if problem:
            errors.append(f"{path}:{line}: {problem}")
    return errors


def cache_dir() -> Path:
    return Path(os.environ.get("BOT_CACHE_DIR") or Path("var") / "cache")


def system_dic_path() -> Path:
    import sudachidict_core

    return Path(sudachidict_core.__file__).parent / "resources" / "system.dic"


def cache_key(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for name in ("sudachipy", "sudachidict-core"):
        digest.update(f"{name}={metadata.version(name)}\n".encode())
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:24]


_BUILD_SCRIPT = (
    "import sys, pathlib\n"
    "from sudachipy import sudachipy as s\n"
    "s.build_user_dic(system=pathlib.Path(sys.argv[1]), output=pathlib.Path(sys.argv[2]),\n"
    "                 lex=[pathlib.Path(p) for p in sys.argv[3:]], description='city')\n"
)


def build(files: list[Path], output: Path) -> None:
    """Compile the CSVs into `output` atomically (child process, temp file, rename)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    temporary = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                _BUILD_SCRIPT,
                str(system_dic_path()),
                str(temporary),
                *map(str, files),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0 or not temporary.exists():
            last = (result.stderr.strip().splitlines() or ["unknown error"])[-1]
            raise UserDictError(f"building the user dictionary failed: {last}")
        os.replace(temporary, output)
    finally:
        temporary.unlink(missing_ok=True)


def ensure_user_dic(dictionaries_dir: Path) -> Path | None:
    """Validate the city CSVs and return the compiled dictionary (building it if needed).
    A missing folder is an error: without the city's words the bot misreads residents
    quietly (None only for a folder the city left empty on purpose)."""
    if not dictionaries_dir.is_dir():
        raise UserDictError(
            f"no dictionaries folder at {dictionaries_dir} (the city's Sudachi word lists, "
            f"*.csv): put the city's dictionaries/ beside its flows folder, or set "
            f"BOT_DICTIONARIES to it"
        )
    files = csv_files(dictionaries_dir)
    if not files:
        return None
    errors = [error for path in files for error in validate(path)]
    if errors:
        raise UserDictError("\n".join(errors))
    output = cache_dir().resolve() / f"city-{cache_key(files)}.dic"
    if not output.exists():
        build(files, output)
    return output
