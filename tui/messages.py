"""The messages of the UI, in one place."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message


@dataclass
class SessionEvents(Message):
    """The session has events waiting for the App: one such message at a time,
    so that a paste of 10,000 links is a few batches in the queue rather than
    30,000 messages that every key press waits behind."""
