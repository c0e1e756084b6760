"""A real SMTP server on a loopback port for the mail tests, on Python's ``socketserver``.

It speaks the part of RFC 5321 that ``smtplib`` uses (EHLO/HELO, MAIL, RCPT, DATA with
dot-unstuffing, RSET, NOOP, QUIT) and keeps each received message, parsed. ``stop()`` closes the
port, so a test sees the server down; ``start()`` opens the same port again. ``on_message`` runs
in the server's thread before each message is acknowledged (a slow server: the test advances its
clock there), ``quit_reply`` is the answer to QUIT. No dependency: the
standard library's ``smtpd`` is deprecated and aiosmtpd would be one more package to pin.
"""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import EmailMessage

from tests.support import served
from tests.support.stack import free_port


class SMTPServer:
    def __init__(
        self, on_message: Callable[[int], None] | None = None, quit_reply: str = "221 Bye"
    ) -> None:
        self.on_message = on_message
        self.quit_reply = quit_reply
        self.port = free_port()
        self.received: list[EmailMessage] = []
        self._arrived = threading.Condition()
        self._server: socketserver.ThreadingTCPServer | None = None

    def start(self) -> None:
        owner = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                owner._converse(self.rfile, self.wfile)

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        server = socketserver.ThreadingTCPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        served.start(server)
        self._server = server

    def stop(self) -> None:
        if self._server is not None:
            served.stop(self._server)
            self._server = None

    def subjects(self) -> list[str]:
        return [str(message["Subject"]) for message in self.received]

    def wait_for(self, count: int, timeout: float = 10) -> bool:
        """Block until ``count`` messages arrived (a worker thread sends them)."""
        with self._arrived:
            return self._arrived.wait_for(lambda: len(self.received) >= count, timeout)

    def _converse(self, rfile, wfile) -> None:  # type: ignore[no-untyped-def]
        def reply(line: str) -> None:
            wfile.write(line.encode("ascii") + b"\r\n")

        reply("220 127.0.0.1 test SMTP")
        for raw in rfile:
            verb = raw[:4].decode("ascii", "replace").upper()
            if verb == "EHLO":
                reply("250-127.0.0.1")
                reply("250 8BITMIME")
            elif verb in ("HELO", "MAIL", "RCPT", "RSET", "NOOP"):
                reply("250 OK")
            elif verb == "DATA":
                reply("354 End data with <CR><LF>.<CR><LF>")
                lines = []
                for data in rfile:
                    if data in (b".\r\n", b".\n"):
                        break
                    lines.append(data[1:] if data.startswith(b"..") else data)
                with self._arrived:
                    self.received.append(
                        message_from_bytes(b"".join(lines), policy=policy.default)  # type: ignore[arg-type]
                    )
                    count = len(self.received)
                    self._arrived.notify_all()
                if self.on_message is not None:
                    self.on_message(count)
                reply("250 OK queued")
            elif verb == "QUIT":
                reply(self.quit_reply)
                return
            else:
                reply("502 Command not implemented")
