"""GSI-Bench Instruction Compliance (IC) as a Hugging Face ``evaluate`` metric.

A thin wrapper: scoring is :mod:`gsi_metrics.scoring`; input handling is :mod:`gsi_metrics.evaluate_support`.
"""

from __future__ import annotations

import evaluate

from gsi_metrics import evaluate_support

_DESCRIPTION = """
Instruction Compliance (IC), one of GSI-Bench's four axes: did the edited image perform the requested
spatial operation on the right object, as the right kind of change, in the right direction? Binary per
sample (0 or 1); reported as a percentage of samples, overall and per operation, with 95% bootstrap
intervals. Missing or unreadable predictions score 0 (profile "gsi") or are skipped (profile "paper", as
the reference does). Use `gsi_bench` to get all four axes in one pass.
"""

_RETURNS = """
Returns:
    IC (`float`): 0-100, the percentage of compliant samples.
    IC_ci95 (`list` of two `float`): 95% percentile-bootstrap interval.
    IC_per_operation (`dict`): IC of each operation present.
    IC_per_operation_ci95 (`dict`): their intervals.
    IC_samples (`list` of `dict`): per sample, `sample_id`, `operation`, `status` (`ok`, `target_not_found`,
        or why the prediction could not be scored), `message` and the raw IC (0-1).
"""

_EXAMPLES = """
Examples:
    Run from the repository root after `make demo`, which builds `gsi-bench/syn` (the tests set
    `GSI_SYN_DIR` to a smaller split). An editor that returns its input unchanged complies with nothing:

    >>> import os
    >>> import evaluate
    >>> from datasets import load_dataset
    >>> ds = load_dataset(os.environ.get("GSI_SYN_DIR", "gsi-bench/syn"), "tabletop", split="test")
    >>> ic = evaluate.load("gsi_metrics/gsi_instruction_compliance")
    >>> unchanged = ic.compute(predictions=[ex["source_image"] for ex in ds], references=ds)
    >>> unchanged["IC"], unchanged["IC_per_operation"]
    (0.0, {'camera_relative_move': 0.0, 'object_rotate': 0.0, 'object_scale': 0.0})

    The dataset's own target renders are a perfect editor:

    >>> oracle = ic.compute(predictions=[ex["target_image"] for ex in ds], references=ds)
    >>> oracle["IC"] > unchanged["IC"]
    True
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, evaluate_support.ARGS_DESCRIPTION, _RETURNS, _EXAMPLES)
class GSIInstructionCompliance(evaluate_support.GSIMetric):
    """GSI-Bench Instruction Compliance."""

    AXIS = "IC"
    DESCRIPTION = _DESCRIPTION
    DOCS = _RETURNS + _EXAMPLES
