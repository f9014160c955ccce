"""Keep the HubSpot token out of logs, exception messages and reprs (SPEC §6).

The client never formats the token into text on purpose; this is the defensive second
line: every message it logs or raises passes through `redact`, so an echo of the token in
an error body, a URL or an httpx exception string is replaced by `***` as well.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "***"

# A bearer credential or a HubSpot private-app token ("pat-na1-…") is masked even when it
# is not the token this client holds: a proxy or error body may echo some other secret.
_BEARER = re.compile(r"(?i)(bearer\s+)[^\s\"',;]+")
_PRIVATE_APP_TOKEN = re.compile(r"\bpat-[a-z0-9]{2,5}-[0-9a-f-]{16,}\b", re.IGNORECASE)


def redact(text: object, secrets: Iterable[str] = ()) -> str:
    """`text` as a string with every secret (and anything that looks like one) masked."""
    result = str(text)
    # Longest first, so a secret that contains another is masked whole.
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        result = result.replace(secret, MASK)
    result = _BEARER.sub(lambda m: m.group(1) + MASK, result)
    return _PRIVATE_APP_TOKEN.sub(MASK, result)
