"""The `datasets` builder class generates the same rows as the CLI build."""

from __future__ import annotations

from pathlib import Path

import pytest

from gsi_datasets import GSISyn
from tests.conftest import SPLIT_SEED


def test_builder_class_generates_the_cli_rows(split_rows: list[dict], tmp_path: Path) -> None:
    builder = GSISyn(config_name="tabletop", num_samples={"test": 2}, seed=SPLIT_SEED, cache_dir=str(tmp_path))
    builder.download_and_prepare()
    dataset = builder.as_dataset(split="test")
    assert len(dataset) == 2
    for index in range(2):
        generated, built = dataset[index], split_rows[index]
        assert generated["sample_id"] == built["sample_id"]
        assert generated["scene"] == built["scene"]
        assert generated["instruction"] == built["instruction"]
        assert generated["source_image"].tobytes() == built["source_image"].tobytes()


def test_builder_class_rejects_bad_split_sizes(tmp_path: Path) -> None:
    builder = GSISyn(config_name="tabletop", num_samples={"dev": 2}, cache_dir=str(tmp_path))
    with pytest.raises(ValueError, match=r"unknown split\(s\) \['dev'\]"):
        builder.download_and_prepare()
    builder = GSISyn(config_name="tabletop", num_samples={"test": 0}, cache_dir=str(tmp_path / "zero"))
    with pytest.raises(ValueError, match="num_samples must be positive"):
        builder.download_and_prepare()
