"""GSI-Bench Edit Locality (EL) as a Hugging Face ``evaluate`` metric.

A thin wrapper: scoring is :mod:`gsi_metrics.scoring`; input handling is :mod:`gsi_metrics.evaluate_support`.
"""

from __future__ import annotations

import evaluate

from gsi_metrics import evaluate_support

_DESCRIPTION = """
Edit Locality (EL), one of GSI-Bench's four axes: is everything outside the edited object left
unchanged? Per sample, the SSIM of the source and the edited image outside the edit region (profile
"gsi": instance masks at full resolution; profile "paper": the reference's 2D boxes), counted only for
samples that complied with the instruction (an unchanged image is perfectly local but did not edit).
Reported as a mean percentage, overall and per operation, with 95% bootstrap intervals, and as the mean
over compliant samples only. Use `gsi_bench` to get all four axes in one pass.
"""

_RETURNS = """
Returns:
    EL (`float`): 0-100, the mean of the per-sample locality times compliance.
    EL_ci95 (`list` of two `float`): 95% percentile-bootstrap interval.
    EL_per_operation (`dict`): EL of each operation present.
    EL_per_operation_ci95 (`dict`): their intervals.
    EL_conditional_on_compliance (`float`): 0-100, mean locality of the compliant samples (NaN if none).
    EL_samples (`list` of `dict`): per sample, `sample_id`, `operation`, `status` (`ok`, `target_not_found`,
        or why the prediction could not be scored), `message` and the raw EL (0-1).
"""

_EXAMPLES = """
Examples:
    Run from the repository root after `make demo`, which builds `gsi-bench/syn` (the tests set
    `GSI_SYN_DIR` to a smaller split). An editor that returns its input unchanged changes nothing
    outside the object, but edits nothing either, so it earns no locality:

    >>> import os
    >>> import evaluate
    >>> from datasets import load_dataset
    >>> ds = load_dataset(os.environ.get("GSI_SYN_DIR", "gsi-bench/syn"), "tabletop", split="test")
    >>> el = evaluate.load("gsi_metrics/gsi_edit_locality")
    >>> el.compute(predictions=[ex["source_image"] for ex in ds], references=ds)["EL"]
    0.0

    The dataset's own target renders are a perfect editor: what they change lies inside the edit region.

    >>> oracle = el.compute(predictions=[ex["target_image"] for ex in ds], references=ds)
    >>> oracle["EL_conditional_on_compliance"] > 90
    True
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, evaluate_support.ARGS_DESCRIPTION, _RETURNS, _EXAMPLES)
class GSIEditLocality(evaluate_support.GSIMetric):
    """GSI-Bench Edit Locality."""

    AXIS = "EL"
    DESCRIPTION = _DESCRIPTION
    DOCS = _RETURNS + _EXAMPLES
