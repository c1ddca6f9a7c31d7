"""Generated rows for the operations' end-to-end tests (each test module asks for its operation's rows)."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image

from gsi_builders.generate import generate_sample


def operation_rows(operation: str, indices: tuple[int, ...], config: str = "tabletop") -> list[dict[str, Any]]:
    """Rows ``indices`` of ``config``'s test split, seed 0, with the operation mix forced to ``operation``."""
    rows = [generate_sample(config, "test", 0, i, operation_mix={operation: 1.0}).row for i in indices]
    assert all(row is not None for row in rows), f"a {operation} row of {config} {indices} was not generated"
    return rows


def png_image(row: dict[str, Any], field: str) -> Image.Image:
    """An image column of a raw generated row, decoded to RGB."""
    return Image.open(io.BytesIO(row[field]["bytes"])).convert("RGB")


def decoded(row: dict[str, Any]) -> dict[str, Any]:
    """``row`` with its source and target images decoded (as ``datasets`` returns them; what contact sheets take)."""
    return {**row, "source_image": png_image(row, "source_image"), "target_image": png_image(row, "target_image")}
