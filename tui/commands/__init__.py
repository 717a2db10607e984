"""The headless commands: status, hosters, unlock, emulator."""
