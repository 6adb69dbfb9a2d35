"""The expression language's functions, as staff use them in `if:` conditions."""

from __future__ import annotations

import pytest

from bot.engine.expr import ExprError, compile_expr

NAMES = {
    "said": {"text": "事務所で使っていた机です", "dates": []},
    "words": ["事務所", "ｵﾌｨｽ"],
    "items": [{"name": "机", "quantity": 2}, {"name": "椅子", "quantity": 3}],
}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("mentions(said.text, words)", True),
        ("mentions('オフィスの棚', words)", True),  # half-width and full-width agree
        ("mentions('家の机', words)", False),
        ("mentions(none, words)", False),
        ("sum_of(items, 'quantity')", 5),
        ("len(where(items, 'name', '机'))", 1),
        ("empty(said.dates)", True),
    ],
)
def test_functions(source: str, expected: object) -> None:
    assert compile_expr(source).evaluate(NAMES) == expected


def test_an_unknown_function_is_refused_when_compiled() -> None:
    with pytest.raises(ExprError):
        compile_expr("contains(said.text, words)")
