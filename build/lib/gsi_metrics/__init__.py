"""GSI-Bench metrics (Instruction Compliance, Spatial Accuracy, Edit Locality, Appearance Consistency).

- ``gsi_metrics.predictions``: the input contract of edited images (what a prediction may be, how it is read,
  and the statuses of inputs that cannot be scored);
- ``gsi_metrics.sample``: the exact source side of a dataset row;
- ``gsi_metrics.perception``: what is recovered from the edited image (the weight-free ``classical`` backend);
- ``gsi_metrics.operations``: IC / SA per operation in profiles ``gsi`` and ``paper``;
- ``gsi_metrics.functional``: EL, AC and bootstrap intervals;
- ``gsi_metrics.scoring``: per-sample scoring (never raising for a sample's content) and summaries;
- ``gsi_metrics/gsi_*/``: the Hugging Face ``evaluate`` modules, with their metric cards.

The data contract is ``gsi_datasets.schema``. After ``pip install``, ``evaluate.load("gsi_spatial_accuracy")``
(any module's bare name) works offline from any directory (``gsi_metrics.evaluate_cache``); :func:`load` loads a
module from its installed folder directly.
"""

from __future__ import annotations

from typing import Any

__all__ = ["load"]


def load(name: str, **kwargs: Any) -> Any:
    """``evaluate.load`` of one of GSI-Bench's modules from its installed folder (no Hub, no cache).

    Args:
        name: ``gsi_bench``, ``gsi_instruction_compliance``, ``gsi_spatial_accuracy``, ``gsi_edit_locality`` or
            ``gsi_appearance_consistency``.
        **kwargs: passed to ``evaluate.load``.

    Raises:
        KeyError: an unknown module name (the known ones are listed).
    """
    import evaluate

    from gsi_metrics.evaluate_cache import module_file

    return evaluate.load(str(module_file(name).parent), **kwargs)
