"""The metric fidelity suite (``gsi-bench validate``): counterfactual edited images with exact 3D truth, rendered
from GSI-Syn's stored scenes, scored in every profile and compared with the truth.

- :mod:`gsi_bench.fidelity.counterfactuals`: the cases and their truth;
- :mod:`gsi_bench.fidelity.suite`: perceive and score them (:func:`run_validation`);
- :mod:`gsi_bench.fidelity.report`: aggregate, check the targets, write Markdown / JSON / plots and the history.
"""

from gsi_bench.fidelity.counterfactuals import Counterfactual, Truth, make_counterfactuals
from gsi_bench.fidelity.suite import run_validation, validate_row

__all__ = ["Counterfactual", "Truth", "make_counterfactuals", "run_validation", "validate_row"]
