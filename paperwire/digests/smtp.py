"""One SMTP transaction, step by step, so that a failure says whether the server may have the message.

Every transaction (and every mail sent with ``EmailMessage.send()`` in a web request) runs under
one overall deadline, the backend's ``timeout`` (paperwire.core.outside): a server that trickles its
greeting, or any answer, a line at a time is cut off like a silent one. Its sockets are opened
by ``WatchedSMTP``/``WatchedSMTP_SSL``, the connection classes of this module's ``EmailBackend``
(the one PAPERWIRE_EMAIL_URL selects).

smtplib's ``sendmail`` runs MAIL, RCPT and DATA in one call: a timeout inside it tells
nothing about where it happened. ``transmit`` runs the steps one at a time over the
connection of Django's SMTP backend and raises ``SmtpFailure`` naming the step:

- ``connect`` (connection, EHLO, STARTTLS, login) and ``sender`` (MAIL FROM): the server
  refuses, or cannot be reached for, any message: nothing about the recipient;
- ``recipient`` (RCPT TO) and ``data`` (the DATA command, and sending the message up to its
  final dot): nothing was delivered, sending again is safe;
- ``message``: the whole message was sent and the server's final answer is awaited. With an
  answer, the server said what it did (250: it has it; 4xx or 5xx: it has not). Without one
  (a timeout, a dropped connection) it may have the message: the delivery is uncertain.
"""

from __future__ import annotations

import re
import smtplib
from collections.abc import Callable

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.backends import smtp as django_smtp
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import sanitize_address

from paperwire.core import outside

CONNECT, SENDER, RECIPIENT, DATA, MESSAGE = "connect", "sender", "recipient", "data", "message"


class SmtpFailure(Exception):
    """A message the server did not acknowledge: where, and its answer (``code`` None: no answer)."""

    def __init__(self, step: str, code: int | None, reply: str) -> None:
        self.step, self.code, self.reply = step, code, " ".join(reply.split())[:500]
        super().__init__(f"{code} {self.reply}" if code else self.reply)

    @property
    def server_wide(self) -> bool:
        """The server refuses any message now (the connection, the sender, or 421 "closing")."""
        return self.step in (CONNECT, SENDER) or self.code == 421

    @property
    def maybe_delivered(self) -> bool:
        """The whole message went out and no answer came back: the server may have it."""
        return self.step == MESSAGE and self.code is None

    @property
    def permanent(self) -> bool:
        return self.code is not None and self.code >= 500


class Superseded(Exception):
    """``before_message`` said no: the message was not sent, and the connection was dropped."""


class WatchedSMTP(smtplib.SMTP):
    """smtplib's client, its socket opened under the current deadline."""

    def _get_socket(self, host, port, timeout):
        return outside.connect((host, port), timeout, self.source_address)


class WatchedSMTP_SSL(smtplib.SMTP_SSL, WatchedSMTP):  # noqa: N801
    """SMTP_SSL wraps the socket WatchedSMTP opens (its ``_get_socket`` calls the next class's)."""


class EmailBackend(django_smtp.EmailBackend):
    """Django's SMTP backend, each ``send_messages`` (a web request's mail) ``timeout`` seconds in all."""

    @property
    def connection_class(self):
        return WatchedSMTP_SSL if self.use_ssl else WatchedSMTP

    def send_messages(self, email_messages):
        with outside.deadline(self.timeout or settings.EMAIL_TIMEOUT) as limit:
            try:
                return super().send_messages(email_messages)
            except (smtplib.SMTPException, OSError) as error:
                if limit.fired:
                    raise limit.error() from error
                raise


def transmit(backend: BaseEmailBackend, email: EmailMessage, before_message: Callable[[], bool] | None = None) -> None:
    """Send ``email`` over ``backend``'s connection (opened if needed), or raise SmtpFailure.

    The whole transaction (the connection too, when it opens one) takes at most
    ``backend.timeout`` seconds: past that, the step it was in fails with no answer.
    ``before_message`` is called once the server asked for the message (354), before any of it
    is sent (until then the server cannot have it); when it returns False, nothing is sent, the
    connection is dropped and Superseded is raised.

    After a failure with no answer the connection is dropped without QUIT (the server may be
    stuck); after an answered refusal the transaction is reset and the connection kept.
    Backends other than SMTP (console, file, locmem) have no transaction to follow.
    """
    if not isinstance(backend, django_smtp.EmailBackend):
        backend.send_messages([email])
        return
    with outside.deadline(backend.timeout or settings.EMAIL_TIMEOUT) as limit:
        transaction(backend, email, limit, before_message)


def transaction(backend, email, limit: outside.Deadline, before_message) -> None:
    encoding = email.encoding or settings.DEFAULT_CHARSET
    sender = sanitize_address(email.from_email, encoding)
    recipients = [sanitize_address(address, encoding) for address in email.recipients()]
    payload = email.message().as_bytes(linesep="\r\n")
    step = CONNECT
    try:
        backend.open()
        smtp = backend.connection
        if smtp.sock is not None:
            limit.watch(smtp.sock)  # a connection opened by an earlier transaction
        smtp.ehlo_or_helo_if_needed()
        step = SENDER
        options = [f"size={len(payload)}"] if smtp.does_esmtp and smtp.has_extn("size") else []
        expect(smtp.mail(sender, options), step, 250)
        step = RECIPIENT
        for recipient in recipients:
            expect(smtp.rcpt(recipient), step, 250, 251)
        step = DATA
        expect(smtp.docmd("data"), step, 354)
        if before_message is not None and not before_message():
            drop(backend)
            raise Superseded()
        smtp.send(dot_stuffed(payload))
        step = MESSAGE
        expect(smtp.getreply(), step, 250)
    except SmtpFailure as failure:
        if failure.code == 421:
            drop(backend)
        else:
            reset(backend)
        raise
    except (smtplib.SMTPException, OSError) as error:
        drop(backend)
        if limit.fired:
            raise SmtpFailure(step, None, f"TimeoutError: {limit.error()}") from error
        if isinstance(error, smtplib.SMTPResponseException):  # a refused login or STARTTLS
            raise SmtpFailure(step, error.smtp_code, decode(error.smtp_error)) from error
        raise SmtpFailure(step, None, f"{type(error).__name__}: {error}") from error


def expect(answer: tuple[int, bytes], step: str, *codes: int) -> None:
    code, reply = answer
    if code not in codes:
        raise SmtpFailure(step, code, decode(reply))


def decode(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def dot_stuffed(payload: bytes) -> bytes:
    """The message as DATA sends it (RFC 5321 4.5.2): leading dots doubled, ended by a lone dot."""
    data = re.sub(rb"(?m)^\.", b"..", payload)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


def reset(backend: django_smtp.EmailBackend) -> None:
    """RSET after an answered refusal, so the connection serves the next message."""
    if backend.connection is None:
        return
    try:
        code, _ = backend.connection.rset()
    except (smtplib.SMTPException, OSError):
        code = None
    if code != 250:
        drop(backend)


def drop(backend: django_smtp.EmailBackend) -> None:
    """Close the socket without QUIT: a server that stopped answering would keep us waiting again."""
    for name in ("connection", "_partial_connection"):
        smtp = getattr(backend, name, None)
        if smtp is not None:
            smtp.close()
            setattr(backend, name, None)


def close(backend: BaseEmailBackend) -> None:
    """QUIT at the end of a run; a server that answers it badly is simply left."""
    try:
        if isinstance(backend, django_smtp.EmailBackend):
            with outside.deadline(backend.timeout or settings.EMAIL_TIMEOUT) as limit:
                if backend.connection is not None and backend.connection.sock is not None:
                    limit.watch(backend.connection.sock)
                backend.close()
        else:
            backend.close()
    except (smtplib.SMTPException, OSError):
        if isinstance(backend, django_smtp.EmailBackend):
            drop(backend)
