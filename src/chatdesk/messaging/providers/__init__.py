"""Outbound provider adapters. Use `provider_for(channel)`; never instantiate one directly."""

from chatdesk.messaging.providers.base import (
    MessagingProvider,
    OutsideWindowError,
    ProviderError,
    SendResult,
    provider_for,
)

__all__ = ["MessagingProvider", "OutsideWindowError", "ProviderError", "SendResult", "provider_for"]
