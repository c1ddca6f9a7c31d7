"""Contact sheets: source / target pairs (the source twice for a real candidate, which has no target image) with the
instruction, the operation and its parameters, and the target's projected 3D box before (green, on the source) and
after (orange, on the target; camera operations have no target box), and, when the instruction names one (OP), the
reference object's box (blue, on both); for a placement in a region of a surface (RP), the surface's outline and its
regions' points, the asked one filled (blue, on both); for a removal (SR), the removed instance's box on the source
only and the other instances' boxes (blue, on both)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps

from gsi_datasets.geometry import box_corners, project_points
from gsi_datasets.operations import get_operation
from gsi_datasets.schema import operation_name

# Corner indices of box_corners() joined by the 12 box edges (corners differ in exactly one sign).
_BOX_EDGES = [(a, b) for a in range(8) for b in range(a + 1, 8) if bin(a ^ b).count("1") == 1]
_BEFORE_COLOUR = (40, 220, 80)
_AFTER_COLOUR = (255, 140, 0)
REFERENCE_COLOUR = (40, 120, 255)


def draw_box3d(
    image: Image.Image, box: Mapping[str, Any], intrinsics: np.ndarray, colour: tuple[int, int, int], width: int = 2
) -> None:
    """Draws the 12 edges of a camera-frame 3D box (``centre``, ``size``, ``rotation``) onto ``image``."""
    corners = box_corners(np.array(box["centre"]), np.array(box["size"]), np.array(box["rotation"]))
    if np.any(corners[:, 2] <= 1e-6):
        return
    pixels = project_points(intrinsics, corners)
    draw = ImageDraw.Draw(image)
    for a, b in _BOX_EDGES:
        draw.line([tuple(pixels[a]), tuple(pixels[b])], fill=colour, width=width)


def draw_receptacle(
    image: Image.Image, receptacle: Mapping[str, Any], asked: str, intrinsics: np.ndarray, width: int = 2
) -> None:
    """Outlines a placement's receptacle surface (RP) and marks its regions' points, the asked one filled."""
    corners = np.array(receptacle["corners"], float)
    if np.any(corners[:, 2] <= 1e-6):
        return
    draw = ImageDraw.Draw(image)
    pixels = [tuple(p) for p in project_points(intrinsics, corners)]
    draw.line([*pixels, pixels[0]], fill=REFERENCE_COLOUR, width=width)
    radius = 2 * width + 1
    for region in receptacle["regions"]:
        u, v = project_points(intrinsics, np.array([region["point"]], float))[0]
        filled = REFERENCE_COLOUR if region["region"] == asked else None
        draw.ellipse((u - radius, v - radius, u + radius, v + radius), outline=REFERENCE_COLOUR, fill=filled)


def describe_parameters(row: Mapping[str, Any]) -> str:
    """One line with the operation's short id and the commanded and realised parameters."""
    spec = get_operation(operation_name(row["operation"]))
    command, transform = spec.command_from_row(row["command"]), row["transform"]
    parts = [spec.short_id, command.describe()]
    if spec.change == "camera":
        delta = np.array(transform["camera_delta"])
        centre_shift = -delta[:3, :3].T @ delta[:3, 3]
        angle = np.rad2deg(np.arccos(np.clip((np.trace(delta[:3, :3]) - 1) / 2, -1, 1)))
        parts.append(f"realised camera {np.linalg.norm(centre_shift) * 100:.1f} cm, {angle:.1f} deg")
    elif getattr(command, "distance_m", None) is not None:
        parts.append(f"realised {np.linalg.norm(transform['translation_m']) * 100:.1f} cm")
    elif getattr(command, "angle_deg", None) is not None:
        parts.append(f"realised {transform['rotation_deg']:.1f} deg")
    elif getattr(command, "scale_factor", None) is not None:
        parts.append(f"realised x{transform['scale_factor']:.3f}")
    elif spec.change == "object_pose":
        parts.append(f"realised move {np.linalg.norm(transform['translation_m']) * 100:.1f} cm")
    elif spec.change == "object_removed":
        parts.append(f"{len(row.get('distractors') or [])} other instance(s) stay")
    if row["target_object"] is not None and row["support"]["category"]:
        parts.append(f"on the {row['support']['category'].replace('_', ' ')}")
    return " | ".join(parts)


def _wrap(text: str, font: ImageFont.ImageFont, max_width: int, draw: ImageDraw.ImageDraw) -> list[str]:
    lines, current = [], ""
    for word in text.split():
        candidate = f"{current} {word}".strip()
        if draw.textlength(candidate, font=font) <= max_width or not current:
            current = candidate
        else:
            lines.append(current)
            current = word
    return lines + ([current] if current else [])


def contact_sheet(rows: Iterable[Mapping[str, Any]], columns: int = 2, tile: int = 320) -> Image.Image:
    """A grid of samples: for each, source and target side by side with boxes, and a caption below.

    Args:
        rows: dataset rows (decoded images, as ``datasets`` returns them).
        columns: samples per row of the sheet.
        tile: width of each image in pixels (images are resized to it, keeping the first image's aspect).
    """
    rows = list(rows)
    if not rows:
        raise ValueError("contact_sheet needs at least one row")
    font = ImageFont.load_default(size=max(11, tile // 24))
    caption_height = 5 * (font.size + 3) + 8
    width, height = rows[0]["source_image"].size
    tile_height = max(1, round(tile * height / width))  # tiles keep the first image's aspect (4:3 real frames)
    cell_width, cell_height = 2 * tile + 12, tile_height + caption_height + 12
    sheet_rows = math.ceil(len(rows) / columns)
    sheet = Image.new("RGB", (columns * cell_width, sheet_rows * cell_height), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for index, row in enumerate(rows):
        x0, y0 = (index % columns) * cell_width + 4, (index // columns) * cell_height + 4
        intrinsics = np.array(row["camera"]["intrinsics"])
        for slot, (key, box_key, colour) in enumerate(
            (("source_image", "box3d_before", _BEFORE_COLOUR), ("target_image", "box3d_after", _AFTER_COLOUR))
        ):
            # A real candidate has no target image: its after box is drawn on the source (the paper's visual check).
            image = (row[key] if row[key] is not None else row["source_image"]).convert("RGB")
            removed_after = slot == 1 and get_operation(operation_name(row["operation"])).change == "object_removed"
            if row["target_object"] is not None and not removed_after:  # camera operations edit no object
                draw_box3d(image, row["target_object"][box_key], intrinsics, colour)
            for other in [row.get("reference_object"), *(row.get("distractors") or [])]:
                if other is not None:
                    draw_box3d(image, other[box_key], intrinsics, REFERENCE_COLOUR)
            if row.get("receptacle") is not None:
                draw_receptacle(image, row["receptacle"], row["command"]["direction"], intrinsics)
            fitted = ImageOps.contain(image, (tile, tile_height), Image.Resampling.BILINEAR)
            sheet.paste(fitted, (x0 + slot * (tile + 4), y0))
        text_y = y0 + tile_height + 4
        lines = (
            [f"{row['sample_id']}"] + _wrap(row["instruction"], font, 2 * tile, draw)[:2] + [describe_parameters(row)]
        )
        for line in lines:
            draw.text((x0, text_y), line, fill=(0, 0, 0), font=font)
            text_y += font.size + 3
    return sheet
