"""GSI-Bench: the ``gsi-bench`` command line (``gsi_bench.cli``), editors (``gsi_bench.editors``), generation and
evaluation runners; the libraries are ``gsi_datasets``, ``gsi_metrics`` and ``gsi_builders`` (the repository's
``builders/`` folder, installed under that name).

``gsi_bench.evaluate_editor(editor, dataset)`` scores any editor in a few lines (imported on first use, so the
command line starts fast).
"""

from typing import Any

__all__ = ["evaluate_editor"]


def __getattr__(name: str) -> Any:
    if name == "evaluate_editor":
        from gsi_bench.evaluation import evaluate_editor

        return evaluate_editor
    raise AttributeError(f"module 'gsi_bench' has no attribute {name!r}")
