"""GSI-Bench metrics (Instruction Compliance, Spatial Accuracy, Edit Locality, Appearance Consistency).

- ``gsi_metrics.predictions``: the input contract of edited images (what a prediction may be, how it is read,
  and the statuses of inputs that cannot be scored);
- ``gsi_metrics.sample``: the exact source side of a dataset row;
- ``gsi_metrics.perception``: what is recovered from the edited image (the weight-free ``classical`` backend);
- ``gsi_metrics.operations``: IC / SA per operation in profiles ``gsi`` and ``paper``;
- ``gsi_metrics.functional``: EL, AC and bootstrap intervals;
- ``gsi_metrics.scoring``: per-sample scoring (never raising for a sample's content) and summaries;
- ``gsi_metrics/gsi_*/``: the Hugging Face ``evaluate`` modules, with their metric cards.

The data contract is ``gsi_datasets.schema``.
"""

__all__: list[str] = []
