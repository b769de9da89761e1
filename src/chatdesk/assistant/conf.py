"""The assistant's per-workspace settings as the decision code sees them (a plain value object).

Where they are stored and versioned is the caller's business; the scope gate, composer and
guard only read this.
"""

from __future__ import annotations

from dataclasses import dataclass

from chatdesk.assistant.topics import DEFAULT_FORBIDDEN_TOPICS

DEFAULT_THRESHOLD = 0.70
DEFAULT_MAX_REPLY_CHARS = 300
DEFAULT_TEMPERATURE = 0.1
MAX_TEMPERATURE = 0.3
DEFAULT_HOLDING_MESSAGE = (
    "Thanks for your message! A member of our team will get back to you shortly. / "
    "Terima kasih, tim kami akan segera membalas pesan Anda."
)

# {next_open} becomes the next opening time, e.g. "2026-11-30 08:00 (UTC+07:00)".
DEFAULT_AFTER_HOURS_MESSAGE = (
    "Thanks! Our team is offline now and will reply when we're back ({next_open}). / "
    "Terima kasih! Tim kami sedang offline dan akan membalas saat kembali ({next_open})."
)
DEFAULT_REVIEW_TIMEOUT_MINUTES = 5


@dataclass(frozen=True)
class AssistantSettings:
    name: str = "Assistant"
    persona: str = ""
    # Empty means every topic of the knowledge base; otherwise entries of other topics are ignored.
    allowed_topics: tuple[str, ...] = ()
    forbidden_topics: tuple[str, ...] = DEFAULT_FORBIDDEN_TOPICS
    threshold: float = DEFAULT_THRESHOLD
    max_reply_chars: int = DEFAULT_MAX_REPLY_CHARS
    use_first_name: bool = True
    temperature: float = DEFAULT_TEMPERATURE
    holding_message: str = DEFAULT_HOLDING_MESSAGE

    def __post_init__(self):
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be between 0 and 1, got {self.threshold}")
        if not 0.0 <= self.temperature <= MAX_TEMPERATURE:
            raise ValueError(f"temperature must be between 0 and {MAX_TEMPERATURE}")
        if self.max_reply_chars < 20:
            raise ValueError("max_reply_chars must be at least 20")
