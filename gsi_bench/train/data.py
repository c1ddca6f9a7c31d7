"""The training side of GSI-Syn: (source image, instruction, target image) triples from any mix of configs.

Every family shares it. Images are resized to the training resolution (sides multiples of 16, aspect kept) and
scaled to [-1, 1]; the caption is the row's instruction. The only augmentation is photometric (``augment``): one
brightness, contrast and saturation change applied to the source and the target alike, so the edit, its 3D label
and the instruction stay true. Flips and crops are not offered: a flip turns "left" into "right", a crop moves the
principal point, and the rows' labels would no longer describe the pictures.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image

__all__ = ["TRIPLE_COLUMNS", "EditTriples", "TrainingDataError", "load_triples", "training_size"]

#: The columns training reads (the rest of a row is not loaded).
TRIPLE_COLUMNS = ("sample_id", "operation", "instruction", "source_image", "target_image")
#: Side lengths are multiples of this (the latent patch of current editors).
SIZE_MULTIPLE = 16
#: The photometric augmentation's spread: each factor is drawn in [1 - x, 1 + x].
JITTER = 0.15
#: Luminance weights (ITU-R 601, as PIL's grayscale conversion).
LUMINANCE = (0.299, 0.587, 0.114)


class TrainingDataError(ValueError):
    """The training data cannot be used: the message says why and what to do."""


def training_size(size: tuple[int, int], resolution: int) -> tuple[int, int]:
    """``size`` (width, height) scaled so that its longer side is ``resolution``, sides rounded to multiples of
    :data:`SIZE_MULTIPLE`."""
    scale = resolution / max(size)
    return tuple(max(SIZE_MULTIPLE, round(side * scale / SIZE_MULTIPLE) * SIZE_MULTIPLE) for side in size)


def load_triples(
    data: Any, configs: Sequence[str], split: str, operations: Sequence[str] | None = None, limit: int | None = None
) -> Any:
    """The rows of ``configs`` (their ``split``) with a target image, as one ``datasets.Dataset`` of
    :data:`TRIPLE_COLUMNS`; only ``operations`` when given; the first ``limit`` rows of the mix when given.

    Raises:
        TrainingDataError: a config without target images (GSI-Real's rows have none), or nothing left to train on.
    """
    from datasets import concatenate_datasets

    from gsi_bench.evaluation import load_eval_dataset
    from gsi_datasets.schema import OPERATIONS

    parts = []
    for config in configs:
        rows = load_eval_dataset(data, config, split)
        missing = [column for column in TRIPLE_COLUMNS if column not in rows.column_names]
        if missing:
            raise TrainingDataError(f"{config}/{split} lacks the columns {missing}; train on a GSI-Syn config")
        rows = rows.select_columns(list(TRIPLE_COLUMNS))
        if operations:
            wanted = {OPERATIONS.index(name) for name in operations}
            rows = rows.filter(wanted.__contains__, input_columns="operation")
        without_target = sum(image is None for image in rows.select_columns(["target_image"])["target_image"])
        if without_target:
            raise TrainingDataError(
                f"{config}/{split}: {without_target} of {len(rows)} rows have no target image (GSI-Real's rows are "
                "scored, not trained on); train on GSI-Syn configs (tabletop, room)"
            )
        parts.append(rows)
    mix = concatenate_datasets(parts) if len(parts) > 1 else parts[0]
    if limit is not None:
        mix = mix.select(range(min(limit, len(mix))))
    if len(mix) == 0:
        raise TrainingDataError(f"no training rows in {list(configs)}/{split} (operations {operations or 'all'})")
    return mix


def _to_tensor(image: Image.Image) -> Any:
    import numpy as np
    import torch

    array = np.asarray(image, dtype=np.float32) / 127.5 - 1.0
    return torch.from_numpy(array.transpose(2, 0, 1).copy())


def _luminance(image: Any) -> Any:
    return sum(weight * channel for weight, channel in zip(LUMINANCE, image, strict=True))


def _jitter(image: Any, brightness: float, contrast: float, saturation: float, middle: float) -> Any:
    """Brightness, contrast about ``middle`` and saturation of an image in [-1, 1], pixel by pixel."""
    image = (image + 1.0) * brightness - 1.0
    image = (image - middle) * contrast + middle
    grey = _luminance(image)
    return (grey + (image - grey) * saturation).clamp(-1.0, 1.0)


@dataclass
class EditTriples:
    """A map-style dataset of triples for a ``torch`` ``DataLoader``.

    Attributes:
        rows: a ``datasets.Dataset`` of :data:`TRIPLE_COLUMNS` (:func:`load_triples`).
        resolution: the longer side of the training images.
        augment: the shared photometric jitter (:data:`JITTER`): one brightness, contrast (about the source's mean
            luminance) and saturation change, the same pixel-wise map for source and target.
        seed: with ``epoch`` and the row's index, seeds the row's jitter (the same draws after a resume).
        epoch: set by the training loop at the start of each epoch.
    """

    rows: Any
    resolution: int = 512
    augment: bool = False
    seed: int = 0
    epoch: int = 0

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict[str, Any]:
        row = self.rows[index]
        source = row["source_image"].convert("RGB")
        target = row["target_image"].convert("RGB")
        size = training_size(source.size, self.resolution)
        source = source.resize(size, Image.Resampling.BICUBIC)
        target = target.resize(size, Image.Resampling.BICUBIC)
        source, target = _to_tensor(source), _to_tensor(target)
        if self.augment:
            draws = random.Random(hash((self.seed, self.epoch, index)))
            factors = [draws.uniform(1.0 - JITTER, 1.0 + JITTER) for _ in range(3)]
            middle = float(_luminance(source).mean())  # the source's, for both: one pixel-wise map
            source, target = (_jitter(image, *factors, middle) for image in (source, target))
        return {
            "source": source,
            "target": target,
            "instruction": row["instruction"],
            "sample_id": row["sample_id"],
        }
