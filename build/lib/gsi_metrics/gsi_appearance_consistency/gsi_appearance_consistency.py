"""GSI-Bench Appearance Consistency (AC) as a Hugging Face ``evaluate`` metric.

A thin wrapper: scoring is :mod:`gsi_metrics.scoring`; input handling is :mod:`gsi_metrics.evaluate_support`.
"""

from __future__ import annotations

import evaluate

from gsi_metrics import evaluate_support

_DESCRIPTION = """
Appearance Consistency (AC), one of GSI-Bench's four axes: does the edited object keep its identity,
colour and texture? Per sample, a weight-free comparison of the object's colour (Lab) and texture
(gradient) distributions before and after the edit (the paper's multimodal judge is not available
offline), 0 when the object is not found, counted only for samples that complied with the instruction.
Reported as a mean percentage, overall and per operation, with 95% bootstrap intervals, and as the mean
over compliant samples only. Use `gsi_bench` to get all four axes in one pass.
"""

_RETURNS = """
Returns:
    AC (`float`): 0-100, the mean of the per-sample appearance consistency times compliance.
    AC_ci95 (`list` of two `float`): 95% percentile-bootstrap interval.
    AC_per_operation (`dict`): AC of each operation present.
    AC_per_operation_ci95 (`dict`): their intervals.
    AC_conditional_on_compliance (`float`): 0-100, mean consistency of the compliant samples (NaN if none).
    AC_samples (`list` of `dict`): per sample, `sample_id`, `operation`, `status` (`ok`, `target_not_found`,
        or why the prediction could not be scored), `message` and the raw AC (0-1).
"""

_EXAMPLES = """
Examples:
    Run from the repository root after `make demo`, which builds `gsi-bench/syn` (the tests set
    `GSI_SYN_DIR` to a smaller split). The dataset's own target renders are a perfect editor: the
    object keeps its appearance.

    >>> import os
    >>> import evaluate
    >>> from datasets import load_dataset
    >>> ds = load_dataset(os.environ.get("GSI_SYN_DIR", "gsi-bench/syn"), "tabletop", split="test")
    >>> ac = evaluate.load("gsi_metrics/gsi_appearance_consistency")
    >>> oracle = ac.compute(predictions=[ex["target_image"] for ex in ds], references=ds)
    >>> oracle["AC_conditional_on_compliance"] > 80
    True

    A missing output keeps nothing:

    >>> ac.compute(predictions=[None] * len(ds), references=ds)["AC"]
    0.0
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, evaluate_support.ARGS_DESCRIPTION, _RETURNS, _EXAMPLES)
class GSIAppearanceConsistency(evaluate_support.GSIMetric):
    """GSI-Bench Appearance Consistency."""

    AXIS = "AC"
    DESCRIPTION = _DESCRIPTION
    DOCS = _RETURNS + _EXAMPLES
