"""The dataset card (README.md with YAML metadata) of a GSI-Syn dataset folder.

The YAML ``configs`` list is what lets ``load_dataset(folder, "tabletop")`` (and the Hub) find the
Parquet shards of each subset and split; it is regenerated from the build manifests after every build
(and by ``gsi-bench verify --rewrite-card``), listing only complete splits.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from gsi_datasets.integrity import CARD_FILE, read_manifests, split_data_pattern, split_size, write_text_atomically
from gsi_datasets.operations import short_id
from gsi_datasets.schema import FEATURES, OPERATIONS, SUBSETS

CITATION = """@inproceedings{zhu2026gsibench,
  title     = {Exploring Spatial Intelligence from a Generative Perspective},
  author    = {Zhu and others},
  booktitle = {Proceedings of the IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)},
  year      = {2026},
  note      = {arXiv:2604.20570}
}"""


def card_metadata(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    """The YAML header: licence, tags, ``configs`` (data files per split) and ``dataset_info``.

    ``dataset_info`` records each split's size in bytes, summed from the shard sizes the build manifests
    record (``gsi-bench verify`` checks the card against them). Besides being useful, this makes the card of
    every different build different: ``datasets`` keys its cache of a local folder on the card and the
    data-file patterns only, so two folders with identical cards would share (stale) cached data.
    """
    complete = [m for m in manifests if m.get("complete")]
    subsets = sorted({m["subset"] for m in complete})
    configs, infos = [], []
    for subset in subsets:
        splits = [m for m in complete if m["subset"] == subset]
        configs.append(
            {
                "config_name": subset,
                "data_files": [{"split": m["split"], "path": split_data_pattern(subset, m["split"])} for m in splits],
            }
        )
        infos.append(
            {
                "config_name": subset,
                "features": FEATURES._to_yaml_list(),
                "splits": [{"name": m["split"], **split_size(m)} for m in splits],
                "download_size": sum(split_size(m)["num_bytes"] for m in splits),
            }
        )
    metadata: dict[str, Any] = {
        "license": "cc-by-4.0",
        "pretty_name": "GSI-Syn",
        "language": ["en"],
        "task_categories": ["image-to-image"],
        "tags": ["spatial-intelligence", "image-editing", "3d", "benchmark", "synthetic"],
        "size_categories": ["n<1K" if sum(m["num_samples"] for m in complete) < 1000 else "1K<n<10K"],
    }
    if configs:
        metadata["configs"] = configs
        metadata["dataset_info"] = infos
    return metadata


def _split_table(manifests: list[dict[str, Any]]) -> str:
    lines = [
        "| config | split | samples | seed | generator | status | top rejection reasons |",
        "|---|---|---|---|---|---|---|",
    ]
    for m in manifests:
        top = sorted(m.get("rejections", {}).items(), key=lambda kv: -kv[1])[:3]
        reasons = ", ".join(f"{k} ({v})" for k, v in top) or "none"
        written = len(m.get("shards", {}))
        status = "complete" if m.get("complete") else f"incomplete ({written}/{m['num_shards']} shards)"
        lines.append(
            f"| {m['subset']} | {m['split']} | {m['num_samples']} | {m['seed']} | "
            f"{m['generator_version']} | {status} | {reasons} |"
        )
    return "\n".join(lines)


def _preview_section(previews: Mapping[str, str] | None) -> str:
    """``## Preview``: one contact sheet per split (``{"tabletop/test": "preview/tabletop-test.png"}``)."""
    if not previews:
        return ""
    images = "\n\n".join(
        f"**{split}**\n\n![{split}: source and target with the 3D box before (green) and after (orange)]({path})"
        for split, path in previews.items()
    )
    return f"## Preview\n\n{images}\n\n"


def render_card(out_dir: Path, *, repo_id: str | None = None, previews: Mapping[str, str] | None = None) -> str:
    """The full README.md text of a dataset folder, from its build manifests and shards.

    Args:
        out_dir: the dataset folder.
        repo_id: the Hub repository the card is published in (shown in the loading example).
        previews: contact sheets shown under ``## Preview``: ``config/split`` -> image path relative to the card
            (``gsi-bench push dataset`` renders and uploads them; a local folder's card has none).
    """
    manifests = read_manifests(out_dir)
    header = yaml.safe_dump(card_metadata(manifests), sort_keys=False, width=120)
    operations = "\n".join(
        f"- `{subset.name}` ({subset.description}): "
        + ", ".join(f"`{op}` ({short_id(op)}) {share:.0%}" for op, share in subset.operation_mix.items())
        for subset in SUBSETS.values()
    )
    return f"""---
{header}---

# GSI-Syn

Synthetic part of **GSI-Bench**, the benchmark for generative spatial intelligence ("Exploring Spatial
Intelligence from a Generative Perspective", CVPR 2026). Every row is one spatially grounded image edit:
a source image, an instruction such as "Move the coffee mug 12 cm to the left.", the exact 3D change it
asks for, and the rendered target image, with metric depth, instance masks, camera and 3D boxes before
and after. Scenes are simulated and settled with MuJoCo physics and rendered headless; every label is
exact.

Generated with the `gsi-bench` package (`gsi-bench build syn ...`); the same seed reproduces identical
rows and pixels.

## Loading

```python
from datasets import load_dataset
ds = load_dataset("{repo_id or "<this folder or repo>"}", "tabletop", split="test")
```

{_preview_section(previews)}## Splits

{_split_table(manifests)}

Train, validation and test draw from unrelated random streams: they share no scene and no asset
instance seed.

## Operations

The `operation` column is a ClassLabel over {", ".join(f"`{op}`" for op in OPERATIONS)}. Per subset, the
operations and their shares of a split (drawn first, so a split holds its mix to within one sample):

{operations}

Camera operations (`camera_view_change`) edit no object: their `target_object` is empty and their
`transform.camera_delta` is the asked camera motion (`target_world_to_camera = camera_delta @
source_world_to_camera`).

## Frames and units

- Camera frame: OpenCV (x right, y down, z forward), metres. 3D boxes (`centre`, full `size` along the
  box's own axes, `rotation` whose columns are those axes) are in the **source** camera frame, before
  and after the edit.
- `camera.intrinsics` is K in the image's own pixel frame (pixel centres at integer coordinates);
  `camera.*_world_to_camera` map world points (metres, z up) into the camera frame.
- Depth maps are 16-bit PNGs in millimetres along the camera z axis (0 = no depth); instance maps are
  16-bit PNGs (0 = floor, walls and background; furniture from 1, then objects; `instances` names each one
  and the furniture it stands on, `support_id`, 0 for the floor).
- `transform` (Phi3D) is the realised change: after-centre = before-centre + `translation_m`,
  after-rotation = R(`rotation_axis`, `rotation_deg`) @ before-rotation, after-size = before-size *
  `scale_factor`; `camera_delta` maps the source camera frame to the target's.
- `command` is what the instruction asks (direction, distance, angle, factor, camera motion); left/right are
  as seen in the image, forward is away from the camera in the support plane, clockwise is as seen from above.
- `support` is what the target stands on (a table, a shelf board, a seat, the floor) and its plane.
- `target_mesh` (real rows from a scan only; None elsewhere) is the target's annotated mesh in the source camera
  frame: `vertices`, `faces` and the scan's vertex `colours`. Scoring draws the target from it: the shape of the sides
  the photograph does not show is the scan's, their colours the scan's guess (a pixel showing them costs at most what
  no change costs there); a real turn is asked only when that drawing, from the row's own camera, tells it apart from
  no turn, the opposite and the double turn (rejections `object_rotate/turn_looks_*`).
- `neighbour_meshes` (real rows from a scan only; None elsewhere) holds the other instances' annotated faces around and
  behind the target (`instance_id`, `vertices`, `faces`, `colours`; source camera frame): scoring draws what a move or
  a removal uncovers from them instead of guessing it from the pixels around the target.
- `reference_format` repeats the labels in the reference implementation's layout
  (`[x, y, z, w, h, l, yaw]`, yaw = atan2(-R[2,0], R[0,0]) about the camera y axis).

## Licence

CC BY 4.0. All meshes and textures are generated procedurally by the `gsi-bench` code.

## Citation

```bibtex
{CITATION}
```
"""


def write_dataset_card(out_dir: Path) -> Path:
    """(Re)writes ``README.md`` in a dataset folder from its build manifests, atomically; returns its path.

    Raises:
        gsi_datasets.integrity.ManifestError: a build manifest cannot be read.
    """
    return write_text_atomically(Path(out_dir) / CARD_FILE, render_card(Path(out_dir)))
