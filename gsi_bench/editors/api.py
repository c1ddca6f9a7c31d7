"""OpenAI-compatible image-edit endpoints as editors: ``--editor api:openai`` and ``--editor api:http``.

Both send ``POST {base_url}/images/edits`` (multipart: ``image`` as PNG, ``prompt``, ``model``, ``n=1`` and the
optional ``size``, ``quality``, ``response_format``) and read ``data[0].b64_json`` (or download ``data[0].url``).
``api:openai`` defaults to ``https://api.openai.com/v1`` and ``gpt-image-1`` and needs a key; ``api:http`` is any
server that speaks the same format (a local gateway, vLLM-style servers), with ``base_url`` required and the key
optional. The key is read from the environment variable ``api_key_env`` names (``OPENAI_API_KEY``), never from an
option, so it stays out of manifests and shell history.

What a run against a real service needs, and what this does (:mod:`gsi_metrics.remote`):

- **Retries with back-off**: 429, 408, 409 and 5xx answers, timeouts, dropped connections and malformed bodies are
  retried up to ``max_retries`` times, waiting ``backoff * 2**attempt`` seconds (with jitter, at most
  ``max_backoff``), or the server's ``Retry-After``. Other 4xx answers (a refused prompt, a bad key) fail at once.
- **A concurrency limit** (``concurrency`` rows in flight; ``gsi-bench generate`` runs them in threads) and a
  **rate limit** (``rate_limit`` requests per second over all threads).
- **An on-disk cache** keyed by model, prompt, the image's SHA-256 and the request parameters: a re-run sends no
  request for an edit it already has.
- **Per-sample errors**: a sample that fails after its retries raises :class:`~gsi_metrics.remote.RemoteError` with
  what the server said; ``generate`` and ``eval`` record it for that sample and go on.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any

from PIL import Image

from gsi_bench.editors import MODEL_COLUMNS
from gsi_datasets.images import row_image
from gsi_datasets.registry import options_of
from gsi_metrics.remote import AnswerCache, RateLimiter, RemoteError, ServiceOptions, bearer_headers, post_with_retries

__all__ = ["APIEditError", "APIOptions", "ImageEditAPI", "KINDS"]

#: The ``api:`` kinds and their default base URLs (None: ``base_url`` is required).
KINDS: dict[str, str | None] = {"openai": "https://api.openai.com/v1", "http": None}
#: A sample the endpoint did not edit: the message says what it answered.
APIEditError = RemoteError


@dataclass(frozen=True)
class APIOptions(ServiceOptions):
    """Options of an ``api:`` editor (``--editor-option KEY=VALUE``): those of
    :class:`~gsi_metrics.remote.ServiceOptions` (key variable, timeout, retries, rate limit, cache), and

    Attributes:
        base_url: the API root (``.../v1``); ``api:openai`` defaults to OpenAI's.
        model: the model name sent with each request.
        size: ``size`` of the request (``auto``, ``1024x1024``...); None sends none.
        quality: ``quality`` of the request; None sends none.
        response_format: ``b64_json`` or ``url``; None sends none (``gpt-image-1`` always answers ``b64_json``).
        concurrency: requests in flight at once.
        extra: more form fields of each request.
    """

    base_url: str | None = None
    model: str = "gpt-image-1"
    size: str | None = None
    quality: str | None = None
    response_format: str | None = None
    concurrency: int = 4
    extra: Mapping[str, Any] = field(default_factory=dict)


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
        parsed = options_of(APIOptions, f"editor 'api:{kind}'", options)
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
    def _limiter(self) -> RateLimiter:
        return RateLimiter(self.options.rate_limit)

    @cached_property
    def cache(self) -> AnswerCache:
        return AnswerCache.from_option(self.options.cache_dir, "api-edits", ".png")

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

    def __call__(self, row: Mapping[str, Any]) -> Image.Image:
        """The edited image of ``row``.

        Raises:
            RemoteError: the endpoint refused the sample, or kept failing for ``max_retries`` retries.
        """
        buffer = io.BytesIO()
        row_image(row["source_image"], "source_image").convert("RGB").save(buffer, format="PNG")
        image_png = buffer.getvalue()
        fields = self._fields(str(row["instruction"]))
        key = AnswerCache.key(
            {"base_url": self.options.base_url, "fields": fields, "image_sha256": hashlib.sha256(image_png).hexdigest()}
        )
        data = self.cache.get(key)
        if data is None:
            options = self.options
            data = post_with_retries(
                self._client, f"{options.base_url}/images/edits", self._image_bytes, options.retries, self._limiter,
                data=fields, files={"image": ("image.png", image_png, "image/png")},
                headers=bearer_headers(options.api_key_env),
            )  # fmt: skip
            self.cache.put(key, data)
        image = Image.open(io.BytesIO(data))
        image.load()
        return image

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
            "cache_dir": str(self.cache.folder) if self.cache.folder else None,
            "api_key_env": self.options.api_key_env,
        }
