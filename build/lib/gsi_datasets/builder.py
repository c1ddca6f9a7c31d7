"""``datasets`` builder classes, usable directly from Python (``datasets`` >= 4 runs no loading scripts).

>>> from gsi_datasets import GSISyn
>>> builder = GSISyn(config_name="tabletop", num_samples={"test": 6}, seed=0)  # doctest: +SKIP
>>> builder.download_and_prepare()                                           # doctest: +SKIP
>>> dataset = builder.as_dataset(split="test")                               # doctest: +SKIP

The builder generates samples in-process with the same generator as ``gsi-bench build`` (identical rows
for the same seed); for large splits, the CLI's parallel, resumable build is faster.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import datasets

from gsi_datasets.schema import FEATURES, SPLITS, SUBSET_OPERATIONS

_DESCRIPTION = "GSI-Syn: simulated spatial image edits with exact 3D labels (GSI-Bench, CVPR 2026)."
_SPLIT_NAMES = {"train": datasets.Split.TRAIN, "validation": datasets.Split.VALIDATION, "test": datasets.Split.TEST}


@dataclass
class GSISynConfig(datasets.BuilderConfig):
    """Config of one GSI-Syn subset.

    Attributes:
        num_samples: samples to generate per split (splits left out are not generated).
        seed: build seed.
    """

    num_samples: dict[str, int] = field(default_factory=lambda: {"test": 200})
    seed: int = 0


class GSISyn(datasets.GeneratorBasedBuilder):
    """Generates GSI-Syn subsets (currently ``tabletop``) from a seed."""

    BUILDER_CONFIG_CLASS = GSISynConfig
    BUILDER_CONFIGS = [
        GSISynConfig(name=subset, description=f"GSI-Syn {subset} scenes") for subset in SUBSET_OPERATIONS
    ]
    DEFAULT_CONFIG_NAME = "tabletop"

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(description=_DESCRIPTION, features=FEATURES, license="cc-by-4.0")

    def _split_generators(self, dl_manager: datasets.DownloadManager) -> list[datasets.SplitGenerator]:
        unknown = sorted(set(self.config.num_samples) - set(SPLITS))
        if unknown:
            raise ValueError(f"unknown split(s) {unknown} in num_samples; use {list(SPLITS)}")
        bad = {split: n for split, n in self.config.num_samples.items() if n <= 0}
        if bad:
            raise ValueError(f"num_samples must be positive, got {bad}")
        return [
            datasets.SplitGenerator(name=_SPLIT_NAMES[split], gen_kwargs={"split": split, "num_samples": n})
            for split, n in self.config.num_samples.items()
        ]

    def _generate_examples(self, split: str, num_samples: int):  # type: ignore[override]
        # Generation lives in `builders`; it is imported only when data is actually generated.
        from gsi_builders.generate import generate_sample

        for index in range(num_samples):
            result = generate_sample(self.config.name, split, self.config.seed, index)
            if result.row is None:
                raise RuntimeError(
                    f"sample {index} of {self.config.name}/{split} could not be generated "
                    f"(rejections: {dict(result.rejections)})"
                )
            yield result.row["sample_id"], result.row
