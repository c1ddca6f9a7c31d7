"""The reference implementation's folder layout (SPEC 7): export a GSI-Syn split so its evaluation scripts read it.

One flat folder per dataset key (``mesatask`` for tabletop rows, ``robothor`` for room rows; the row's
``reference_format.dataset``), holding for each row (``img_id`` = the row's ``sample_id``, ``qid`` = 0):

- ``<img_id>.png``: the source image;
- ``<img_id>_edit_<qid>.json``: the edit (``prompt``, ``target``, ``original_bbox_3d``, ``new_bbox_3d``,
  ``camera_intrinsics``, ``rotation_matrix``, ``new_rotation_matrix``; boxes ``[x, y, z, w, h, l, yaw]`` in the
  reference's convention, see :func:`gsi_datasets.geometry.reference_box`);
- ``<img_id>_gtedit_<qid>.png``: the rendered target view (the reference scores camera view changes against it).

A model's outputs go to ``eval/<model>/generated_images_<dataset>/<img_id>_edit_<qid>.png``, which the ``folder:``
editor reads back (:func:`gsi_bench.editors.folder_editor`). :func:`read_layout` reads such a folder (exported here,
or the reference's own data).
"""

from __future__ import annotations

import io
import json
import os
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from gsi_bench.editors import REFERENCE_QID, reference_name

#: The keys of the reference's edit JSON, all taken from a row's ``reference_format``.
EDIT_KEYS = (
    "prompt",
    "target",
    "original_bbox_3d",
    "new_bbox_3d",
    "camera_intrinsics",
    "rotation_matrix",
    "new_rotation_matrix",
)


def _png(value: Any) -> bytes:
    """A ``datasets`` Image value (a PIL image, or ``{"bytes", "path"}``) as PNG bytes."""
    if isinstance(value, Mapping):
        if value.get("bytes"):
            image = Image.open(io.BytesIO(value["bytes"]))
        else:
            image = Image.open(value["path"])
    else:
        image = value
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def export_reference_layout(rows: Iterable[Mapping[str, Any]], out: str | os.PathLike) -> dict[str, int]:
    """Writes ``rows`` into ``out/<dataset>/`` in the reference's layout (module docstring); returns the number of
    edits written per dataset key.

    Raises:
        ValueError: a row without a ``reference_format`` dataset key (not a GSI-Syn row).
    """
    counts: Counter[str] = Counter()
    for row in rows:
        reference = row.get("reference_format") or {}
        dataset = reference.get("dataset")
        if not dataset:
            raise ValueError(f"row {row.get('sample_id')} has no reference_format.dataset; is it a GSI-Syn row?")
        folder = Path(out) / dataset
        folder.mkdir(parents=True, exist_ok=True)
        stem = str(row["sample_id"])
        (folder / f"{stem}.png").write_bytes(_png(row["source_image"]))
        (folder / f"{reference_name(row)}.json").write_text(json.dumps({key: reference[key] for key in EDIT_KEYS}))
        (folder / f"{stem}_gtedit_{REFERENCE_QID}.png").write_bytes(_png(row["target_image"]))
        counts[dataset] += 1
    return dict(counts)


@dataclass(frozen=True)
class ReferenceEdit:
    """One edit of a folder in the reference's layout: ids, the edit JSON and the files beside it."""

    img_id: str
    qid: str
    edit: dict[str, Any]
    source_image: Path
    target_view: Path | None


def read_layout(folder: str | os.PathLike) -> list[ReferenceEdit]:
    """Every edit of a folder in the reference's layout (exported here, or the reference's own data), sorted by
    name: its ``<img_id>_edit_<qid>.json``, the source image ``<img_id>.png|jpg|jpeg`` and, if present, the target
    view ``<img_id>_gtedit_<qid>.png|jpg``.

    Raises:
        FileNotFoundError: ``folder`` is not a directory, or an edit has no source image.
        ValueError: an edit JSON that is not an object with every key of :data:`EDIT_KEYS`.
    """
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a folder in the reference's layout")
    edits = []
    for path in sorted(root.glob("*_edit_*.json")):
        img_id, _, qid = path.stem.rpartition("_edit_")
        edit = json.loads(path.read_text())
        missing = [key for key in EDIT_KEYS if key not in edit] if isinstance(edit, dict) else list(EDIT_KEYS)
        if missing:
            raise ValueError(f"{path} is not a reference edit: it has no {', '.join(missing)}")
        sources = [root / f"{img_id}{suffix}" for suffix in (".png", ".jpg", ".jpeg")]
        source = next((candidate for candidate in sources if candidate.exists()), None)
        if source is None:
            raise FileNotFoundError(f"{path}: no source image {img_id}.png (or .jpg) beside it")
        views = [root / f"{img_id}_gtedit_{qid}{suffix}" for suffix in (".png", ".jpg")]
        edits.append(ReferenceEdit(img_id, qid, edit, source, next((v for v in views if v.exists()), None)))
    return edits
