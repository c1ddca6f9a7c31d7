"""Requests to remote model services (image-edit APIs, judges): retries with back-off, a rate limit, and an
on-disk cache of answers.

- **Retries**: 429, 408, 409 and 5xx answers, timeouts, dropped connections and malformed bodies are retried up to
  ``max_retries`` times, waiting ``backoff * 2**attempt`` seconds (with jitter, at most ``max_backoff``) or the
  server's ``Retry-After``. Other 4xx answers (a refused request, a bad key) fail at once.
- **Rate limit**: at most ``rate`` request starts per second, over all threads.
- **Cache**: answers stored under a SHA-256 of everything that determines them, so a re-run asks nothing twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

__all__ = [
    "AnswerCache",
    "RateLimiter",
    "RemoteError",
    "Retries",
    "ServiceOptions",
    "bearer_headers",
    "post_with_retries",
]

#: HTTP statuses worth retrying: rate limits, timeouts, conflicts and server errors.
RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
T = TypeVar("T")


class RemoteError(RuntimeError):
    """A request the service did not answer usefully (after retries, or refused at once); the message says what it
    answered."""


@dataclass(frozen=True)
class Retries:
    """How long to keep trying: ``max_retries`` after the first attempt, each answer within ``timeout`` seconds."""

    max_retries: int = 5
    backoff: float = 1.0
    max_backoff: float = 60.0
    timeout: float = 120.0


@dataclass(frozen=True)
class ServiceOptions:
    """The options every remote service takes (an editor's or a judge's options add their own).

    Attributes:
        api_key_env: the environment variable holding the key (unset: no key is sent).
        timeout: seconds to wait for one answer.
        max_retries: retries of one request after the first attempt.
        backoff: the first retry's wait in seconds (doubled each time, with jitter).
        max_backoff: the longest wait between two attempts.
        rate_limit: requests per second, over all threads (None: unlimited).
        cache_dir: the on-disk cache of answers (default ``$XDG_CACHE_HOME/gsi-bench/<kind>``); ``none`` turns it off.
    """

    api_key_env: str = "OPENAI_API_KEY"
    timeout: float = 120.0
    max_retries: int = 5
    backoff: float = 1.0
    max_backoff: float = 60.0
    rate_limit: float | None = None
    cache_dir: str | None = None

    @property
    def retries(self) -> Retries:
        return Retries(self.max_retries, self.backoff, self.max_backoff, self.timeout)


class RateLimiter:
    """At most ``rate`` request starts per second, over all threads (None: unlimited)."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self.lock = threading.Lock()
        self.next_start = 0.0

    def wait(self) -> None:
        if not self.interval:
            return
        with self.lock:
            now = time.monotonic()
            start = max(now, self.next_start)
            self.next_start = start + self.interval
        time.sleep(max(0.0, start - now))


def post_with_retries(
    client: Any,
    url: str,
    read: Callable[[Any], T],
    retries: Retries,
    limiter: RateLimiter | None = None,
    **request: Any,
) -> T:
    """``read(response)`` of the first useful answer to ``client.post(url, **request)`` (an ``httpx.Client``).

    ``read`` raises ValueError for a malformed 200 answer, which is retried like a server error.

    Raises:
        RemoteError: a refusal (a 4xx other than those retried), or no useful answer after the retries.
    """
    import httpx

    failures = []
    for attempt in range(retries.max_retries + 1):
        wait = min(retries.max_backoff, retries.backoff * 2**attempt) * (0.5 + random.random() / 2)
        if limiter is not None:
            limiter.wait()
        try:
            response = client.post(url, timeout=retries.timeout, **request)
        except httpx.TimeoutException:
            failures.append(f"no answer within {retries.timeout:g} s")
        except httpx.TransportError as error:
            failures.append(f"connection failed ({type(error).__name__}: {error})")
        else:
            if response.status_code == 200:
                try:
                    return read(response)
                except ValueError as error:
                    failures.append(f"malformed answer: {error}")
            else:
                message = f"HTTP {response.status_code}: {error_message(response)}"
                if response.status_code not in RETRY_STATUSES:
                    raise RemoteError(f"{url} refused the request, {message}")
                failures.append(message)
                wait = _retry_after(response, wait, retries.max_backoff)
        if attempt < retries.max_retries:
            time.sleep(wait)
    attempts = retries.max_retries + 1
    raise RemoteError(f"{url} failed {attempts} time(s); last: {failures[-1]} (all: {'; '.join(failures)})")


def bearer_headers(api_key_env: str) -> dict[str, str]:
    """``Authorization: Bearer <key>`` from the environment variable ``api_key_env`` (nothing when it is unset)."""
    key = os.environ.get(api_key_env)
    return {"Authorization": f"Bearer {key}"} if key else {}


def error_message(response: Any) -> str:
    """The server's error message (OpenAI's ``{"error": {"message"}}``), else the start of the body."""
    try:
        error = response.json().get("error")
        if isinstance(error, Mapping) and error.get("message"):
            return str(error["message"])
    except (ValueError, AttributeError):
        pass
    return response.text[:200] or response.reason_phrase


def _retry_after(response: Any, wait: float, longest: float) -> float:
    """The server's ``Retry-After`` in seconds when it sends one, else ``wait``."""
    try:
        return min(longest, max(0.0, float(response.headers["Retry-After"])))
    except (KeyError, ValueError):
        return wait


def default_cache_dir(kind: str) -> Path:
    """``$XDG_CACHE_HOME/gsi-bench/<kind>`` (``~/.cache`` without it)."""
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "gsi-bench" / kind


@dataclass(frozen=True)
class AnswerCache:
    """Answers on disk, one file per key (``folder`` None: no cache)."""

    folder: Path | None
    suffix: str

    @classmethod
    def from_option(cls, option: str | None, kind: str, suffix: str) -> AnswerCache:
        """``option`` a folder, None for :func:`default_cache_dir`, or ``none`` for no cache."""
        if option is not None and option.lower() == "none":
            return cls(None, suffix)
        return cls(Path(option).expanduser() if option else default_cache_dir(kind), suffix)

    @staticmethod
    def key(content: Mapping[str, Any]) -> str:
        """SHA-256 of ``content`` as canonical JSON."""
        return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()

    def get(self, key: str) -> bytes | None:
        if self.folder is None:
            return None
        path = self.folder / f"{key}{self.suffix}"
        return path.read_bytes() if path.is_file() else None

    def put(self, key: str, data: bytes) -> None:
        if self.folder is None:
            return
        from gsi_datasets.integrity import atomic_output

        with atomic_output(self.folder / f"{key}{self.suffix}") as temporary:
            temporary.write_bytes(data)
