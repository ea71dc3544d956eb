"""The browser token: where it comes from, how it is compared, and how guessing it is slowed down."""

from __future__ import annotations

import asyncio
import hmac
import os
import secrets
import time
from pathlib import Path

from passerelle.daemon.web.settings import TOKEN_FILE_NAME, WebSettings

FIRST_DELAY = 0.1  # seconds before answering the second bad token in a row; doubles each time
MAX_DELAY = 5.0
FORGET_AFTER = 60.0  # seconds without a bad token before the delay starts over


class TokenFileError(Exception):
    """The token file cannot be read or created (reported like an outbox that cannot be used)."""


def token_path(state_directory: Path) -> Path:
    return state_directory / TOKEN_FILE_NAME


def read_token(settings: WebSettings, state_directory: Path) -> str | None:
    """The configured token, else the generated one; None when neither exists yet."""
    if settings.token is not None:
        return settings.token.get_secret_value()
    try:
        return token_path(state_directory).read_text().strip() or None
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise TokenFileError(f"{token_path(state_directory)}: {exc.strerror or exc}") from exc


def load_or_create_token(settings: WebSettings, state_directory: Path) -> str:
    existing = read_token(settings, state_directory)
    if existing is not None:
        return existing
    path = token_path(state_directory)
    token = secrets.token_urlsafe(32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Created with 0600 from the start (never readable by others, even for an instant).
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(token + "\n")
    except FileExistsError:  # another process created it meanwhile: use theirs
        return read_token(settings, state_directory) or token
    except OSError as exc:
        raise TokenFileError(f"{path}: {exc.strerror or exc}") from exc
    return token


class TokenGate:
    """Constant-time comparison; bad tokens answered one at a time, each later than the one before."""

    def __init__(self, token: str) -> None:
        self._token = token.encode()
        self._lock = asyncio.Lock()
        self._failures = 0
        self._last_failure = 0.0
        self.refused_total = 0

    def valid(self, candidate: str | None) -> bool:
        if candidate is None:
            return False
        return hmac.compare_digest(candidate.encode(errors="replace"), self._token)

    async def refuse(self) -> None:
        """Wait before a refusal is answered. Parallel guesses queue on the lock, so the delay bounds
        the guessing rate whatever the number of connections."""
        async with self._lock:
            now = time.monotonic()
            if now - self._last_failure > FORGET_AFTER:
                self._failures = 0
            self._failures += 1
            self.refused_total += 1
            delay = 0.0 if self._failures == 1 else min(FIRST_DELAY * 2 ** (self._failures - 2), MAX_DELAY)
            await asyncio.sleep(delay)
            self._last_failure = time.monotonic()
