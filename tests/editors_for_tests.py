"""Editors for the ``python:`` editor's tests (``--editor python:tests.editors_for_tests:NAME``)."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps


def mirror(image: Image.Image, instruction: str, delay: float = 0.0) -> Image.Image:
    """The source mirrored left to right, after ``delay`` seconds."""
    time.sleep(delay)
    return ImageOps.mirror(image.convert("RGB"))


def as_tensor(image: Image.Image, instruction: str) -> Any:
    """The source as a diffusers ``output_type="pt"`` batch: ``(1, 3, H, W)`` float in [0, 1], bfloat16."""
    import torch

    array = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1)[None].to(torch.bfloat16)


def picky(image: Image.Image, instruction: str, refuse: str = "", unusable: str = "") -> Any:
    """Raises for an instruction containing ``refuse``, returns no image for one containing ``unusable``."""
    if refuse and refuse in instruction:
        raise RuntimeError(f"refused: {instruction!r}")
    if unusable and unusable in instruction:
        return {"not": "an image"}
    return image


def flaky(image: Image.Image, instruction: str, marks: str) -> Image.Image:
    """Fails the first time it sees an instruction (a mark file per instruction in ``marks``), then works."""
    mark = Path(marks) / hashlib.sha256(instruction.encode()).hexdigest()
    if not mark.exists():
        mark.parent.mkdir(parents=True, exist_ok=True)
        mark.touch()
        raise ConnectionError("transient failure")
    return image
