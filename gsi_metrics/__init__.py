"""GSI-Bench metrics (Instruction Compliance, Spatial Accuracy, Edit Locality, Appearance Consistency).

In progress ("Scoring v1"): the source-side decoding (``gsi_metrics.sample``), the perception interface
and a prototype weight-free backend (``gsi_metrics.perception``), and weight-free functional measures
(``gsi_metrics.functional``). The per-operation scorers, both profiles and the ``evaluate`` modules are
not written yet. The data contract is ``gsi_datasets.schema``.
"""

__all__: list[str] = []
