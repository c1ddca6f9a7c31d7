"""Robustness of the default scoring to generator-like nuisances: the oracle's images after JPEG
compression, a Gaussian blur and a down/up resize should stay compliant.

Usage: python benchmarks/oracle_robustness.py --data gsi-bench/syn [--limit 60]
Prints IC / SA (profile gsi) per perturbation, overall and per operation.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gsi_metrics.perception import create_backend  # noqa: E402
from gsi_metrics.scoring import score_sample, summarize  # noqa: E402


def _jpeg(image: np.ndarray, quality: int = 75) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
    return np.array(Image.open(buffer).convert("RGB"))


def _blur(image: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    return cv2.GaussianBlur(image, (0, 0), sigma)


def _resize(image: np.ndarray, side: int = 448) -> np.ndarray:
    height, width = image.shape[:2]
    small = cv2.resize(image, (side, side * height // width), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


PERTURBATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "clean": lambda image: image,
    "jpeg_q75": _jpeg,
    "blur_sigma1": _blur,
    "resize_448": _resize,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="gsi-bench/syn")
    parser.add_argument("--config", default="tabletop")
    parser.add_argument("--split", default="test")
    parser.add_argument("--limit", type=int, default=60)
    args = parser.parse_args()

    from datasets import load_dataset

    dataset = load_dataset(args.data, args.config, split=args.split)
    rows = [dataset[i] for i in range(min(args.limit, len(dataset)))]
    backend = create_backend()
    print(f"rows={len(rows)} profile=gsi")
    for name, perturb in PERTURBATIONS.items():
        scores = [score_sample(row, perturb(np.array(row["target_image"])), backend) for row in rows]
        summary = summarize(scores)
        per_op = ", ".join(f"{op} IC {v['IC']:.1f} SA {v['SA']:.1f}" for op, v in summary["per_operation"].items())
        print(f"{name:<12} IC {summary['overall']['IC']:5.1f}  SA {summary['overall']['SA']:5.1f}   ({per_op})")


if __name__ == "__main__":
    main()
