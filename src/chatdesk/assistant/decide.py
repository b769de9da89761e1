"""The assistant's decision for one customer message: answer (with a guarded draft) or escalate.

    scope gate (forbidden topic in the message? confident match?) -> composer -> guard

Pure: no database, no network (unless the composer or the "openai" retriever makes calls). The
worker, the sandbox and `chatdesk assistant-eval` all call `assistant_decide`, so what is
measured is what runs.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from chatdesk.assistant.compose import (
    ApprovedAnswerComposer,
    Composer,
    ComposerError,
    build_request,
)
from chatdesk.assistant.conf import AssistantSettings
from chatdesk.assistant.guard import Verdict, failed, guard_check
from chatdesk.assistant.knowledge import Entry
from chatdesk.assistant.retrieval import LexicalRetriever, Retriever, ScopeResult
from chatdesk.assistant.text import words
from chatdesk.assistant.topics import detect_forbidden_topics

logger = logging.getLogger(__name__)

ANSWER = "answer"
ESCALATE = "escalate"


@dataclass(frozen=True)
class Decision:
    action: str  # "answer" | "escalate"
    reply: str | None  # the guarded draft when answering
    sources: tuple[str, ...]  # keys of the entries the reply was composed from
    score: float  # calibrated confidence of the best entry
    verdicts: tuple[Verdict, ...] = ()
    reasons: tuple[str, ...] = ()
    matched: tuple[str, ...] = field(default=(), compare=False)  # ranked keys, for review
    draft: str | None = field(default=None, compare=False)  # kept when the guard blocked it

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)


RETRIEVER_NAMES = ("lexical", "embeddings", "openai")


class RetrieverUnavailable(RuntimeError):
    """A retriever cannot score right now (endpoint down, not configured). The message names
    the cause without any secret: it is recorded as the escalation's reason."""


@lru_cache(maxsize=64)
def _cached_retriever(name: str, entries: tuple[Entry, ...], endpoint=None) -> Retriever:
    # Entries are immutable values: an edited entry is a different key, so the cache never
    # serves a stale index; the size bound keeps memory flat across many workspaces. The
    # remote retriever's endpoint is part of the key: changed settings embed afresh.
    if name == "lexical":
        return LexicalRetriever(entries)
    if name == "embeddings":
        from chatdesk.assistant.embeddings import EmbeddingRetriever

        return EmbeddingRetriever(entries)
    if name == "openai":
        from chatdesk.assistant.remote_embeddings import remote_retriever

        return remote_retriever(entries, endpoint)
    raise ValueError(f"unknown retriever {name!r}; choose from {', '.join(RETRIEVER_NAMES)}")


def retriever_for(name: str, *, entries: Sequence[Entry], config: AssistantSettings) -> Retriever:
    """The named retriever over the entries this configuration lets the assistant use."""
    endpoint = None
    if name == "openai":
        from chatdesk.assistant.remote_embeddings import endpoint_from_settings

        endpoint = endpoint_from_settings()
    return _cached_retriever(name, usable_entries(entries, config), endpoint)


def usable_entries(entries: Sequence[Entry], settings: AssistantSettings) -> tuple[Entry, ...]:
    """Enabled entries of allowed topics; entries filed under a forbidden topic never answer."""
    allowed = {" ".join(words(t)) for t in settings.allowed_topics}
    forbidden = {" ".join(words(t)) for t in settings.forbidden_topics}
    usable = []
    for entry in entries:
        topic = " ".join(words(entry.topic))
        if not entry.enabled or topic in forbidden or (allowed and topic not in allowed):
            continue
        usable.append(entry)
    return tuple(usable)


def assistant_decide(
    message_text: str,
    *,
    context_turns: Sequence[str] = (),
    entries: Sequence[Entry],
    config: AssistantSettings,
    composer: Composer | None = None,
    retriever: Retriever | str | None = None,
    customer_name: str | None = None,
) -> Decision:
    """Decide what to do with one message.

    `context_turns` are the customer's earlier messages, most recent first (weighted less than
    the message). `customer_name` is the contact's display name; only a first name derived from
    it reaches the composer. `retriever` defaults to the lexical one over the usable entries;
    pass a name (`RETRIEVER_NAMES`) or `retriever_for(name, ...)` for another, never one built
    over unfiltered entries. A retriever that fails escalates with the reason recorded.
    """
    message = (message_text or "").strip()
    if not message:
        return Decision(ESCALATE, None, (), 0.0, reasons=("empty message",))

    reasons = [
        f"forbidden topic: {hit.topic} ({hit.phrase!r})"
        for hit in detect_forbidden_topics(message, config.forbidden_topics)
    ]
    try:
        if retriever is None or isinstance(retriever, str):
            retriever = retriever_for(retriever or "lexical", entries=entries, config=config)
        result: ScopeResult = retriever.search(message, context=list(context_turns))
    except Exception as exc:  # an unreachable endpoint must escalate, never drop the message
        if isinstance(exc, RetrieverUnavailable):
            detail = str(exc)
            logger.warning("assistant retriever unavailable: %s", detail)
        else:  # a bug, or a library error whose text may quote a URL or a key: name only
            detail = type(exc).__name__
            logger.exception("assistant retriever crashed")
        reasons.append(f"retriever unavailable: {detail}")
        return Decision(ESCALATE, None, (), 0.0, reasons=tuple(reasons))
    ranked = tuple(m.entry.key for m in result.matches)
    score = round(result.confidence, 4)

    top = result.top
    if top is None:
        reasons.append("no knowledge entry matches")
    elif result.confidence < config.threshold:
        reasons.append(f"low confidence {result.confidence:.2f} < {config.threshold:.2f}")
    elif top.entry not in usable_entries(entries, config):
        # Only reachable with a retriever built over other entries: never answer from a
        # disabled entry or one of a topic this configuration does not allow.
        reasons.append(f"entry {top.entry.key} is disabled or its topic is not allowed")
    if reasons:
        return Decision(ESCALATE, None, (), score, reasons=tuple(reasons), matched=ranked)

    sources = (top.entry,)
    request = build_request(
        message=message,
        context_turns=context_turns,
        entries=sources,
        settings=config,
        customer_name=customer_name,
    )
    composer = composer or ApprovedAnswerComposer()
    try:
        draft = composer.compose(request)
    except ComposerError as exc:
        return Decision(
            ESCALATE, None, ranked[:1], score, reasons=(f"composer failed: {exc}",), matched=ranked
        )
    except Exception as exc:  # a composer bug must escalate, never drop the message
        logger.exception("assistant composer %s crashed", getattr(composer, "name", composer))
        return Decision(
            ESCALATE,
            None,
            ranked[:1],
            score,
            reasons=(f"composer failed: {type(exc).__name__}",),
            matched=ranked,
        )

    allowed_terms = [request.first_name] if request.first_name else []
    verdicts = tuple(
        guard_check(draft, retrieved_entries=sources, config=config, allowed_terms=allowed_terms)
    )
    blocked = failed(verdicts)
    if blocked:
        return Decision(
            ESCALATE,
            None,
            ranked[:1],
            score,
            verdicts=verdicts,
            reasons=tuple(f"guard {v.check}: {v.reason}" for v in blocked),
            matched=ranked,
            draft=draft,
        )
    return Decision(ANSWER, draft, (top.entry.key,), score, verdicts=verdicts, matched=ranked)
