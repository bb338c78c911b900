"""Credentials for RTSP sources and the restream, kept out of every printed line.

Credentials come from the URI (accepted, not recommended), from environment variables
(`--rtsp-user` + `--rtsp-password-env NAME`) or from a secrets file (TOML with `user` and
`password`, readable by its owner only). They are handed to rtspsrc as properties, never
left in the URI GStreamer sees, and `RedactingFilter` scrubs any URI credentials from log records.
"""

from __future__ import annotations

import logging
import os
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from ganstream.stream.errors import ConfigError
from ganstream.stream.uri import redact


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str = field(repr=False)  # never in a repr, a log line or a traceback's locals summary

    def __post_init__(self) -> None:
        if not self.user:
            raise ConfigError("credentials: the user name is empty")


def split_credentials(uri: str) -> tuple[str, Credentials | None]:
    """`rtsp://u:p@host/x` -> (`rtsp://host/x`, Credentials(u, p)); a URI without them is returned as is."""
    parts = urlsplit(uri)
    if parts.username is None:
        return uri, None
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    clean = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return clean, Credentials(unquote(parts.username), unquote(parts.password or ""))


def credentials_from_env(user: str, password_env: str) -> Credentials:
    password = os.environ.get(password_env)
    if password is None:
        raise ConfigError(f"environment variable {password_env} (the password for user {user!r}) is not set")
    return Credentials(user, password)


def load_secrets_file(path: Path) -> Credentials:
    """A TOML file with `user` and `password`; refused when others can read it (chmod 600)."""
    try:
        mode = path.stat().st_mode
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"secrets file '{path}': no such file") from None
    except OSError as exc:
        raise ConfigError(f"secrets file '{path}': cannot read it ({exc.strerror})") from None
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"secrets file '{path}': readable by others (mode {stat.S_IMODE(mode):o}); run chmod 600")
    try:
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        # The parser's message may quote the file's content: keep it out.
        raise ConfigError(f"secrets file '{path}': not valid TOML") from None
    unknown = sorted(set(data) - {"user", "password"})
    if unknown or not isinstance(data.get("user"), str) or not isinstance(data.get("password"), str):
        raise ConfigError(f"secrets file '{path}': expected exactly the string keys user and password")
    return Credentials(data["user"], data["password"])


class RedactingFilter(logging.Filter):
    """Rewrites each record's final message with URI credentials (and any known secret) replaced by ***."""

    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        for secret in self.secrets:
            clean = clean.replace(secret, "***")
        if clean != message:
            record.msg, record.args = clean, None
        return True


def install_log_redaction(logger: logging.Logger | None = None, secrets: tuple[str, ...] = ()) -> RedactingFilter:
    """Attach the filter to every handler of `logger` (the root logger by default)."""
    target = logger or logging.getLogger()
    filt = RedactingFilter(secrets)
    for handler in target.handlers:
        handler.addFilter(filt)
    return filt
