"""GSI-Bench Spatial Accuracy (SA) as a Hugging Face ``evaluate`` metric.

A thin wrapper: scoring is :mod:`gsi_metrics.scoring`; input handling is :mod:`gsi_metrics.evaluate_support`.
"""

from __future__ import annotations

import evaluate

from gsi_metrics import evaluate_support

_DESCRIPTION = """
Spatial Accuracy (SA), one of GSI-Bench's four axes: how close is the 3D change realised in the edited
image (metres, degrees, scale factor) to the asked one? Continuous per sample in [0, 1]; reported as a
mean percentage, overall and per operation, with 95% bootstrap intervals. In profile "gsi" a perfect
edit scores 100, an unchanged image or an edit in the wrong direction 0; profile "paper" reproduces the
reference formulas, loopholes included. Use `gsi_bench` to get all four axes in one pass.
"""

_RETURNS = """
Returns:
    SA (`float`): 0-100, the mean spatial accuracy.
    SA_ci95 (`list` of two `float`): 95% percentile-bootstrap interval.
    SA_per_operation (`dict`): SA of each operation present.
    SA_per_operation_ci95 (`dict`): their intervals.
    SA_samples (`list` of `dict`): per sample, `sample_id`, `operation`, `status` (`ok`, `target_not_found`,
        or why the prediction could not be scored), `message` and the raw SA (0-1).
"""

_EXAMPLES = """
Examples:
    Run from the repository root after `make demo`, which builds `gsi-bench/syn` (the tests set
    `GSI_SYN_DIR` to a smaller split). An editor that returns its input unchanged scores 0 in profile
    "gsi", but the reference formulas reward it on scale edits (the "scale loophole"):

    >>> import os
    >>> import evaluate
    >>> from datasets import load_dataset
    >>> ds = load_dataset(os.environ.get("GSI_SYN_DIR", "gsi-bench/syn"), "tabletop", split="test")
    >>> sa = evaluate.load("gsi_metrics/gsi_spatial_accuracy")
    >>> unchanged = [ex["source_image"] for ex in ds]
    >>> sa.compute(predictions=unchanged, references=ds)["SA_per_operation"]
    {'camera_relative_move': 0.0, 'object_rotate': 0.0, 'object_scale': 0.0}
    >>> sa.compute(predictions=unchanged, references=ds, profile="paper")["SA_per_operation"]["object_scale"] > 50
    True
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, evaluate_support.ARGS_DESCRIPTION, _RETURNS, _EXAMPLES)
class GSISpatialAccuracy(evaluate_support.GSIMetric):
    """GSI-Bench Spatial Accuracy."""

    AXIS = "SA"
    DESCRIPTION = _DESCRIPTION
    DOCS = _RETURNS + _EXAMPLES
