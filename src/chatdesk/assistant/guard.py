"""The guard: every draft is checked before it can be sent or queued for review.

`guard_check()` runs every check and returns one `Verdict` per check (so the record shows what
passed as well as what failed); the caller escalates when any failed. Checks:

- forbidden_topic: the draft touches a forbidden topic (pricing, refunds, ...).
- uncertainty: hedging ("I think", "maybe", "mungkin", "sepertinya") - a guess is not an answer.
- length: longer than the workspace's cap.
- unsupported_facts: numbers, prices and currencies, dates and times, URLs, phone numbers, emails,
  countries and capitalised names that appear in no retrieved entry's approved answer.
- abuse: insults, profanity, disparaging the business (English and Indonesian).
- prompt_injection: echoes of injected instructions or of the system prompt.
- promise: guarantees and promises ("guarantee", "100%", "pasti", "dijamin").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from chatdesk.assistant.conf import AssistantSettings
from chatdesk.assistant.knowledge import Entry
from chatdesk.assistant.text import find_phrases, normalise, phrases, words, wordset
from chatdesk.assistant.topics import detect_forbidden_topics


@dataclass(frozen=True)
class Verdict:
    check: str
    passed: bool
    reason: str = ""


CHECKS = (
    "forbidden_topic",
    "uncertainty",
    "length",
    "unsupported_facts",
    "abuse",
    "prompt_injection",
    "promise",
)

UNCERTAINTY = phrases(
    "i think, i believe, i guess, i suppose, maybe, perhaps, probably, possibly, not sure, "
    "unsure, not certain, might be, may be, as far as i know, i don't know, i do not know, "
    "no idea, if i remember, "
    "mungkin, sepertinya, kayaknya, kelihatannya, barangkali, kurang tahu, kurang tau, "
    "tidak tahu, gak tahu, nggak tahu, ga tau, tidak yakin, kurang yakin, gak yakin, "
    "nggak yakin, saya rasa, saya kira, kira kira, entah, setahu saya"
)

ABUSE = phrases(
    # insults and profanity, English then Indonesian
    "stupid, idiot, idiots, dumb, moron, loser, fool, shut up, fuck, fucking, shit, bullshit, "
    "bitch, bastard, asshole, crap, damn, dick, retard, ugly, "
    "bodoh, goblok, goblog, tolol, bego, dungu, anjing, anjir, bangsat, bajingan, brengsek, "
    "kampret, sialan, babi, tai, taik, kontol, memek, jancuk, asu, diam kamu, kurang ajar, "
    # disparaging the business
    "our service is bad, our service is terrible, our service is awful, we are terrible, "
    "we are the worst, we're the worst, we are a scam, scam, scammers, don't use our, "
    "do not use our, use another agency, our company is bad, we are useless, "
    "penipu, penipuan, layanan kami buruk, layanan kami jelek, jasa kami jelek, kami payah, "
    "jangan pakai jasa kami, jangan gunakan layanan kami, agensi lain saja"
)

INJECTION = phrases(
    "ignore previous instructions, ignore all previous, ignore the previous, "
    "ignore your instructions, ignore the above, disregard previous, disregard the above, "
    "previous instructions, system prompt, my instructions, my system, developer mode, "
    "jailbreak, as an ai language model, as an ai, as a language model, i am an ai, "
    "language model, openai, chatgpt, "
    "abaikan instruksi, abaikan perintah, abaikan semua, instruksi sebelumnya, "
    "perintah sebelumnya, prompt sistem, sistem prompt, sebagai model bahasa, sebagai ai, "
    "saya adalah ai"
)

PROMISES = phrases(
    "guarantee, guarantees, guaranteed, we promise, i promise, promise you, 100 percent, "
    "definitely will, certainly will, assure you, for sure, no risk, "
    "pasti, dijamin, jaminan, menjamin, garansi, janji, berjanji, tanpa risiko"
)

# -- facts --------------------------------------------------------------------------------

URL = re.compile(
    r"(?i)\b(?:https?://|www\.)\S+"
    r"|\b[\w-]+(?:\.[\w-]+)*\.(?:com|id|org|net|edu|io|co|au|uk|ca|nz)\b(?:/\S*)?"
)
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
PHONE = re.compile(r"(?<![\w.,])\+?\d[\d\s().-]{6,}\d(?![\w])")
TIME = re.compile(r"(?i)\b(\d{1,2})[:.](\d{2})\b(?:\s*(am|pm))?|\b(\d{1,2})\s*(am|pm)\b")
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
CURRENCY = re.compile(
    r"(?i)(?:\brp\.?|\bidr\b|\busd\b|\baud\b|\bgbp\b|\beur\b|\bcad\b|\bnzd\b|\bsgd\b|[$£€¥]"
    r"|\bjuta\b|\bribu\b|\bmiliar\b|\bmillion\b|\bthousand\b|\bdollars?\b|\brupiah\b)"
)
DATE_WORDS = wordset(
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec "
    "januari februari maret mei juni juli agustus oktober desember "
    "monday tuesday wednesday thursday friday saturday sunday "
    "senin selasa rabu kamis jumat sabtu minggu today tomorrow yesterday tonight "
    "hari ini besok kemarin lusa"
)
COUNTRIES = wordset(
    "australia canada kanada zealand selandia england inggris britain uk scotland ireland "
    "irlandia usa america amerika germany jerman netherlands belanda france prancis perancis "
    "japan jepang korea china tiongkok singapore singapura malaysia taiwan switzerland swiss "
    "swedia sweden italy italia spain spanyol turkey turki india thailand philippines "
    "filipina vietnam indonesia dubai uae arab"
)
# Capitalised for reasons other than being a name.
COMMON_CAPITALISED = wordset(
    "i i'm i'll i've hi hello hey dear ok okay thanks thank halo hai terima salam selamat kak "
    "bapak ibu pak bu mas mbak wib wita wit yes no please mohon silakan anda saudara kakak"
)


@dataclass(frozen=True)
class _Facts:
    urls: set[str]
    emails: set[str]
    phones: set[str]
    times: set[str]
    numbers: set[str]
    currencies: set[str]
    words: set[str]


def _url_key(url: str) -> str:
    url = url.lower().rstrip(".,;:!?)")
    url = re.sub(r"^https?://", "", url)
    return re.sub(r"^www\.", "", url).rstrip("/")


def _time_key(match: re.Match) -> str:
    hour = int(match.group(1) or match.group(4))
    minute = int(match.group(2) or 0)
    suffix = (match.group(3) or match.group(5) or "").lower()
    if suffix == "pm" and hour < 12:
        hour += 12
    return f"{hour:02d}:{minute:02d}"


def _number_key(text: str) -> str:
    return re.sub(r"[.,]", "", text).lstrip("0") or "0"


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _extract(text: str) -> tuple[_Facts, str]:
    """The facts in `text`, and the text with URLs, emails, phones and times blanked out."""
    emails = {m.lower() for m in EMAIL.findall(text)}
    rest = EMAIL.sub(" ", text)
    urls = {_url_key(m) for m in URL.findall(rest)}
    rest = URL.sub(" ", rest)
    phones = {_digits(m) for m in PHONE.findall(rest) if len(_digits(m)) >= 8}
    rest = PHONE.sub(lambda m: " " if len(_digits(m.group())) >= 8 else m.group(), rest)
    times = {_time_key(m) for m in TIME.finditer(rest)}
    rest = TIME.sub(" ", rest)
    numbers = {_number_key(m) for m in NUMBER.findall(rest)}
    currencies = {m.lower().rstrip(".").removesuffix("s") for m in CURRENCY.findall(rest)}
    return _Facts(urls, emails, phones, times, numbers, currencies, set(words(rest))), rest


def _named_terms(text: str) -> set[str]:
    """Countries (any case), acronyms, and capitalised words that look like names.

    A capitalised word at the start of a sentence counts only as part of a run of capitalised
    words ("Monash University ..."), since every sentence starts with one.
    """
    terms: set[str] = set()
    for sentence in re.split(r"(?<=[.!?:;\n])\s+|\n", text):
        tokens = re.findall(r"[^\W\d_]+(?:['\u2019-][^\W\d_]+)*", sentence)
        for i, token in enumerate(tokens):
            low = token.lower()
            if low in COUNTRIES:
                terms.add(low)
                continue
            if not token[0].isupper() or low in COMMON_CAPITALISED or low in DATE_WORDS:
                continue  # dates are checked as dates
            if CURRENCY.fullmatch(token):
                continue  # and currencies as currencies
            acronym = sum(c.isupper() for c in token) >= 2
            next_capitalised = i + 1 < len(tokens) and tokens[i + 1][0].isupper()
            if i > 0 or acronym or next_capitalised:
                terms.add(low)
    return terms


def _unsupported_facts(draft: str, sources: str, allowed_terms: Iterable[str]) -> list[str]:
    have, _ = _extract(sources)
    have_words = set(words(sources)) | {w for t in allowed_terms for w in words(t)}
    source_text = normalise(sources)
    got, rest = _extract(draft)
    problems: list[str] = []
    problems += [f"URL {u}" for u in sorted(got.urls - have.urls)]
    problems += [f"email {e}" for e in sorted(got.emails - have.emails)]
    problems += [f"phone number {p}" for p in sorted(got.phones - have.phones)]
    problems += [f"time {t}" for t in sorted(got.times - have.times)]
    problems += [f"number {n}" for n in sorted(got.numbers - have.numbers - have.phones)]
    problems += [f"currency {c}" for c in sorted(got.currencies - have.currencies)]
    problems += [f"date {w}" for w in sorted((got.words & DATE_WORDS) - have_words)]
    names = _named_terms(rest) - have_words
    problems += [f"name {n}" for n in sorted(n for n in names if n not in source_text)]
    return problems


def _phrase_check(name: str, draft_tokens: list[str], phrases: Sequence[str], what: str) -> Verdict:
    found = find_phrases(draft_tokens, phrases)
    if found:
        return Verdict(name, False, f"{what}: " + ", ".join(repr(p) for p in found[:3]))
    return Verdict(name, True)


def guard_check(
    draft: str,
    *,
    retrieved_entries: Sequence[Entry],
    config: AssistantSettings,
    allowed_terms: Iterable[str] = (),
) -> list[Verdict]:
    """Check a draft against the entries it was composed from; one verdict per check.

    `allowed_terms` are words the draft may use beyond the entries' answers: the customer's
    first name (the caller passes it); the assistant's configured name is always allowed.
    """
    tokens = words(draft)
    verdicts = []

    hits = detect_forbidden_topics(draft, config.forbidden_topics)
    verdicts.append(
        Verdict("forbidden_topic", False, "; ".join(f"{h.topic} ({h.phrase!r})" for h in hits))
        if hits
        else Verdict("forbidden_topic", True)
    )
    verdicts.append(_phrase_check("uncertainty", tokens, UNCERTAINTY, "hedges"))
    if len(draft) > config.max_reply_chars:
        verdicts.append(
            Verdict("length", False, f"{len(draft)} characters, cap {config.max_reply_chars}")
        )
    else:
        verdicts.append(Verdict("length", True))
    sources = "\n".join(e.answer for e in retrieved_entries)
    unsupported = _unsupported_facts(draft, sources, [*allowed_terms, config.name])
    verdicts.append(
        Verdict(
            "unsupported_facts", False, "not in the approved answers: " + ", ".join(unsupported)
        )
        if unsupported
        else Verdict("unsupported_facts", True)
    )
    verdicts.append(_phrase_check("abuse", tokens, ABUSE, "insult or disparagement"))
    verdicts.append(_phrase_check("prompt_injection", tokens, INJECTION, "echoes"))
    verdicts.append(_phrase_check("promise", tokens, PROMISES, "promises"))
    return verdicts


def failed(verdicts: Iterable[Verdict]) -> list[Verdict]:
    return [v for v in verdicts if not v.passed]
