"""A real SMTP server (aiosmtpd on 127.0.0.1) that keeps what it receives: the alert tests' inbox."""

from __future__ import annotations

import email
import socket
import threading
import time
from dataclasses import dataclass
from email.message import Message

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    message: Message
    raw: bytes  # as it came over the wire: what a leak check must search

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def text(self) -> str:
        parts = [p for p in self.message.walk() if p.get_content_type() == "text/plain"]
        return "\n".join(p.get_payload(decode=True).decode() for p in parts)

    @property
    def raw_text(self) -> str:
        return self.raw.decode("utf-8", errors="replace")


class SmtpSink:
    """Start with `start()`, stop with `stop()`; `messages` fills as mail arrives."""

    def __init__(self) -> None:
        self.messages: list[Mail] = []
        self._lock = threading.Lock()
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    def start(self) -> SmtpSink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        raw = bytes(envelope.content)
        with self._lock:
            self.messages.append(
                Mail(envelope.mail_from, list(envelope.rcpt_tos), email.message_from_bytes(raw), raw)
            )
        return "250 Message accepted for delivery"

    def since(self, index: int) -> list[Mail]:
        with self._lock:
            return list(self.messages[index:])

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Mail]:
        """The messages once `count` have arrived, or what arrived by `timeout` (bounded wait)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.messages) < count:
            time.sleep(0.1)
        return list(self.messages)
