"""Text normalisation shared by retrieval, topic detection and the guard (English + Indonesian).

Tokens are lowercase words of letters and digits (punctuation stripped, accents kept), with a few
Indonesian clitics removed (`biayanya` -> `biaya`, `bisakah` -> `bisa`) so one lexicon entry
covers the forms customers actually type.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable


def wordset(text: str) -> frozenset[str]:
    """A set of words written as one space-separated string (long lexicons stay readable)."""
    return frozenset(text.split())


def phrases(text: str) -> tuple[str, ...]:
    """A list of phrases written as one comma-separated string."""
    return tuple(p.strip() for p in text.split(",") if p.strip())


_WORD = re.compile(r"[^\W_]+", re.UNICODE)

# Indonesian enclitics: possessive/definite -nya, emphatic -lah/-kah/-pun. Stripped only from
# longer words so short roots (`punya`, `salah`) survive.
_ID_SUFFIXES = ("nya", "lah", "kah", "pun")
_KEEP = frozenset(
    {"punya", "hanya", "salah", "sekolah", "kuliah", "masalah", "rumah", "sudah", "bawah", "tanya"}
    | {"jumlah", "daerah", "sejarah", "kalah", "wilayah", "lembaga", "ibadah", "murah", "nikah"}
    | {"mewah", "tengah", "sebelah", "ramah", "ubah", "lebih", "pilah", "olah", "tanah", "sebuah"}
    | {"nyanya", "lainnya", "bahkan", "apakah", "adakah", "bolehkah", "bagaimanakah"}
)

STOPWORDS_EN = wordset(
    "a an the and or but if of to in on at by for with from as into about is are was were be been "
    "being am do does did doing have has had having i me my mine myself we us our ours you your "
    "yours he him his she her it its they them their this that these those there here so than "
    "too very just also please pls plz hi hello hey dear thanks thank thx ok okay would could "
    "should will shall may might can cant im ive id ill youre its s t d ll m re ve"
)
STOPWORDS_ID = wordset(
    "yang dan di ke dari ini itu untuk utk dengan dgn adalah ialah saya aku gue gw kamu anda kita "
    "kami mereka dia ia nya ada akan sudah udah telah juga atau pada dalam oleh para sang si pun "
    "lah kah ya yah iya dong sih nih deh kok kak ka kakak min admin gan sis bro mas mbak pak bu "
    "halo hai hallo selamat pagi siang sore malam terima kasih makasih tolong mohon mau ingin "
    "pengen pingin bisa boleh apakah tanya nanya mas mba nggak"
)
STOPWORDS = STOPWORDS_EN | STOPWORDS_ID

# Greetings, politeness and forms of address: they say nothing about what is asked, and a
# message made only of them ("halo kak") must not match an entry whose question starts that way.
# Retrieval keeps every other word: "my", "how", "when" carry intent and BM25's idf already
# discounts the frequent ones.
FILLERS = wordset(
    "hi hello hey hallo halo hai dear please pls plz thanks thank thx ok okay kak ka kakak min "
    "admin gan sis bro mas mbak mba pak bu dong sih nih deh ya yah iya tolong mohon makasih "
    "terima kasih selamat"
)


def normalise(text: str) -> str:
    # "100%" must stay visible to the guard and topic lists: it becomes the word "percent".
    return unicodedata.normalize("NFKC", text).casefold().replace("%", " percent ")


def _strip_clitic(token: str) -> str:
    if len(token) > 5 and token not in _KEEP:
        for suffix in _ID_SUFFIXES:
            if token.endswith(suffix) and len(token) - len(suffix) >= 4:
                return token[: -len(suffix)]
    return token


def words(text: str) -> list[str]:
    """All word tokens, lowercase, clitics stripped; stopwords kept (phrase matching needs them)."""
    return [_strip_clitic(t) for t in _WORD.findall(normalise(text))]


def content_tokens(text: str) -> list[str]:
    """`words()` without stopwords: the words that say what a message is about."""
    return [t for t in words(text) if t not in STOPWORDS]


def index_tokens(text: str) -> list[str]:
    """Tokens for retrieval: `words()` without greetings and fillers."""
    return [t for t in words(text) if t not in FILLERS]


def find_phrases(tokens: list[str], phrases: Iterable[str]) -> list[str]:
    """The phrases (each one or more words) that occur as consecutive tokens in `tokens`."""
    found = []
    joined = " " + " ".join(tokens) + " "
    for phrase in phrases:
        if " " + " ".join(words(phrase)) + " " in joined:
            found.append(phrase)
    return found
