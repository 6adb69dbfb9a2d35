"""Packaging beyond pyproject.toml: the wheel carries the sample city (bot/sample_city/), copied
from the repository's flows/, dictionaries/ and tests/conversations/ at build time, so
`bot init DIR` works from an installed package (bot/sample.py reads it)."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SAMPLE_PARTS = ("flows", "dictionaries", "tests/conversations")
IGNORED = ("*.dic", "__pycache__", "*.pyc", ".*")


class BuildWithSampleCity(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads the repository itself
        target = Path(self.build_lib) / "bot" / "sample_city"
        for part in SAMPLE_PARTS:
            shutil.copytree(
                part,
                target / part,
                ignore=shutil.ignore_patterns(*IGNORED),
                dirs_exist_ok=True,
            )


setup(cmdclass={"build_py": BuildWithSampleCity})
