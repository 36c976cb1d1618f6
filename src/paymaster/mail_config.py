"""The workspace's `notifications:` section: how mail leaves (SMTP) and in which language
when a user has none. Validated when the workspace is read; the password itself is never
in the file, only the name of the environment variable that holds it."""

from __future__ import annotations

import os
import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

KINDS = ("registration", "enrollment", "dispute", "statement", "reminder")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# One address, no display name: enough to refuse a typo, not a full RFC 5322 parser.
_ADDRESS = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")


def valid_address(text: str) -> bool:
    return bool(_ADDRESS.match(text)) and len(text) <= 320


class SmtpConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: str = Field(min_length=1, description="SMTP server host name")
    port: int = Field(587, ge=1, le=65535, description="SMTP port (587 with STARTTLS)")
    starttls: bool = Field(True, description="upgrade the connection with STARTTLS")
    username: str | None = Field(None, description="SMTP login, if the server wants one")
    password_env: str | None = Field(
        None, description="name of the environment variable holding the SMTP password "
        "(never the password itself)")
    from_: str = Field(alias="from", description="sender address of every message")
    timeout: float = Field(10, gt=0, le=300, description="seconds to wait for the server")

    @field_validator("password_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.match(value):
            raise ValueError(f"'{value}' is not an environment variable name (put the "
                             "password in a variable and give its name, e.g. SMTP_PASSWORD)")
        return value

    @field_validator("from_")
    @classmethod
    def _sender(cls, value: str) -> str:
        if not valid_address(value):
            raise ValueError(f"'{value}' is not an e-mail address (e.g. payouts@example.com)")
        return value

    def password(self) -> str | None:
        return os.environ.get(self.password_env) if self.password_env else None


class NotificationsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    smtp: SmtpConfig | None = Field(None, description="the SMTP server; without it no mail "
                                    "is queued or sent")
    language: str = Field("en", pattern=r"^(en|pl|zh)$",
                          description="language of a message to a user without one")
    html: bool = Field(True, description="send text and HTML (false: text only)")
    remind_days: int = Field(2, ge=1, le=30, description="business days before a deadline "
                             "that `paymaster notify due` reminds")
