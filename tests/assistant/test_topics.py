import pytest

from chatdesk.assistant.topics import DEFAULT_FORBIDDEN_TOPICS, detect_forbidden_topics


@pytest.mark.parametrize(
    ("message", "topic"),
    [
        ("How much is the IELTS class?", "pricing"),
        ("What are your fees?", "pricing"),
        ("Berapa harga kelas IELTS?", "pricing"),
        ("Biayanya berapa kak?", "pricing"),  # clitic -nya stripped
        ("Can I get a refund?", "refunds"),
        ("Kalau batal ada pengembalian dana?", "refunds"),
        ("Any scholarships for Canada?", "scholarships"),
        ("Ada beasiswa LPDP?", "scholarships"),
        ("Will I be accepted at Monash?", "admission decisions"),
        ("Saya bisa diterima tidak?", "admission decisions"),
        ("Do you guarantee the visa?", "guarantees"),
        ("Ada jaminan pasti lolos?", "guarantees"),
        ("Is it 100% safe?", "guarantees"),
    ],
)
def test_default_forbidden_topics_are_detected_in_english_and_indonesian(message, topic):
    hits = detect_forbidden_topics(message, DEFAULT_FORBIDDEN_TOPICS)
    assert topic in [h.topic for h in hits]


@pytest.mark.parametrize(
    "message",
    [
        "Kami sangat menghargai pertanyaan Anda",  # contains "harga" inside a longer word
        "When are the intakes?",
        "How long does the visa grant take?",  # "grant" is a visa word, not a scholarship
        "Pastikan dokumen lengkap",  # "pastikan" is not "pasti"
    ],
)
def test_ordinary_messages_touch_no_forbidden_topic(message):
    assert detect_forbidden_topics(message, DEFAULT_FORBIDDEN_TOPICS) == []


def test_a_custom_forbidden_topic_is_matched_as_a_phrase():
    hits = detect_forbidden_topics("Can you help with my visa interview?", ["visa interview"])
    assert [(h.topic, h.phrase) for h in hits] == [("visa interview", "visa interview")]
