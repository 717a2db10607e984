"""linkdeck: a terminal dashboard for a multi-hoster premium link service."""

__version__ = "0.1.0"
