"""GSI-Bench: the full suite (IC, SA, EL, AC and Avg) as a Hugging Face ``evaluate`` metric.

A thin wrapper: scoring is :mod:`gsi_metrics.scoring`; input handling is :mod:`gsi_metrics.evaluate_support`.
"""

from __future__ import annotations

import evaluate

from gsi_metrics import evaluate_support

_DESCRIPTION = """
GSI-Bench scores an image editor on spatially grounded edits ("Move the coffee mug 12 cm to the left",
"Turn the teapot 90 degrees clockwise", "Make the toy car twice as large") against the exact 3D change
of each dataset row, on four axes from 0 to 100: Instruction Compliance (IC: was the asked operation
done, on the right object, in the right direction), Spatial Accuracy (SA: how close the realised 3D
change is to the asked one), Edit Locality (EL: is everything else unchanged) and Appearance
Consistency (AC: does the object keep its colour and texture), with their mean (Avg), a per-operation
breakdown, 95% bootstrap intervals and how many predictions were missing, unreadable or of the wrong
size. Profile "gsi" (default) fixes the reference protocol's known defects; profile "paper" reproduces
its formulas for comparison with the paper's Table 2.
"""

_RETURNS = """
Returns:
    IC, SA, EL, AC, Avg (`float`): the headline numbers, 0-100, over all samples (profile "paper": over the
        samples with a readable prediction, as the reference does).
    IC_ci95, SA_ci95, EL_ci95, AC_ci95 (`list` of two `float`): 95% percentile-bootstrap intervals.
    per_operation (`dict`): for each operation, `n`, the four axes, their intervals and Avg.
    status_counts (`dict`): predictions per status: `ok`, `target_not_found`, the input statuses (`missing`,
        `unreadable`, `unsupported_format`, `invalid_values`, `too_large`, `wrong_size`), and `bad_reference` /
        `scoring_error` (not the model's doing; also listed in `warnings`).
    samples (`list` of `dict`): per sample, `sample_id`, `operation`, `status`, `message` (why a prediction
        was not scored) and the raw IC, SA, EL, AC (0-1).
    warnings (`list` of `str`): samples that failed for reasons that are not the model's.
    num_samples (`int`): predictions scored; num_counted (`int`): those in the headline numbers.
    conditional_on_compliance (`dict`): `n`, EL and AC over the compliant samples only.
    profile (`str`), backend (`str`): what produced the numbers.
"""

_EXAMPLES = """
Examples:
    Run from the repository root after `make demo`, which builds `gsi-bench/syn` (the tests set
    `GSI_SYN_DIR` to a smaller split). An editor that returns its input unchanged complies with nothing:

    >>> import os
    >>> import evaluate
    >>> from datasets import load_dataset
    >>> ds = load_dataset(os.environ.get("GSI_SYN_DIR", "gsi-bench/syn"), "tabletop", split="test")
    >>> bench = evaluate.load("gsi_metrics/gsi_bench")
    >>> unchanged = bench.compute(predictions=[ex["source_image"] for ex in ds], references=ds)
    >>> unchanged["IC"], unchanged["SA"], unchanged["Avg"]
    (0.0, 0.0, 0.0)

    The dataset's own target renders are a perfect editor:

    >>> oracle = bench.compute(predictions=[ex["target_image"] for ex in ds], references=ds)
    >>> sorted(oracle["per_operation"])
    ['camera_relative_move', 'object_rotate', 'object_scale']
    >>> oracle["Avg"] > unchanged["Avg"], oracle["num_samples"] == len(ds)
    (True, True)

    Missing outputs score 0 and are counted; the paper profile skips them, as the reference does:

    >>> missing = bench.compute(predictions=[None] * len(ds), references=ds)
    >>> missing["status_counts"] == {"missing": len(ds)}, missing["IC"]
    (True, 0.0)
    >>> bench.compute(predictions=[None] * len(ds), references=ds, profile="paper")["num_counted"]
    0
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, evaluate_support.ARGS_DESCRIPTION, _RETURNS, _EXAMPLES)
class GSIBench(evaluate_support.GSIMetric):
    """The GSI-Bench suite."""

    AXIS = None
    DESCRIPTION = _DESCRIPTION
    DOCS = _RETURNS + _EXAMPLES
