"""City user dictionary: validation, cache keying, and that every entry's cost wins."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import sudachipy

from bot.nlu import Nlu
from bot.nlu.userdict import HEADER, UserDictError, cache_key, ensure_user_dic, validate

from .conftest import DICTIONARIES

ROW = [
    "そふぁー",
    "5146",
    "5146",
    "5000",
    "そふぁー",
    "名詞",
    "普通名詞",
    "一般",
    "*",
    "*",
    "*",
    "ソファー",
    "ソファー",
    "",
    "",
    "",
    "",
    "",
    "",
]


def _write(path: Path, header: list[str], *rows: list[str]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_valid_file_has_no_errors(tmp_path: Path) -> None:
    assert validate(_write(tmp_path / "ok.csv", list(HEADER), ROW)) == []


@pytest.mark.parametrize("column", ["Surface", "Writing"])
def test_surface_and_writing_headers_are_rejected(tmp_path: Path, column: str) -> None:
    header = [column if name == "Index_Form" else name for name in HEADER]
    path = _write(tmp_path / "old.csv", header, ROW)
    errors = validate(path)
    assert errors and errors[0].startswith(f"{path}:1: ")
    assert column in errors[0]


@pytest.mark.parametrize("index_form", ["ｿﾌｧｰ", "Sofa", "ＰＣ"])
def test_index_form_must_be_lowercase_nfkc(tmp_path: Path, index_form: str) -> None:
    row = [index_form, *ROW[1:]]
    path = _write(tmp_path / "bad.csv", list(HEADER), ROW, row)
    errors = validate(path)
    assert len(errors) == 1
    assert errors[0].startswith(f"{path}:3: Index_Form")


def test_field_count_cost_and_star_are_reported_with_line(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "bad.csv",
        list(HEADER),
        ROW[:-1],
        [*ROW[:3], "cheap", *ROW[4:]],
        [*ROW[:13], "*", *ROW[14:]],
    )
    errors = validate(path)
    assert [error.split(": ")[0] for error in errors] == [f"{path}:2", f"{path}:3", f"{path}:4"]


def test_invalid_dictionary_stops_loading_with_file_and_line(tmp_path: Path) -> None:
    _write(tmp_path / "city.csv", list(HEADER), ["ABC", *ROW[1:]])
    with pytest.raises(UserDictError, match=r"city\.csv:2: Index_Form"):
        ensure_user_dic(tmp_path)


def test_cache_key_follows_contents(tmp_path: Path) -> None:
    path = _write(tmp_path / "city.csv", list(HEADER), ROW)
    first = cache_key([path])
    assert cache_key([path]) == first
    _write(
        path,
        list(HEADER),
        ROW,
        ["べっど", *ROW[1:4], "べっど", *ROW[5:11], "ベッド", "ベッド", *ROW[13:]],
    )
    assert cache_key([path]) != first


def test_compiled_dictionary_is_reused_not_rebuilt(nlu: Nlu) -> None:
    assert nlu.user_dic is not None and nlu.user_dic.exists()
    before = nlu.user_dic.stat().st_mtime_ns
    assert ensure_user_dic(DICTIONARIES) == nlu.user_dic
    assert nlu.user_dic.stat().st_mtime_ns == before


def _entries() -> list[dict[str, str]]:
    rows = []
    for path in sorted(DICTIONARIES.glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            rows += list(csv.DictReader(handle))
    return rows


@pytest.fixture(scope="module")
def system_only() -> sudachipy.Tokenizer:
    return sudachipy.Dictionary().tokenizer(sudachipy.SplitMode.C)


@pytest.mark.parametrize("entry", _entries(), ids=lambda entry: entry["Index_Form"])
def test_each_entry_wins_over_the_system_split(nlu: Nlu, system_only, entry) -> None:
    word = entry["Headword"]
    for sentence in (word, f"{word}を捨てたい", f"えっと{word}です"):
        found = [m for m in nlu.tokenize(sentence) if m.surface() == word]
        assert len(found) == 1, f"{word!r} is split in {sentence!r}"
        assert found[0].normalized_form() == entry["Normalized_Form"]
        assert found[0].reading_form() == entry["Reading_Form"]
    # Without the entry the system dictionary reads it differently: the entry is needed.
    alone = list(system_only.tokenize(word))
    assert len(alone) > 1 or alone[0].normalized_form() != entry["Normalized_Form"]
