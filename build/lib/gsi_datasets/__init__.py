"""GSI-Bench datasets: the data schema, geometry helpers, builder classes and contact sheets.

Load a built dataset folder (or its Hub copy) with ``datasets.load_dataset(path, "tabletop")``; generate
one from Python with :class:`GSISyn`.
"""

from gsi_datasets.builder import GSISyn, GSISynConfig
from gsi_datasets.schema import FEATURES, OPERATION_SHORT_IDS, OPERATIONS, SPLITS, SUBSET_OPERATIONS

__all__ = ["FEATURES", "GSISyn", "GSISynConfig", "OPERATIONS", "OPERATION_SHORT_IDS", "SPLITS", "SUBSET_OPERATIONS"]
