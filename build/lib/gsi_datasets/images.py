"""Decoding the image fields of a row, whether ``datasets`` decoded them (PIL images) or not (raw rows from
the generator, or ``Image(decode=False)`` columns: ``{"bytes": ..., "path": ...}``)."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from PIL import Image


def row_image(value: Any, field: str = "image") -> Image.Image:
    """The PIL image of one image field of a row.

    Raises:
        ValueError: when ``value`` is neither a PIL image nor a ``{"bytes"/"path"}`` mapping.
    """
    if isinstance(value, Image.Image):
        return value
    if isinstance(value, Mapping):
        if value.get("bytes") is not None:
            return Image.open(io.BytesIO(value["bytes"]))
        if value.get("path"):
            return Image.open(value["path"])
    raise ValueError(f"row field {field!r} is not an image (got {type(value).__name__})")
