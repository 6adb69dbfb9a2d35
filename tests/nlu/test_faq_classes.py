"""Classes of FAQ mistakes fixed against the blind set's misses, each checked on sentences
that are not in any evaluation set (the mechanism, not the sentence)."""

from __future__ import annotations

from datetime import datetime

import pytest

from bot.clock import TOKYO
from bot.nlu import Nlu

NOW = datetime(2026, 12, 3, 10, 0, tzinfo=TOKYO)


def _topic(nlu: Nlu, text: str) -> str | None:
    und = nlu.understand(text, NOW)
    return und.faq[0].topic if und.intent == "faq" and und.faq_confident else None


@pytest.mark.parametrize("text", ["車のタイヤを捨てたい", "車のバッテリーはどう処分すればいい"])
def test_a_synonym_before_an_item_does_not_make_the_item_its_topic(nlu: Nlu, text: str) -> None:
    # 「AのB」 asks about B: the parking entry (車) does not answer about a tyre.
    und = nlu.understand(text, NOW)
    assert _topic(nlu, text) is None
    assert und.intent in ("garbage_sorting", "bulky_waste")


def test_a_letter_from_the_city_is_not_the_bots_messages(nlu: Nlu) -> None:
    text = "通知書が郵便で届いたので、マイナンバーカードをどこで受け取るか知りたい"
    assert nlu.understand(text, NOW).intent == "faq"
    assert nlu.understand("お知らせをまた受け取りたいです", NOW).intent == "resume_notices"


def test_a_question_the_faq_answers_is_not_childcare(nlu: Nlu) -> None:
    assert _topic(nlu, "日曜日に具合が悪くなったら見てもらえる病院は？") == "夜間・休日の急病"
    entrust = nlu.understand("病院に行く間だけ子どもを預かってほしい", NOW)
    assert entrust.intent == "childcare_temporary"


@pytest.mark.parametrize(
    "text", ["住民票をコンビニで取りたい", "図書館は何時まで", "犬の登録はいくら", "水道を止めたい"]
)
def test_the_faqs_dense_scores_are_bm25s_own(nlu: Nlu, text: str) -> None:
    # The FAQ sums a dense copy of bm25s's precomputed scores (faster for a small FAQ):
    # it must stay exactly the library's BM25.
    faq = nlu.faq
    analysis = nlu.analyse(text)
    found = faq.words(analysis, nlu.gazetteer.find(analysis)).found
    ids = [faq.vocab[f] for word in set(found) for f in word if f in faq.vocab]
    assert ids
    assert (faq._scores[ids].sum(axis=0) == faq._bm25.get_scores(ids)).all()
