"""OpenAI-compatible image-edit endpoints as editors: ``--editor api:openai`` and ``--editor api:http``.

Both send ``POST {base_url}/images/edits`` (multipart: ``image`` as PNG, ``prompt``, ``model``, ``n=1`` and the
optional ``size``, ``quality``, ``response_format``) and read ``data[0].b64_json`` (or download ``data[0].url``).
``api:openai`` defaults to ``https://api.openai.com/v1`` and ``gpt-image-1`` and needs a key; ``api:http`` is any
server that speaks the same format (a local gateway, vLLM-style servers), with ``base_url`` required and the key
optional. The key is read from the environment variable ``api_key_env`` names (``OPENAI_API_KEY``), never from an
option, so it stays out of manifests and shell history.

What a run against a real service needs, and what this does:

- **Retries with back-off**: 429, 408, 409 and 5xx answers, timeouts, dropped connections and malformed bodies are
  retried up to ``max_retries`` times, waiting ``backoff * 2**attempt`` seconds (with jitter, at most
  ``max_backoff``), or the server's ``Retry-After``. Other 4xx answers (a refused prompt, a bad key) fail at once.
- **A concurrency limit** (``concurrency`` rows in flight; ``gsi-bench generate`` runs them in threads) and a
  **rate limit** (``rate_limit`` requests per second over all threads).
- **An on-disk cache** keyed by model, prompt, the image's SHA-256 and the request parameters: a re-run sends no
  request for an edit it already has.
- **Per-sample errors**: a sample that fails after its retries raises :class:`APIEditError` with what the server
  said; ``generate`` and ``eval`` record it for that sample and go on.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from PIL import Image

from gsi_bench.editors import MODEL_COLUMNS, options_of
from gsi_datasets.images import row_image
from gsi_datasets.integrity import atomic_output

__all__ = ["APIEditError", "APIOptions", "ImageEditAPI", "KINDS"]

#: The ``api:`` kinds and their default base URLs (None: ``base_url`` is required).
KINDS: dict[str, str | None] = {"openai": "https://api.openai.com/v1", "http": None}
#: HTTP statuses worth retrying: rate limits, timeouts, conflicts and server errors.
RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})


class APIEditError(RuntimeError):
    """A sample the endpoint did not edit (after retries, or refused at once): the message says what it answered."""


@dataclass(frozen=True)
class APIOptions:
    """Options of an ``api:`` editor (``--editor-option KEY=VALUE``).

    Attributes:
        base_url: the API root (``.../v1``); ``api:openai`` defaults to OpenAI's.
        model: the model name sent with each request.
        api_key_env: the environment variable holding the key (required for ``api:openai``).
        size: ``size`` of the request (``auto``, ``1024x1024``...); None sends none.
        quality: ``quality`` of the request; None sends none.
        response_format: ``b64_json`` or ``url``; None sends none (``gpt-image-1`` always answers ``b64_json``).
        timeout: seconds to wait for one answer.
        max_retries: retries of one sample after the first attempt.
        backoff: the first retry's wait in seconds (doubled each time, with jitter).
        max_backoff: the longest wait between two attempts.
        concurrency: requests in flight at once.
        rate_limit: requests per second, over all threads (None: unlimited).
        cache_dir: the on-disk cache of answers (default ``$XDG_CACHE_HOME/gsi-bench/api-edits``); ``none`` turns it
            off.
        extra: more form fields of each request.
    """

    base_url: str | None = None
    model: str = "gpt-image-1"
    api_key_env: str = "OPENAI_API_KEY"
    size: str | None = None
    quality: str | None = None
    response_format: str | None = None
    timeout: float = 120.0
    max_retries: int = 5
    backoff: float = 1.0
    max_backoff: float = 60.0
    concurrency: int = 4
    rate_limit: float | None = None
    cache_dir: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


def _default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "gsi-bench" / "api-edits"


class _RateLimiter:
    """At most ``rate`` request starts per second, over all threads."""

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


@dataclass
class ImageEditAPI:
    """The ``api:openai`` / ``api:http`` editor (see the module docstring)."""

    kind: str
    options: APIOptions
    columns = MODEL_COLUMNS

    @classmethod
    def create(cls, kind: str, options: Mapping[str, Any]) -> ImageEditAPI:
        """The editor of ``api:KIND`` with ``options``.

        Raises:
            ValueError: an unknown kind or option, a missing ``base_url`` (``api:http``), or a bad value.
            KeyError: ``api:openai`` without its key in the environment.
        """
        if kind not in KINDS:
            raise ValueError(f"unknown API kind {kind!r}; use api:openai or api:http (any OpenAI-compatible server)")
        parsed = options_of(APIOptions, f"api:{kind}", options)
        base_url = parsed.base_url or KINDS[kind]
        if base_url is None:
            raise ValueError("api:http needs the server: --editor-option base_url=http://HOST:PORT/v1")
        if parsed.concurrency < 1 or parsed.max_retries < 0 or parsed.timeout <= 0:
            raise ValueError("api options: concurrency >= 1, max_retries >= 0 and timeout > 0 are required")
        if kind == "openai" and not os.environ.get(parsed.api_key_env):
            raise KeyError(f"api:openai needs an API key in the environment variable {parsed.api_key_env}")
        return cls(kind, APIOptions(**{**asdict(parsed), "base_url": base_url.rstrip("/")}))

    @property
    def concurrency(self) -> int:
        return self.options.concurrency

    @cached_property
    def _client(self) -> Any:
        import httpx

        return httpx.Client(timeout=self.options.timeout)

    @cached_property
    def _limiter(self) -> _RateLimiter:
        return _RateLimiter(self.options.rate_limit)

    @cached_property
    def cache_dir(self) -> Path | None:
        chosen = self.options.cache_dir
        if chosen is not None and chosen.lower() == "none":
            return None
        return Path(chosen).expanduser() if chosen else _default_cache_dir()

    def __getstate__(self) -> dict[str, Any]:  # evaluation workers get the configuration, not the connections
        return {"kind": self.kind, "options": self.options}

    def _fields(self, prompt: str) -> dict[str, str]:
        options = self.options
        fields = {"model": options.model, "prompt": prompt, "n": "1"}
        for name in ("size", "quality", "response_format"):
            if getattr(options, name) is not None:
                fields[name] = str(getattr(options, name))
        fields.update({str(key): str(value) for key, value in options.extra.items()})
        return fields

    def cache_key(self, image_png: bytes, fields: Mapping[str, str]) -> str:
        """SHA-256 of the model, prompt, image and every other request parameter."""
        content = {"base_url": self.options.base_url, "fields": dict(sorted(fields.items()))}
        content["image_sha256"] = hashlib.sha256(image_png).hexdigest()
        return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()

    def __call__(self, row: Mapping[str, Any]) -> Image.Image:
        """The edited image of ``row``.

        Raises:
            APIEditError: the endpoint refused the sample, or kept failing for ``max_retries`` retries.
        """
        buffer = io.BytesIO()
        row_image(row["source_image"], "source_image").convert("RGB").save(buffer, format="PNG")
        image_png = buffer.getvalue()
        fields = self._fields(str(row["instruction"]))
        cached = self.cache_dir / f"{self.cache_key(image_png, fields)}.png" if self.cache_dir else None
        if cached is not None and cached.is_file():
            return Image.open(io.BytesIO(cached.read_bytes()))
        data = self._request(image_png, fields)
        image = Image.open(io.BytesIO(data))
        image.load()
        if cached is not None:
            with atomic_output(cached) as temporary:
                temporary.write_bytes(data)
        return image

    def _request(self, image_png: bytes, fields: Mapping[str, str]) -> bytes:
        """The answer's image bytes, with retries (module docstring)."""
        import httpx

        options = self.options
        headers = {}
        key = os.environ.get(options.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        url = f"{options.base_url}/images/edits"
        failures = []
        for attempt in range(options.max_retries + 1):
            wait = min(options.max_backoff, options.backoff * 2**attempt) * (0.5 + random.random() / 2)
            self._limiter.wait()
            try:
                response = self._client.post(
                    url, data=dict(fields), files={"image": ("image.png", image_png, "image/png")}, headers=headers
                )
            except httpx.TimeoutException:
                failures.append(f"no answer within {options.timeout:g} s")
            except httpx.TransportError as error:
                failures.append(f"connection failed ({type(error).__name__}: {error})")
            else:
                if response.status_code == 200:
                    try:
                        return self._image_bytes(response)
                    except ValueError as error:
                        failures.append(f"malformed answer: {error}")
                else:
                    message = f"HTTP {response.status_code}: {_error_message(response)}"
                    if response.status_code not in RETRY_STATUSES:
                        raise APIEditError(f"{url} refused the request, {message}")
                    failures.append(message)
                    wait = _retry_after(response, wait, options.max_backoff)
            if attempt < options.max_retries:
                time.sleep(wait)
        attempts = options.max_retries + 1
        raise APIEditError(f"{url} failed {attempts} time(s); last: {failures[-1]} (all: {'; '.join(failures)})")

    def _image_bytes(self, response: Any) -> bytes:
        """The image of a 200 answer (``b64_json``, or ``url`` fetched).

        Raises:
            ValueError: the body is not the expected JSON, or the image does not decode.
        """
        try:
            item = response.json()["data"][0]
        except (ValueError, KeyError, IndexError, TypeError) as error:
            raise ValueError(f"expected JSON with data[0], got {response.text[:80]!r}") from error
        if not isinstance(item, Mapping):
            raise ValueError(f"data[0] is a {type(item).__name__}, not an object")
        if item.get("b64_json"):
            try:
                data = base64.b64decode(item["b64_json"], validate=True)
            except (ValueError, TypeError) as error:
                raise ValueError("b64_json is not base64") from error
        elif item.get("url"):
            data = self._client.get(item["url"]).raise_for_status().content
        else:
            raise ValueError(f"data[0] has neither b64_json nor url (keys {sorted(item)})")
        try:
            Image.open(io.BytesIO(data)).verify()
        except Exception as error:  # noqa: BLE001 (Pillow raises many types for bad data)
            raise ValueError(f"the image does not decode ({type(error).__name__})") from error
        return data

    def describe(self) -> dict[str, Any]:
        options = asdict(self.options)
        return {
            "api": self.kind,
            "endpoint": f"{self.options.base_url}/images/edits",
            "model": self.options.model,
            "request": {k: options[k] for k in ("size", "quality", "response_format", "extra") if options[k]},
            "retries": {k: options[k] for k in ("max_retries", "backoff", "max_backoff", "timeout")},
            "concurrency": self.options.concurrency,
            "rate_limit": self.options.rate_limit,
            "cache_dir": str(self.cache_dir) if self.cache_dir else None,
            "api_key_env": self.options.api_key_env,
        }


def _error_message(response: Any) -> str:
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
