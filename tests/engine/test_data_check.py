"""`bot flows check` validates the city's data files and NLU files, not only the flows:
YAML syntax as one `file:line: message`, and the keys and types the code reads."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from bot.domain.validate import validate_data_file, validate_nlu_file
from tests.engine.city import check_flows

SHIPPED = Path(__file__).parents[2] / "flows"
ONE_LINE = re.compile(r"^[^\n:]+:\d+: [^\n]+$")


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pristine copy of the shipped flows (copied once; each test edits its own copy)."""
    target = tmp_path_factory.mktemp("city") / "flows"
    shutil.copytree(SHIPPED, target)
    return target


@pytest.fixture
def flows(city: Path, tmp_path: Path) -> Path:
    target = tmp_path / "flows"
    shutil.copytree(city, target)
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


def found(flows: Path) -> list[str]:
    return [str(e).replace(str(flows) + "/", "") for e in check_flows(flows)]


def test_shipped_data_and_nlu_files_are_clean() -> None:
    for path in sorted((SHIPPED / "data").glob("*.yaml")):
        assert validate_data_file(path) == [], path
    for path in sorted((SHIPPED / "nlu").glob("*.yaml")):
        assert validate_nlu_file(path) == [], path


SYNTAX = [
    ("data/catalogue.yaml", "  - name: 机\n", "  - name: 机\n  fee 800: [\n"),
    ("data/districts.yaml", "  - name: 西\n", "  - name: 西\n\t- tab\n"),
    ("data/nurseries.yaml", "{name: ひまわり保育園,", "{name: ひまわり保育園"),
    ("nlu/words.yaml", "fillers: [", "fillers: [[\n"),
    ("nlu/intents.yaml", "rules:\n", "rules:\n  - id: x\n   intent: y\n"),
]


@pytest.mark.parametrize("name,old,new", SYNTAX, ids=[s[0] for s in SYNTAX])
def test_yaml_syntax_error_in_a_data_or_nlu_file_is_one_line_with_file_and_line(
    flows: Path, name: str, old: str, new: str
) -> None:
    edit(flows / name, old, new)
    errors = found(flows)
    assert errors, f"a syntax error in {name} passed the check"
    assert all(ONE_LINE.match(e) for e in errors), errors
    assert any(e.startswith(f"{name}:") and "YAML syntax" in e for e in errors), errors


TYPES = [
    # (file, old, new, needle on the reported line, expected in the message)
    (
        "data/catalogue.yaml",
        "    synonyms: [つくえ, デスク, 学習机, 勉強机, 事務机]\n    fee: 800",
        "    synonyms: [つくえ, デスク, 学習机, 勉強机, 事務机]\n    fee: five hundred",
        "fee: five hundred",
        "item `机`: fee: expected a fee in yen",
    ),
    (
        "data/catalogue.yaml",
        "{name: 2人掛け以上, fee: 1000,",
        "{name: 2人掛け以上, fee: 千円,",
        "2人掛け以上",
        "item `ソファー`: option 2 fee: expected a fee in yen",
    ),
    (
        "data/catalogue.yaml",
        "  - name: 本棚\n    synonyms: [本箱, 書棚, ほんだな]\n    fee: 800\n",
        "  - name: 本棚\n    synonyms: [本箱, 書棚, ほんだな]\n",
        "name: 本棚",
        "item `本棚`: needs `fee` (yen) or `variants`",
    ),
    (
        "data/catalogue.yaml",
        "synonyms: [本箱, 書棚, ほんだな]",
        "synonyms: 本箱",
        "synonyms: 本箱",
        "item `本棚`: synonyms: expected a list",
    ),
    (
        "data/catalogue.yaml",
        "synonyms: [本箱, 書棚, ほんだな]",
        "synonyms: [本箱, 書棚, ほんだな, 机]",
        "ほんだな, 机]",
        "`机` already means `机`",
    ),
    (
        "data/catalogue.yaml",
        "      - {name: タイヤ, synonyms: [たいや]}",
        "      - {name: タイヤ, synonym: [たいや]}",
        "name: タイヤ",
        "unknown key `synonym` (did you mean `synonyms`?)",
    ),
    (
        "data/catalogue.yaml",
        "  - id: specialist\n    where:",
        "  - id: specialist\n    wher:",
        "wher:",
        "not_accepted[3]: unknown key `wher`",
    ),
    (
        "data/districts.yaml",
        "weekday: 3",
        "weekday: 木曜",
        "weekday: 木曜",
        "district `西`: weekday: expected a weekday",
    ),
    (
        "data/districts.yaml",
        "{name: 松原, reading: まつばら}",
        "{name: 松原}",
        "{name: 松原}",
        "town `松原` reading: missing required key `reading`",
    ),
    (
        "data/nurseries.yaml",
        "ひまわり保育園: {0: 2, 1: 1, 2: 0}",
        "ひまわり保育園: {0: 2, 1: 一, 2: 0}",
        "ひまわり保育園: {0: 2",
        "ひまわり保育園: 1歳: expected a number of places",
    ),
    (
        "data/nurseries.yaml",
        "ひまわり保育園: {0: 2, 1: 1, 2: 0}",
        "ひまわり保育園: {0: 2, 1: -1, 2: 0}",
        "ひまわり保育園: {0: 2",
        "1歳: expected a number of places (0 or more), got `-1`",
    ),
    (
        "data/nurseries.yaml",
        "ひまわり保育園: {0: 2, 1: 1, 2: 0}",
        "ひまわり保育園: {0: –, 1: 1, 2: 0}",
        "ひまわり保育園: {0: –",
        "0歳: `–` is only for ages the nursery does not take",
    ),
    (
        "data/nurseries.yaml",
        "    みなみ保育園: {",
        "    みなみ保育所: {",
        "みなみ保育所: {",
        "no nursery named `みなみ保育所` in `nurseries` (did you mean `みなみ保育園`?)",
    ),
    (
        "data/nurseries.yaml",
        "kind: 小規模保育, district: 北,",
        "kind: 小規模保育, district: 北区,",
        "ひまわり保育園, kind",
        "district `北区` is not in districts.yaml",
    ),
    (
        "data/nurseries.yaml",
        '"2027-01":',
        '"2027年1月":',
        "2027年1月",
        'is not a month like "2027-01"',
    ),
    (
        "data/childcare.yaml",
        "min_days_old: 57",
        "min_days_old: 五十七",
        "min_days_old",
        "age.min_days_old: expected a whole number",
    ),
    (
        "data/childcare.yaml",
        "{name: 一次受付, from: 2026-10-01, to: 2026-11-14}",
        "{name: 一次受付, from: 2026-10-01, to: 2026-11-31}",
        "一次受付",
        "`2026-11-31` is not a valid date (day is out of range for month)",
    ),
    (
        "data/childcare.yaml",
        "documents: [就労証明書]",
        "documents: 就労証明書",
        "id: work",
        "reason `work`: documents: expected a list",
    ),
    (
        "data/allowance.yaml",
        "under_3: 15000",
        "under_3: 15,000円",
        "under_3: 15,000円",
        "monthly.under_3: expected an amount in yen",
    ),
    (
        "data/allowance.yaml",
        "payment_months: [2, 4, 6, 8, 10, 12]",
        "payment_months: [2, 4, 6, 8, 10, 13]",
        "payment_months",
        "payment_months[6]: must be at most 12",
    ),
    (
        "data/bulky_rules.yaml",
        "  items_per_district_day: 30",
        "  items_per_district_day: 三十",
        "items_per_district_day",
        "capacity.items_per_district_day: expected a whole number",
    ),
    (
        "data/bulky_rules.yaml",
        "  words: [事務所で使, 会社で使, お店で使, 店で使, 店舗で使, 職場で使, 事業で使, 事業所で使,\n          オフィスで使, 工場で使, 会社の備品, 事務所の備品, 店の備品, 事業ごみ, 事業系, 営業用]",
        "  words: 事務所",
        "words:",
        "business.words: expected a list",
    ),
    (
        "data/bulky_rules.yaml",
        'by: "8:30"',
        "by: 8:30",
        "by: 8:30",
        "put_out.by: YAML read this as `510`, not text",
    ),
    (
        "data/bulky_rules.yaml",
        "denominations: [300, 500]",
        "denominations: [300, 五百]",
        "denominations",
        "tickets.denominations[2]: expected a ticket value in yen",
    ),
    (
        "data/bulky_rules.yaml",
        "受付番号：{receipt}",
        "受付番号：{reciept}",
        "reminder_text",
        "reminder_text: unknown placeholder {reciept} (did you mean `receipt`?)",
    ),
    (
        "data/office.yaml",
        'staff_hours: {open: "08:30", close: "17:15"}',
        'staff_hours: {open: "08:30", close: "5pm"}',
        "staff_hours:",
        'staff_hours.close: expected a time like "17:00"',
    ),
    (
        "data/office.yaml",
        "open_weekdays: [0, 1, 2, 3, 4]",
        "open_weekdays: [0, 1, 2, 3, 7]",
        "open_weekdays",
        "open_weekdays[5]: must be at most 6",
    ),
    (
        "nlu/words.yaml",
        '"yes", "y"',
        'yes, "y"',
        '"y", 是非',
        "affirmative.words[42]: YAML read this as a yes/no value, not text",
    ),
    (
        "nlu/words.yaml",
        "counters: [",
        "countres: [",
        "countres",
        "unknown key `countres` (did you mean `counters`?)",
    ),
    (
        "nlu/intents.yaml",
        "all: [temporary]",
        "all: [temporay]",
        "all: [temporay]",
        "unknown concept `temporay` (did you mean `temporary`?)",
    ),
    (
        "nlu/intents.yaml",
        "    all: [temporary]\n    intent: childcare_temporary",
        "    all: [temporary]\n    intent: childcare_temp",
        "intent: childcare_temp",
        "unknown intent `childcare_temp` (did you mean `childcare_temporary`?)",
    ),
    (
        "nlu/intents.yaml",
        "context: [bulky_waste_change]",
        "context: [bulky_waste_chnage]",
        "bulky_waste_chnage",
        "context `bulky_waste_chnage` is not a flow id (did you mean `bulky_waste_change`?)",
    ),
    (
        "nlu/intents.yaml",
        "  - id: bulky.named\n",
        "  - id: bulky.item_price\n",
        "id: bulky.item_price",  # the first of the two: the duplicate is reported there
        "the id is also used on line",
    ),
]


@pytest.mark.parametrize(
    "name,old,new,needle,expected", TYPES, ids=[f"{t[0]}:{t[4][:40]}" for t in TYPES]
)
def test_wrong_structure_or_type_is_reported_with_file_and_line(
    flows: Path, name: str, old: str, new: str, needle: str, expected: str
) -> None:
    edit(flows / name, old, new)
    errors = found(flows)
    line = line_of(flows / name, needle)
    hits = [e for e in errors if e.startswith(f"{name}:") and expected in e]
    assert hits, errors
    assert all(ONE_LINE.match(e) for e in errors), errors
    if "also used on line" not in expected:
        assert any(e.startswith(f"{name}:{line}:") for e in hits), (line, hits)


def test_vacancy_dash_is_fine_for_an_age_the_nursery_does_not_take(flows: Path) -> None:
    edit(
        flows / "data/nurseries.yaml",
        "ひまわり保育園: {0: 2, 1: 1, 2: 0}",
        "ひまわり保育園: {0: 2, 1: 1, 2: 0, 3: –, 4: , 5: -}",
    )
    assert [e for e in found(flows) if e.startswith("data/")] == []


def test_a_missing_city_file_is_an_error(flows: Path) -> None:
    (flows / "data" / "nurseries.yaml").unlink()
    assert any(e.startswith("data/nurseries.yaml:1: missing") for e in found(flows)), found(flows)


def test_an_empty_data_file_is_an_error(flows: Path) -> None:
    (flows / "data" / "office.yaml").write_text("# nothing yet\n", encoding="utf-8")
    assert "data/office.yaml:1: the file is empty" in found(flows)
