"""Sending mail over SMTP: one connection for a batch of outbox messages, each message
put in words (paymaster.mail_text) in its reader's language as it goes out."""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from paymaster.mail_config import SmtpConfig
from paymaster.mail_text import render

log = logging.getLogger(__name__)


def compose(smtp: SmtpConfig, html: bool, message: dict) -> EmailMessage:
    subject, text, markup = render(message["kind"], message["payload"], message["locale"])
    mail = EmailMessage()
    mail["From"] = smtp.from_
    mail["To"] = message["recipient"]
    mail["Subject"] = subject
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = make_msgid(domain=smtp.from_.rsplit("@", 1)[1])
    mail.set_content(text)
    if html:
        mail.add_alternative(markup, subtype="html")
    # After the body: making it multipart moves the Content-* headers into its first part.
    mail["Content-Language"] = message["locale"]
    return mail


def send_all(smtp: SmtpConfig, html: bool, messages: list[dict]) -> dict[int, str | None]:
    """{message id: None when the server took it, else the error}. A server that cannot
    be reached fails every message with the same error."""
    outcomes: dict[int, str | None] = {}
    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout) as server:
            if smtp.starttls:
                server.starttls(context=ssl.create_default_context())
            if smtp.username:
                server.login(smtp.username, smtp.password() or "")
            for message in messages:
                try:
                    composed = compose(smtp, html, message)
                except (KeyError, ValueError, ArithmeticError) as err:  # a bad payload
                    log.exception("mail %s cannot be put in words", message["id"])
                    outcomes[message["id"]] = _describe(err)
                    continue
                try:
                    server.send_message(composed)
                    outcomes[message["id"]] = None
                except smtplib.SMTPRecipientsRefused as err:  # this address only
                    outcomes[message["id"]] = _describe(err)
    except (OSError, smtplib.SMTPException) as err:
        for message in messages:
            outcomes.setdefault(message["id"], _describe(err))
    return outcomes


def _describe(err: Exception) -> str:
    return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
