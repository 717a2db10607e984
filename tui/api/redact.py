"""Redaction of the PIN from anything that may be shown or logged.

The legacy API carries the PIN in the query string, so a URL is a secret until
it has been through `redact_url`.
"""

from __future__ import annotations

import re
from urllib.parse import quote, quote_plus

from tui.secret import Secret

# The value of params[pass] with raw or percent-encoded brackets, in any case.
_PASS_PARAM = re.compile(r"(params(?:\[|%5[bB])pass(?:\]|%5[dD])=)[^&#\s]*")


def redact_url(url: str) -> str:
    """`url` with the value of every `params[pass]` replaced by `***`."""
    return _PASS_PARAM.sub(r"\1***", url)


def redact(text: str, secret: Secret | str) -> str:
    """`text` with `secret` and its URL-encoded forms replaced by `***`."""
    text = redact_url(text)
    value = secret.reveal() if isinstance(secret, Secret) else secret
    if not value:
        return text
    for form in {value, quote(value, safe=""), quote_plus(value)}:
        text = text.replace(form, "***")
    return text
