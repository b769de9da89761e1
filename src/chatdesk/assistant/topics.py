"""Forbidden-topic detection: phrase lists in English and Indonesian.

A workspace forbids topics by name (`AssistantSettings.forbidden_topics`). The default names
below carry curated lexicons; any other name is matched as a phrase itself, so an admin can
forbid "visa interview" without code. Matching works on tokens (see `text.words`), so `harga`
does not fire inside `menghargai` and `biayanya` still counts as `biaya`.
"""

from __future__ import annotations

from dataclasses import dataclass

from chatdesk.assistant.text import find_phrases, phrases, words

DEFAULT_FORBIDDEN_TOPICS = phrases(
    "pricing, refunds, scholarships, admission decisions, guarantees"
)

LEXICON: dict[str, tuple[str, ...]] = {
    "pricing": phrases(
        "price, prices, pricing, priced, cost, costs, costing, fee, fees, tuition, how much, "
        "expensive, cheap, cheaper, cheapest, discount, discounts, payment plan, installment, "
        "instalment, rate card, quote, "
        "harga, biaya, tarif, ongkos, berapa duit, berapa bayar, bayar berapa, uang kuliah, spp, "
        "mahal, murah, diskon, potongan harga, cicilan, angsuran, dp, uang muka"
    ),
    "refunds": phrases(
        "refund, refunds, refunded, refundable, money back, reimburse, reimbursement, chargeback, "
        "cancel my payment, "
        "pengembalian dana, pengembalian uang, uang kembali, uang saya kembali, balikin uang, "
        "kembalikan uang, dikembalikan, uangnya kembali"
    ),
    # Not "grant" or "funding": "visa grant" and "proof of funding" are ordinary visa questions
    # for an education agency.
    "scholarships": phrases(
        "scholarship, scholarships, bursary, financial aid, fully funded, "
        "beasiswa, bantuan biaya, dana bantuan, lpdp"
    ),
    "admission decisions": phrases(
        "admission decision, admissions decision, will i be accepted, will i get in, "
        "am i accepted, get accepted, be accepted, accepted, acceptance, admitted, rejected, "
        "offer letter, chances of admission, my chances, chance of getting in, "
        "diterima, keterima, ditolak, lolos, lulus seleksi, peluang diterima, "
        "kemungkinan diterima, hasil seleksi, keputusan penerimaan, loa"
    ),
    "guarantees": phrases(
        "guarantee, guarantees, guaranteed, guaranteeing, promise, promised, 100%, 100 percent, "
        "for sure, definitely get, "
        "jaminan, menjamin, dijamin, garansi, pasti lolos, pasti diterima, pasti dapat, "
        "pasti berhasil, janji, berjanji"
    ),
}


@dataclass(frozen=True)
class TopicHit:
    topic: str
    phrase: str


def topic_phrases(topic: str) -> tuple[str, ...]:
    key = " ".join(words(topic))
    return LEXICON.get(key, (topic,))


def detect_forbidden_topics(
    text: str, forbidden_topics: tuple[str, ...] | list[str]
) -> list[TopicHit]:
    """The forbidden topics the text touches, with the phrase that gave each away."""
    tokens = words(text)
    hits = []
    for topic in forbidden_topics:
        found = find_phrases(tokens, topic_phrases(topic))
        if found:
            hits.append(TopicHit(topic=topic, phrase=found[0]))
    return hits
