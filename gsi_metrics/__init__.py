"""GSI-Bench metrics (Instruction Compliance, Spatial Accuracy, Edit Locality, Appearance Consistency).

Not implemented yet: scoring arrives with the "Scoring v1" issue. The data contract it will read is
``gsi_datasets.schema``.
"""

__all__: list[str] = []
