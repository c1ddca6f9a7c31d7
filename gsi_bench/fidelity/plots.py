"""PNG plots of a fidelity report (matplotlib, headless)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gsi_bench.fidelity.counterfactuals import FAMILIES
from gsi_bench.fidelity.report import recovery_errors
from gsi_datasets.operations import short_id
from gsi_metrics.operations import PROFILES


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_plots(report: Mapping[str, Any], cases: Sequence[Mapping[str, Any]], folder: Path) -> None:
    """``sa_vs_true_error.png``, ``recovery_errors.png`` and ``compliance_by_case.png``."""
    plt = _pyplot()
    operations = list(report["recovery"])
    colours = dict(zip(FAMILIES, plt.get_cmap("tab20").colors, strict=False))  # 20 >= len(FAMILIES)
    jitter = np.random.default_rng(0)

    figure, axes = plt.subplots(len(PROFILES), len(operations), figsize=(4 * len(operations), 3.6 * len(PROFILES)),
                                squeeze=False)  # fmt: skip
    for row, profile in enumerate(PROFILES):
        for column, operation in enumerate(operations):
            axis = axes[row][column]
            for family in FAMILIES:
                chosen = [c for c in cases if c["operation"] == operation and c["family"] == family]
                if chosen:
                    x = np.array([c["true_relative_error"] for c in chosen]) + jitter.normal(0, 0.015, len(chosen))
                    y = [c["scores"][profile]["SA"] for c in chosen]
                    axis.scatter(x, y, s=10, alpha=0.6, color=colours[family], label=family)
            rho = report["profiles"][profile]["spearman_sa"][operation]["spatial_cases"]
            axis.set_title(f"{profile}: {short_id(operation)}, Spearman {rho:.3f}")
            axis.set_xlabel("true relative error")
            axis.set_ylabel("SA")
            axis.set_ylim(-0.05, 1.05)
    axes[0][-1].legend(fontsize=7, loc="upper right")
    figure.tight_layout()
    figure.savefig(folder / "sa_vs_true_error.png", dpi=110)
    plt.close(figure)

    keys = [
        ("translation_cm", "translation error (cm)"),
        ("rotation_deg", "rotation error (deg)"),
        ("scale_pct", "scale error (%)"),
        ("camera_translation_cm", "camera translation error (cm; no zoom, shift)"),
    ]
    figure, axes = plt.subplots(1, len(keys), figsize=(4.2 * len(keys), 3.4))
    for axis, (key, label) in zip(axes, keys, strict=True):
        for operation in operations:
            chosen = [c for c in cases if c["operation"] == operation]
            values = np.sort([v for v in recovery_errors(chosen, key) if v is not None])
            if len(values):
                axis.plot(values, np.arange(1, len(values) + 1) / len(values), label=short_id(operation))
        if not key.startswith("camera"):  # camera errors stay below a centimetre: a linear axis reads better
            axis.set_xscale("symlog", linthresh=1.0)
        axis.set_xlabel(label)
        axis.set_ylabel("fraction of cases")
        axis.grid(alpha=0.3)
    axes[0].legend()
    figure.tight_layout()
    figure.savefig(folder / "recovery_errors.png", dpi=110)
    plt.close(figure)

    names = list(report["profiles"]["gsi"]["per_case"])
    figure, axis = plt.subplots(figsize=(max(8, 0.45 * len(names)), 4))
    positions = np.arange(len(names))
    for offset, profile in zip((-0.2, 0.2), PROFILES, strict=True):
        rates = [report["profiles"][profile]["per_case"][n]["IC"] for n in names]
        axis.bar(positions + offset, rates, width=0.4, label=f"{profile} IC rate")
    truth = [report["profiles"]["gsi"]["per_case"][n]["should_comply"] for n in names]
    axis.scatter(positions, [1.0 if t else 0.0 for t in truth], marker="_", s=200, color="black", label="should comply")
    axis.set_xticks(positions, names, rotation=70, ha="right", fontsize=7)
    axis.set_ylabel("fraction complying")
    axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(folder / "compliance_by_case.png", dpi=110)
    plt.close(figure)
