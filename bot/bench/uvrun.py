"""`python -m bot.bench.uvrun SCRIPT ARGS...`: run a Python script (e.g. the `bot` entry
point) with uvloop's event loop. For `bot bench --server-prefix "python -m bot.bench.uvrun"`:
uvloop measured as an opt-in, without changing how `bot serve` starts by default."""

from __future__ import annotations

import runpy
import sys


def main() -> None:
    import uvloop  # an optional package: `pip install uvloop`

    uvloop.install()
    if len(sys.argv) < 2:
        raise SystemExit("usage: python -m bot.bench.uvrun SCRIPT [ARGS...]")
    sys.argv = sys.argv[1:]
    runpy.run_path(sys.argv[0], run_name="__main__")


if __name__ == "__main__":
    main()
