"""A non-learned 2.5D reference editor: parse the instruction, lift the target with depth, transform, reproject.

The editor sits between "identity" (no change) and "oracle" (the rendered target). It reads from a row only
what a depth-aware editor with an object detector would have: the instruction, the source RGB-D image, the
source instance map and its id -> display name table (the detector stand-in), the intrinsics and the
supporting plane. It never reads the labels (``transform``, ``command``, ``target_*``, ``scene``, ...).

Steps: the instruction gives the operation, object and value (:mod:`instruction_parser`); the object's instance mask
(dilated, to carry its anti-aliased rim along) is lifted to camera-frame 3D points; the move / rotation / scaling is
applied in 3D about the object's estimated contact point on the table (a placement relative to another object takes
that point to the reference object's contact point plus the asked offset; a placement in a region of a receptacle,
to the region's point on the visible top of the named receptacle or of the object's support, :func:`region_point`,
:func:`top_height`); the points are forward-splatted with a z-buffer (other objects in front still occlude the moved
one); small splat holes are closed; the vacated pixels are inpainted (Telea) and the moved object is composited on
top. Only the visible surface is known (2.5D): a rotation guesses the hidden back as the visible surface turned by
half a turn, so rotated objects show re-used texture, and shadows stay where they were. A camera view change moves
every pixel instead: the whole depth image is re-projected into the moved camera and what the source never saw is
inpainted. A removal lifts every instance of the named object, picks the one at the asked position
(:func:`removal_target`, the operation's own :func:`~gsi_datasets.operations.spatial_remove.extreme_instance`) and
inpaints its pixels.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cv2
import numpy as np
from PIL import Image

from gsi_bench.editors.instruction_parser import (
    CAMERA,
    MOVE,
    PLACE,
    RECEPTACLE,
    REMOVE,
    ROTATE,
    SCALE,
    ParsedEdit,
    parse_instruction,
)
from gsi_datasets.geometry import (
    GROUND_COMPONENTS,
    ground_direction,
    plane_axes,
    project_points,
    rotation_about_axis,
    unproject_pixels,
)
from gsi_datasets.images import row_image
from gsi_datasets.operations.camera_view_change import CameraCommand
from gsi_datasets.operations.object_relative_place import RELATIONS
from gsi_datasets.operations.receptacle_place import REGIONS, rectangle_edge
from gsi_datasets.operations.spatial_remove import extreme_instance

#: Pixels of dilation carried along with the object mask (anti-aliased rim) and inpainted behind it.
CARRY_DILATION_PX = 1
INPAINT_DILATION_PX = 2
INPAINT_RADIUS_PX = 5
#: Inpainting areas larger than this (pixels) are filled at half resolution, to bound the time per row.
HALF_RESOLUTION_INPAINT_PX = 6000
#: A moved point hides behind another object's pixel only when it is this much farther away (metres).
OCCLUSION_MARGIN_M = 0.005
#: Object points further than this below the table or above the object's 99th height percentile are outliers.
OUTLIER_MARGIN_M = 0.01
#: A splatted point this much behind the nearest one around it is seen through a gap (metres).
SEE_THROUGH_M = 0.02
#: Assumed image magnification of a rotated surface: faces seen edge-on turn to face the camera.
ROTATION_MAGNIFICATION = 3.0
_CROSS = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
_SQUARE = np.ones((3, 3), dtype=np.uint8)


def geometric_edit(row: Mapping[str, Any]) -> Image.Image:
    """Edits ``row["source_image"]`` as ``row["instruction"]`` asks, with 2.5D geometry (no learned model).

    See :func:`geometric_edit_with_mask` for the arguments; returns the edited RGB image, the size of the source.
    """
    return geometric_edit_with_mask(row)[0]


def geometric_edit_with_mask(row: Mapping[str, Any]) -> tuple[Image.Image, np.ndarray]:
    """Edits the source image as the instruction asks; also returns where the edited object was drawn.

    Args:
        row: a GSI-Bench row; only ``instruction``, ``source_image``, ``source_depth`` (millimetres along the
            camera z axis, 0 = none), ``source_instances``, ``instances``, ``camera`` (``intrinsics``) and
            ``support`` (plane ``normal . X + offset_m = 0`` in the camera frame, normal up) are read. Images
            may be PIL images or ``{"bytes": png, ...}`` dicts (rows straight from the generator).

    Returns:
        ``(edited RGB image the size of the source, (H, W) bool mask of the pixels showing the edited object)``;
        a removal draws no object, so its mask is all False (the changed pixels are the removed instance's dilated
        mask, inpainted).

    Raises:
        ValueError: when the instruction cannot be parsed or its object has no pixels with depth (for a removal:
            no instance of the object's name has pixels with depth).
    """
    rgb = np.asarray(row_image(row["source_image"]).convert("RGB"))
    depth_m = np.asarray(row_image(row["source_depth"]), dtype=np.float64) / 1000.0
    instances = np.asarray(row_image(row["source_instances"]), dtype=np.int64)
    intrinsics = np.asarray(row["camera"]["intrinsics"], dtype=np.float64)
    normal = np.asarray(row["support"]["normal"], dtype=np.float64)
    offset_m = float(row["support"]["offset_m"]) / np.linalg.norm(normal)
    normal = normal / np.linalg.norm(normal)
    support_id = int(row["support"]["instance_id"])

    # The support (the table) is no candidate: "looking down at the table, spin the book" means the book.
    names = {entry["display_name"]: int(entry["instance_id"]) for entry in row["instances"]}
    edit = parse_instruction(row["instruction"], [n for n, i in names.items() if i not in (0, support_id)])
    if edit.operation == CAMERA:
        return _view_change(rgb, depth_m, intrinsics, normal, edit)
    if edit.operation == REMOVE:
        candidates = [
            int(e["instance_id"])
            for e in row["instances"]
            if e["display_name"] == edit.object_name and int(e["instance_id"]) not in (0, support_id)
        ]
        removed = removal_target(edit, candidates, instances, depth_m, intrinsics, normal, offset_m)
        hole = cv2.dilate((instances == removed).astype(np.uint8), _CROSS, iterations=INPAINT_DILATION_PX)
        return Image.fromarray(_inpaint(rgb, hole), mode="RGB"), np.zeros(instances.shape, bool)
    object_id = _referent(row, edit.object_name)
    mask = instances == object_id

    pixels, points, pivot = _lifted(edit.object_name, object_id, instances, depth_m, intrinsics, normal, offset_m)
    colours = rgb[pixels[:, 1], pixels[:, 0]]
    magnification = 1.0
    if edit.operation == ROTATE:
        points, colours = _complete_back(points, colours, pivot, normal)
        magnification = ROTATION_MAGNIFICATION
    destination = None
    if edit.operation == PLACE:
        reference_id = _referent(row, edit.reference_name)
        _, _, reference_pivot = _lifted(
            edit.reference_name, reference_id, instances, depth_m, intrinsics, normal, offset_m
        )
        destination = reference_pivot + edit.distance_m * ground_direction(RELATIONS[edit.direction], normal)
    if edit.operation == RECEPTACLE:
        # The named receptacle's top (a tray, another table) or the support's.
        receptacle_id = support_id if edit.reference_name is None else _referent(row, edit.reference_name)
        surface = (instances == receptacle_id) & (depth_m > 0)
        if edit.direction == "inside":
            destination = container_centre(surface, depth_m, intrinsics, normal, offset_m)
        else:
            height = 0.0 if receptacle_id == support_id else top_height(surface, depth_m, intrinsics, normal, offset_m)
            destination = region_point(edit.direction, surface, depth_m, intrinsics, normal, offset_m - height, points)
    moved = apply_edit(edit, points, pivot, normal, destination)
    magnification = max(magnification, _magnification(points, moved))

    others = (instances != 0) & (instances != support_id) & (instances != object_id)
    layer, covered = _splat(intrinsics, moved, colours, np.where(others, depth_m, np.inf), magnification)
    background = _inpaint(rgb, cv2.dilate(mask.astype(np.uint8), _CROSS, iterations=INPAINT_DILATION_PX))
    edited = np.where(covered[..., None], np.rint(layer), background)
    return Image.fromarray(edited.astype(np.uint8), mode="RGB"), covered


def _lifted(
    name: str,
    object_id: int,
    instances: np.ndarray,
    depth_m: np.ndarray,
    intrinsics: np.ndarray,
    normal: np.ndarray,
    offset_m: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An object's lifted pixels and points (:func:`_object_points`) and where it stands (:func:`contact_point`).

    Raises:
        ValueError: when the object has no pixels with usable depth.
    """
    pixels, points, on_object = _object_points(instances == object_id, depth_m, intrinsics, normal, offset_m)
    if not np.any(on_object):
        raise ValueError(f"the {name!r} (instance {object_id}) has no pixels with usable depth")
    return pixels, points, contact_point(points[on_object], normal, offset_m)


def removal_target(
    edit: ParsedEdit,
    candidates: list[int],
    instances: np.ndarray,
    depth_m: np.ndarray,
    intrinsics: np.ndarray,
    normal: np.ndarray,
    offset_m: float,
) -> int:
    """The instance a removal means: among ``candidates`` (the ids of the instances named ``edit.object_name``),
    those with pixels with usable depth in ``instances`` are lifted (:func:`_object_points`) and ranked by
    :func:`~gsi_datasets.operations.spatial_remove.extreme_instance` at ``edit.direction``, ``normal`` (the support's
    up, camera frame) giving "up".

    An instance's centre is the midpoint of its lifted points' extent along each camera axis (1st to 99th
    percentile, robust to stray depth): only the visible surface is known, and the extent's middle is less tied
    than the mean to which faces the camera sees most of.

    Raises:
        ValueError: when no candidate has pixels with usable depth.
    """
    centres = {}
    for instance_id in candidates:
        mask = instances == instance_id
        if not np.any(mask):
            continue
        _, points, on_object = _object_points(mask, depth_m, intrinsics, normal, offset_m)
        if np.any(on_object):
            low, high = np.percentile(points[on_object], [1.0, 99.0], axis=0)
            centres[instance_id] = (low + high) / 2.0
    if not centres:
        raise ValueError(
            f"cannot remove the {edit.direction} {edit.object_name!r}: no instance of that name has pixels with"
            f" usable depth (candidates {candidates})"
        )
    return extreme_instance(edit.direction, centres, up=normal)[0]


def _referent(row: Mapping[str, Any], name: str) -> int:
    """Instance id of the object called ``name``; when several are, the one standing on the support the instruction
    names ("the mug on the bookshelf")."""
    entries = row["instances"]
    named = [e for e in entries if e["display_name"] == name]
    if len(named) > 1:
        supports = {int(e["instance_id"]): e["display_name"] for e in entries}
        text = row["instruction"].lower()
        on = [
            e for e in named if f"{name} on the {supports.get(int(e.get('support_id') or 0), 'floor')}".lower() in text
        ]
        named = on or named
    return int(named[0]["instance_id"])


def _view_change(
    rgb: np.ndarray, depth_m: np.ndarray, intrinsics: np.ndarray, up: np.ndarray, edit: ParsedEdit
) -> tuple[Image.Image, np.ndarray]:
    """The source seen from the moved camera: every pixel with depth lifted, moved as the command asks
    (:meth:`CameraCommand.camera_delta`, the support normal giving "up"), forward-splatted, and what the source
    never saw (disocclusions, the border the view turns into) inpainted. The mask is every pixel."""
    command = CameraCommand(edit.direction, edit.motion, distance_m=edit.distance_m, angle_deg=edit.angle_deg)
    delta = command.camera_delta(up)
    v, u = np.nonzero(depth_m > 0)
    points = unproject_pixels(intrinsics, np.column_stack([u, v]), depth_m[v, u]) @ delta[:3, :3].T + delta[:3, 3]
    magnification = max(
        1.0, _magnification(unproject_pixels(intrinsics, np.column_stack([u, v]), depth_m[v, u]), points)
    )
    layer, covered = _splat(
        intrinsics, points, rgb[v, u].astype(np.float32), np.full(depth_m.shape, np.inf), magnification
    )
    edited = np.where(covered[..., None], np.rint(layer), 0).astype(np.uint8)
    filled = _inpaint(edited, (~covered).astype(np.uint8))
    return Image.fromarray(filled, mode="RGB"), np.ones(depth_m.shape, bool)


def _object_points(
    mask: np.ndarray, depth_m: np.ndarray, intrinsics: np.ndarray, normal: np.ndarray, offset_m: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lifts the object's pixels and a one-pixel rim around them to camera-frame points.

    Returns ``(pixels (N, 2) as (u, v), points (N, 3) in metres, on_object (N,) bool)``; the rim
    (``on_object`` False) carries the anti-aliased edge colours along. Points far above the object's bulk
    (depth and segmentation disagreeing on thin parts) are dropped.
    """
    # Along the silhouette, depth and segmentation may disagree: a mask pixel can hold the depth of the
    # surface behind. Such pixels, and the rim, take the nearest object depth around them instead.
    valid = mask & (depth_m > 0)
    local_min = cv2.erode(np.where(valid, depth_m, np.inf).astype(np.float32), _SQUARE)
    boundary = mask & ~cv2.erode(mask.astype(np.uint8), _SQUARE).astype(bool)
    trusted = valid & ~(boundary & (depth_m > local_min + SEE_THROUGH_M))
    object_depth = np.where(trusted, depth_m, np.inf).astype(np.float32)
    depth = np.where(trusted, depth_m, cv2.erode(object_depth, _SQUARE, iterations=CARRY_DILATION_PX))
    carried = cv2.dilate(mask.astype(np.uint8), _CROSS, iterations=CARRY_DILATION_PX).astype(bool)
    carried &= np.isfinite(depth) & (depth > 0)
    v, u = np.nonzero(carried)
    points = unproject_pixels(intrinsics, np.column_stack([u, v]), depth[v, u])
    on_object = trusted[v, u]
    height = points @ normal + offset_m
    if np.any(on_object):
        top = np.percentile(height[on_object], 99.0)
        keep = (height > -OUTLIER_MARGIN_M) & (height < top * 1.25 + OUTLIER_MARGIN_M)
        u, v, points, on_object = u[keep], v[keep], points[keep], on_object[keep]
    return np.stack([u, v], axis=1), points, on_object


def contact_point(points: np.ndarray, normal: np.ndarray, offset_m: float) -> np.ndarray:
    """Where an object stands on its support, estimated from its visible surface points.

    The centre of the points' footprint on the plane: across the view, the middle of their extent; along
    the view (away from the camera), the visible surface only reaches past the middle when the top is seen,
    so the centre is the larger of the extent's middle and the near edge plus half the object's width (a
    footprint about as deep as it is wide).

    Args:
        points: ``(N, 3)`` visible surface points of the object, camera frame, metres.
        normal: unit normal of the support plane (pointing up), camera frame.
        offset_m: plane offset: ``normal . X + offset_m = 0`` on the plane.

    Returns:
        ``(3,)`` point on the plane, camera frame, metres.
    """
    right, forward = plane_axes(normal)
    across, along = points @ right, points @ forward
    low, high = np.percentile(across, [1.0, 99.0])
    near, far = np.percentile(along, [1.0, 99.0])
    centre_along = max((near + far) / 2.0, near + (high - low) / 2.0)
    on_plane = (low + high) / 2.0 * right + centre_along * forward
    # Any point whose projection along the normal lands on the plane: the in-plane axes carry no normal part.
    return on_plane - offset_m * normal


def top_height(
    surface: np.ndarray, depth_m: np.ndarray, intrinsics: np.ndarray, normal: np.ndarray, offset_m: float
) -> float:
    """Height above the support plane of the top of a receptacle whose pixels are ``surface``: the height most of
    its lifted pixels share (a flat top gathers its pixels at one height; sides and walls spread theirs), refined as
    their median.

    Raises:
        ValueError: when the receptacle has no pixels with depth.
    """
    v, u = np.nonzero(surface)
    if len(v) == 0:
        raise ValueError("the receptacle shows no pixels with depth")
    heights = unproject_pixels(intrinsics, np.column_stack([u, v]), depth_m[v, u]) @ normal + offset_m
    bins = np.floor(heights / 0.005).astype(np.int64)
    values, counts = np.unique(bins, return_counts=True)
    mode = (values[np.argmax(counts)] + 0.5) * 0.005
    return float(np.median(heights[np.abs(heights - mode) < 0.01]))


def container_centre(
    surface: np.ndarray, depth_m: np.ndarray, intrinsics: np.ndarray, normal: np.ndarray, offset_m: float
) -> np.ndarray:
    """Where an object put in an open container (a bowl) goes, from what the image shows: the middle of the extent,
    on the support plane, of the container's rim (its lifted pixels within 1 cm of its highest), on the plane.

    Raises:
        ValueError: when the container has no pixels with depth.
    """
    v, u = np.nonzero(surface)
    if len(v) == 0:
        raise ValueError("the container shows no pixels with depth")
    lifted = unproject_pixels(intrinsics, np.column_stack([u, v]), depth_m[v, u])
    heights = lifted @ normal + offset_m
    rim = lifted[heights >= np.percentile(heights, 99.0) - 0.01]
    right, forward = plane_axes(normal)
    flat = np.column_stack([rim @ right, rim @ forward])
    middle = (flat.min(axis=0) + flat.max(axis=0)) / 2.0
    return middle[0] * right + middle[1] * forward - offset_m * normal


def region_point(
    region: str,
    surface: np.ndarray,
    depth_m: np.ndarray,
    intrinsics: np.ndarray,
    normal: np.ndarray,
    offset_m: float,
    object_points: np.ndarray,
) -> np.ndarray:
    """Where an object goes for ``region`` of the surface it stands on (RP), from what the image shows: the
    surface's visible top (its pixels within 1 cm of the support plane, lifted) is boxed by the smallest rectangle
    on the plane; the centre region is the rectangle's centre, an edge region the middle of the side facing the
    camera-relative direction, moved in by the object's half width and 1.5 cm. A surface cut by the image border
    is boxed where the border cuts it.

    Raises:
        ValueError: when the surface shows no top.
    """
    v, u = np.nonzero(surface)
    lifted = unproject_pixels(intrinsics, np.column_stack([u, v]), depth_m[v, u])
    top = lifted[np.abs(lifted @ normal + offset_m) < 0.01]
    if len(top) < 10:
        raise ValueError("the surface the object stands on shows no top to place it on")
    right, forward = plane_axes(normal)
    flat = np.column_stack([top @ right, top @ forward]).astype(np.float32)
    corners = cv2.boxPoints(cv2.minAreaRect(flat)).astype(np.float64)
    centre = corners.mean(axis=0)
    across = object_points @ right
    inset = (np.percentile(across, 99.0) - np.percentile(across, 1.0)) / 2.0 + 0.015
    point = centre
    if REGIONS[region] is not None:
        middle, outward, _ = rectangle_edge(corners, np.array(GROUND_COMPONENTS[REGIONS[region]]))
        point = centre + outward * max(np.linalg.norm(middle - centre) - inset, 0.0)
    return point[0] * right + point[1] * forward - offset_m * normal


def apply_edit(
    edit: ParsedEdit,
    points: np.ndarray,
    pivot: np.ndarray,
    normal: np.ndarray,
    destination: np.ndarray | None = None,
) -> np.ndarray:
    """Applies a parsed edit to camera-frame points.

    Args:
        edit: the parsed instruction.
        points: ``(N, 3)`` camera-frame points, metres.
        pivot: ``(3,)`` contact point on the support (the rotation axis and scaling centre).
        normal: unit up normal of the support plane, camera frame.
        destination: where a placement (OP, RP) puts the contact point.

    Returns:
        ``(N, 3)`` transformed points.
    """
    if edit.operation == MOVE:
        return points + edit.distance_m * ground_direction(edit.direction, normal)
    if edit.operation in (PLACE, RECEPTACLE):
        return points + (destination - pivot)
    if edit.operation == ROTATE:
        # Seen from above, a clockwise turn is a negative right-handed rotation about the up normal.
        signed = edit.angle_deg if edit.direction == "counterclockwise" else -edit.angle_deg
        return pivot + (points - pivot) @ rotation_about_axis(normal, signed).T
    if edit.operation == SCALE:
        return pivot + edit.scale_factor * (points - pivot)
    raise ValueError(f"unsupported operation {edit.operation!r}")


def _complete_back(
    points: np.ndarray, colours: np.ndarray, pivot: np.ndarray, normal: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Adds a guess of the hidden back: the visible surface turned 180 degrees about the vertical axis.

    A rotation brings hidden sides into view; most objects are roughly symmetric under a half turn, so the
    copy closes the object's outline (the z-buffer keeps it behind the visible surface where both overlap).
    """
    back = pivot + (points - pivot) @ rotation_about_axis(normal, 180.0).T
    return np.concatenate([points, back]), np.concatenate([colours, colours])


def _magnification(before: np.ndarray, after: np.ndarray) -> float:
    """How much larger the object's image becomes (size ratio over depth ratio), for the hole-closing kernel."""
    spread = np.linalg.norm(after - after.mean(axis=0), axis=1).mean() / max(
        np.linalg.norm(before - before.mean(axis=0), axis=1).mean(), 1e-9
    )
    return float(spread * np.median(before[:, 2] / np.maximum(after[:, 2], 1e-6)))


def _splat(
    intrinsics: np.ndarray, points: np.ndarray, colours: np.ndarray, occluder_depth: np.ndarray, magnification: float
) -> tuple[np.ndarray, np.ndarray]:
    """Z-buffered forward splat of coloured camera-frame points; returns ``(rgb layer, covered mask)``.

    The nearest point wins each pixel. Where the points spread apart (a magnified or newly frontal surface),
    holes are closed and filled from their neighbours (:func:`_fill_holes`). Pixels where another object lies
    in front of the splatted surface (``occluder_depth``, z in metres, inf where none) are dropped.
    """
    height, width = occluder_depth.shape
    ahead = points[:, 2] > 1e-6
    pixels = np.rint(project_points(intrinsics, points[ahead])).astype(np.int64)
    depth, colours = points[ahead, 2], colours[ahead]
    inside = (pixels[:, 0] >= 0) & (pixels[:, 0] < width) & (pixels[:, 1] >= 0) & (pixels[:, 1] < height)
    flat = pixels[inside, 1] * width + pixels[inside, 0]
    depth, colours = depth[inside], colours[inside]
    # Sort by pixel, then depth: the first entry of each pixel is its nearest point.
    order = np.lexsort((depth, flat))
    flat, first = np.unique(flat[order], return_index=True)
    nearest = order[first]

    layer = np.zeros((height * width, 3), dtype=np.float32)
    zbuffer = np.full(height * width, np.inf, dtype=np.float32)
    layer[flat] = colours[nearest]
    zbuffer[flat] = depth[nearest]
    # Neighbouring points land up to ``magnification`` pixels apart.
    size = 2 * max(1, int(np.ceil(magnification - 1.0))) + 1
    layer, zbuffer = _fill_holes(layer.reshape(height, width, 3), zbuffer.reshape(height, width), size)
    return layer, np.isfinite(zbuffer) & (zbuffer <= occluder_depth + OCCLUSION_MARGIN_M)


def _fill_holes(layer: np.ndarray, zbuffer: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Closes splat holes up to ``size`` pixels wide; returns the filled ``(layer, zbuffer)`` (inf = empty).

    A pixel whose splatted depth lies well behind the nearest depth around it shows a farther surface through
    a gap of the near one, so it counts as a hole too. Holes inside the closed footprint take the mean colour
    and depth of the valid pixels in a ``size`` window.
    """
    # A square kernel also closes the pixels where a hole row crosses a hole column (a cross leaves them open).
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (size, size))
    valid = np.isfinite(zbuffer) & (zbuffer <= cv2.erode(zbuffer, kernel) + SEE_THROUGH_M)
    footprint = cv2.morphologyEx(valid.astype(np.uint8), cv2.MORPH_CLOSE, kernel).astype(bool)
    weight = cv2.boxFilter(valid.astype(np.float32), -1, (size, size), normalize=False)
    fillable = footprint & ~valid & (weight > 0)
    if np.any(fillable):
        total = cv2.boxFilter(np.where(valid[..., None], layer, 0.0), -1, (size, size), normalize=False)
        depth_sum = cv2.boxFilter(np.where(valid, zbuffer, 0.0).astype(np.float32), -1, (size, size), normalize=False)
        layer[fillable] = total[fillable] / weight[fillable, None]
        zbuffer[fillable] = depth_sum[fillable] / weight[fillable]
    zbuffer[~(valid | fillable)] = np.inf
    return layer, zbuffer


def _inpaint(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Telea inpainting of ``mask`` pixels (uint8, non-zero = fill); the other pixels are returned unchanged.

    Works on a crop around the mask. Telea's cost grows with the masked area, so large areas (big or close
    objects) are filled at half resolution and upsampled: the vacated surface is smooth at that scale anyway.
    """
    rows, cols = np.nonzero(mask)
    if rows.size == 0:
        return rgb
    margin = 2 * INPAINT_RADIUS_PX + 2
    top, bottom = max(rows.min() - margin, 0), min(rows.max() + margin + 1, rgb.shape[0])
    left, right = max(cols.min() - margin, 0), min(cols.max() + margin + 1, rgb.shape[1])
    crop, crop_mask = rgb[top:bottom, left:right], mask[top:bottom, left:right]
    if rows.size <= HALF_RESOLUTION_INPAINT_PX:
        filled = cv2.inpaint(np.ascontiguousarray(crop), crop_mask, INPAINT_RADIUS_PX, cv2.INPAINT_TELEA)
    else:
        size = (crop.shape[1] // 2, crop.shape[0] // 2)
        small_mask = cv2.resize(crop_mask, size, interpolation=cv2.INTER_AREA) > 0
        small = cv2.inpaint(
            cv2.resize(crop, size, interpolation=cv2.INTER_AREA),
            small_mask.astype(np.uint8),
            (INPAINT_RADIUS_PX + 1) // 2,
            cv2.INPAINT_TELEA,
        )
        filled = cv2.resize(small, (crop.shape[1], crop.shape[0]), interpolation=cv2.INTER_LINEAR)
    result = rgb.copy()
    result[top:bottom, left:right] = np.where(crop_mask[..., None] > 0, filled, crop)
    return result
