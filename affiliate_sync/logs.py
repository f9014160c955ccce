"""Log lines with the `[Affiliate Sync]` prefix, and a filter that keeps secrets out of every handler."""

from __future__ import annotations

import logging
from collections.abc import Iterable, MutableMapping
from typing import Any

from affiliate_sync.settings import LOG_PREFIX

REDACTED = "***"


class PrefixedLogger(logging.LoggerAdapter):
    """Prefix every message with `[Affiliate Sync]` so ops can grep one job's lines anywhere."""

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        return f"{LOG_PREFIX} {msg}", kwargs


def prefixed(logger: logging.Logger | logging.LoggerAdapter) -> PrefixedLogger:
    return PrefixedLogger(logger, {})


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


class RedactSecrets(logging.Filter):
    """Replace known secrets in a record's final message (args included) before any handler sees it."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if s and len(s) >= 4)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message, self.secrets)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            text = redact(str(record.exc_info[1]), self.secrets)
            if text != str(record.exc_info[1]):
                record.exc_info = None
                record.msg = f"{record.msg} ({text})"
        return True


def install_redaction(secrets: Iterable[str], logger_names: Iterable[str] = ("", "prefect")) -> RedactSecrets:
    """Attach one redacting filter to every handler of the named loggers (root and Prefect's)."""
    redactor = RedactSecrets(secrets)
    for name in logger_names:
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, RedactSecrets) and f.secrets == redactor.secrets for f in handler.filters):
                handler.addFilter(redactor)
    return redactor
