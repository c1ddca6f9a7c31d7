"""Scene-free render-and-compare (any row with a source depth map: real RGB-D captures, or synthetic rows scored as
if they were photographs): the search of :mod:`gsi_metrics.perception.render_compare` over the target's
support-plane shift, yaw and scale, with each hypothesis drawn from the source view itself instead of a stored scene.

What a hypothesis looks like (2.5D, at the comparison size: half the image's, or a third or a quarter of it for a target
that covers more than 6,400 or 14,400 source pixels, :func:`compare_divisor`; a hypothesis costs in proportion to the
pixels its target covers, and a near object keeps its detail at a coarser size):

- **The target** is its own source pixels lifted with the source depth (every source pixel at half size, every second
  one across and down at a third or a quarter; not a pixel whose depth lifts it off the target's box, an outline pixel
  that holds the depth of what lies behind), completed behind by their mirror image, where the source view could not
  have seen it (the back of an object is unseen; its front mirrored is the likeliest guess for a turn that shows it: a
  teapot turned half a turn shows its spout on the other side; and it gives a turned object its full footprint). The
  mirror is the vertical plane across the line of sight where that keeps the image on the box (a body of revolution:
  its seen half maps onto its unseen half), else the box's vertical side plane that faces the camera most (a box maps
  onto itself). The points are moved as hypothesised (turned about the vertical through the box
  centre, scaled about the centre's foot on the support, shifted on the support), projected with K into the edited
  image's camera and drawn nearest-first; pixels between the drawn points of an enlarged target are filled from their
  neighbours. A turned target is drawn one of two ways, whichever explains the image better over the search's yaw
  sweep (:meth:`SceneFreeComparer._choose_appearance`): with its source colours (its shading turns with it: right for
  a print or a box's faces), or relit with the light left where it is (:class:`Light`, fitted to the seen points'
  brightness against their normals from the depth map's slopes: a kettle's body turned looks as it did, and only its
  handle and spout move).
- **Everything else** is the source image with the target's pixels inpainted (Telea), at the depth of the source depth
  map, the support plane where the target was: other objects in front of the target hide it. A moved camera sees it
  re-projected point by point (holes inpainted).

As with a stored scene, changes are compared, not images: the change a hypothesis makes to the drawing of "no change"
against the change the editor made to the source image. The first is the background's change (the source view without
the target, computed once) plus the difference the drawn target makes to it, so a hypothesis costs only the pixels its
drawing reaches once smoothed; elsewhere the distance is the background's. A pixel that shows the guessed back costs
at most what the unchanged view costs there: its wrong details are not charged twice (the colour drawn and the one
missed), which would make "no turn" explain any turn that shows a surface the source never saw better than the turn
itself. So does a turned drawing's row gap between its drawn points (within the target's width and depth, not hidden
by anything nearer): there it shows the surfaces the source saw edge-on, which no point stands for (the gap keeps the
background).

The world frame of the search has z along the support normal, its origin at the foot of the target's box centre, and x
along the camera's right. A generator may draw the target mirrored left to right, which the search can only read as a
turn: the turn's evidence is measured against the target unturned and its mirror image unturned, whichever explains the
image better (:meth:`SceneFreeComparer.unturned_cost`).

A drawing can explain pixels that are not the target's: another object moved or removed uncovers a surface that the
target's colours, enlarged and moved over it, happen to match better than nothing. Where a turn or a scaling is asked,
such a reading, whose target does not look like the image where it shows (:meth:`SceneFreeComparer.target_residual`
over ``MISMATCH_TOLERANCE``), gives way to the target's own place fitted in turn and scale alone, when that target does
and it explains the image nearly as well (not for a move: a re-coloured moved target does not look like the image
either, and its own place is no answer).

**A row with the target's annotated mesh** (a real row from a scan: :attr:`~gsi_metrics.sample.SourceView.target_mesh`)
draws the target from the mesh instead (``method`` ``mesh``): points spread over its surface, the ones the source
image shows coloured by it, the others by the scan's colours mapped into the image's (a line per channel fitted on the
shown points), and only the surfaces that face the camera drawn. The shape and the far side are then the scan's, not
a mirror image; the far side's colours are the scan's guess, so its pixels cost at most what the unchanged view costs
there, as the mirrored back's do (a scan's colours, lit where the scanner saw them, differ from the photograph's where
the shape is right). Where the row also carries its neighbours' meshes (the other instances' faces around and behind the
target), the background where the target was is drawn from them (nearest first, coloured as the target's mesh is)
instead of inpainted, except where the scan cannot know it: what the target stood on or covered, and scan colours the
same surface does not show in the photograph (made up where the scan saw nothing); those pixels are inpainted, at the
drawn surface's depth. Everything else is as below.

What it cannot see: surfaces the source view never showed (the mirror image stands in for them), the true background
behind a moved target (the inpainting stands in for it, or a scan's neighbour meshes where the row has them), and
other objects' exact shapes (only their depth in the source view). The surfaces a target can stand on are its own
support and, for a placement on a receptacle (RP), the receptacle's usable surface from the row (a source-side fact,
like the target's box); an edit that puts the target on any other raised surface (a shelf nobody named) is placed on
the support plane along the line of sight, so its position is off by how far that surface is above the support.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import cv2
import numpy as np

from gsi_datasets.geometry import ObjectMesh, on_plane, rotation_about_axis, unproject_pixels
from gsi_datasets.operations.object_rotate import visible_differences
from gsi_metrics.functional.locality import INPAINT_RADIUS_PX, object_hole
from gsi_metrics.perception.kernels import (
    draw_points,
    gaussian_taps,
    hypothesis_distance,
    pixels_of,
    smoothed_difference,
)
from gsi_metrics.perception.render_compare import Hypothesis, PoseSearch, ViewFrame, line_fit
from gsi_metrics.sample import Box3D, SourceView

#: Extra depth (m) a target point may lie behind the source depth map and still show (the map's own noise).
_DEPTH_TOLERANCE_M = 0.01
#: Where a turn or a scaling is asked, a best reading whose drawn target differs from the edited image by more than this
#: median residual (summed RGB levels of the smoothed changes) where it shows is explaining another object's change
#: with the target: the target's own place competes (:meth:`~gsi_metrics.perception.render_compare.PoseSearch.search`).
#: A found target's residual is about 5-10; the target stretched over another object's change, 80-90.
MISMATCH_TOLERANCE = 40.0
#: The turns :meth:`SceneFreeComparer.turn_distinctness` compares, every this many degrees.
TURN_GRID_DEG = 15.0
#: A receptacle's surface at most this far (m) above or below the target's own support is that support.
_SAME_SURFACE_M = 0.01
#: A target's annotated mesh is drawn with at most this many points.
_MOST_MESH_POINTS = 60_000
#: A mesh point within this distance (m) of the source depth, on the target's pixels, is shown by the source image.
_MESH_DEPTH_TOLERANCE_M = 0.03
#: The scan's colours are mapped into the image's when the image shows at least this many mesh points.
_MIN_SEEN_POINTS = 20
#: A hidden mesh point's scan colour is familiar within this many levels of the shown points' range, in every channel.
_FAMILIAR_LEVELS = 8.0
#: A neighbour's surface within this much (m) of the target's box was covered by the target: no scan saw it.
_COVERED_MARGIN_M = 0.01
#: A target pixel whose depth lifts it further than this (m) outside the target's box is not on the target
#: (:func:`_on_target_box`): a capture's depth noise and a box annotated a little tight stay within it.
_BOX_MARGIN_M = 0.02
#: The seen points mirrored across the line of sight stand for the back (:meth:`SceneFreeComparer._mirror_normal`)
#: when at most this fraction of them lands further than ``_MIRROR_OFF_BOX_M`` (m) outside the target's box.
_MOST_MIRRORED_OFF_BOX = 0.05
_MIRROR_OFF_BOX_M = 0.01
#: The projection of no point (:meth:`SceneFreeComparer._hypothesis_projection`): the target gone.
_NO_POINTS = (
    np.zeros(0, np.int64),
    np.zeros(0, np.int64),
    np.zeros(0),
    np.zeros(0, np.int64),
    np.zeros((0, 3), np.float32),
    0,
)
#: A relit colour is at most this many times brighter or darker than the one it was seen in (:class:`Light`).
_MOST_RELIGHTING = 2.0
#: The source depth is smoothed over this many pixels before its slopes give the target's normals.
_NORMAL_SMOOTHING_PX = 2.0
#: A target is compared at the finest size (the image's over 2, 3 or 4) at which it covers at most this many comparison
#: pixels in the source view (:func:`compare_divisor`).
_MOST_TARGET_COMPARE_PX = 1600


def compare_divisor(target_pixels: int) -> int:
    """How many times smaller than the image a target of ``target_pixels`` source pixels is compared: 2, or 3 or 4 for
    a large one, so that it covers at most ``_MOST_TARGET_COMPARE_PX`` comparison pixels where it can (a hypothesis
    costs in proportion to the pixels it draws; a near object keeps its detail at a coarser resolution)."""
    return int(np.clip(np.ceil(np.sqrt(target_pixels / _MOST_TARGET_COMPARE_PX)), 2, 4))


def support_frame(view: SourceView) -> tuple[np.ndarray, np.ndarray]:
    """``(W, foot)``: the world frame of a scene-free search as the rotation ``W`` (rows: world x, y, z in camera
    coordinates; z is the support normal, x the camera's right along the support) and the origin ``foot`` (camera
    frame), the foot of the target box centre on the support plane: ``world = W @ (camera - foot)``."""
    normal = np.asarray(view.support_normal, float)
    normal = normal / np.linalg.norm(normal)
    right = on_plane(np.array([1.0, 0.0, 0.0]), normal)
    right /= np.linalg.norm(right)
    rotation = np.stack([right, np.cross(normal, right), normal])
    centre = view.target_box.centre
    foot = centre - (normal @ centre + view.support_offset_m) * normal
    return rotation, foot


def _height_along(box: Box3D, normal: np.ndarray) -> float:
    """The box's extent along ``normal``."""
    return float(np.sum(np.abs(box.size * (box.rotation.T @ normal))))


def _inner_radius(box: Box3D, normal: np.ndarray) -> float:
    """Half the smaller of the box's two sides across ``normal``."""
    across = np.abs(box.rotation.T @ normal) < 0.7
    sides = box.size[across] if across.sum() == 2 else np.sort(box.size)[:2]
    return 0.5 * float(np.min(sides))


def support_plane_depth(view: SourceView, pixels: np.ndarray) -> np.ndarray:
    """Depth (m) at which the ray of each of the ``pixels`` (a boolean mask) meets the support plane (infinite where it
    never does)."""
    rows, columns = np.nonzero(pixels)
    rays = np.column_stack([columns, rows, np.ones_like(columns)]).astype(np.float64) @ np.linalg.inv(view.intrinsics).T
    along = rays @ view.support_normal
    with np.errstate(divide="ignore", invalid="ignore"):
        depth = -view.support_offset_m / along
    return np.where(np.isfinite(depth) & (depth > 0), depth, np.inf).astype(np.float32)


def _brightness(coefficients: np.ndarray, normals: np.ndarray) -> np.ndarray:
    """The brightness ``a + b . n`` of a :class:`Light` of ``coefficients`` on ``normals``, at least max(a, 1) / 10."""
    return np.maximum(coefficients[0] + normals @ coefficients[1:], 0.1 * max(coefficients[0], 1.0))


class Light(NamedTuple):
    """How the target is lit, for drawing it turned with the light left where it is: brightness ``a + b . n`` on a
    surface of normal ``n`` (world frame; ``coefficients`` ``[a, b_x, b_y, b_z]``, a first-order spherical-harmonic
    light fitted to the target's seen points), and the brightness each point's colour was seen in (``source``). A turned
    point's colour is scaled by the brightness of its turned normal over ``source``."""

    coefficients: np.ndarray
    source: np.ndarray

    @classmethod
    def fitted(cls, normals: np.ndarray, colours: np.ndarray, seen: np.ndarray, lit_by: np.ndarray) -> Light:
        """Fitted to the brightness of the ``seen`` points, twice, the second time without the points the first fit
        explains worst (a print, a highlight); each point's colour was seen with the normal ``lit_by``. No light
        (``[1, 0, 0, 0]``: nothing relit) for fewer than 20 seen points."""
        if seen.sum() < 20:
            return cls(np.array([1.0, 0.0, 0.0, 0.0]), np.ones(len(normals)))
        brightness = colours[seen].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
        design = np.column_stack([np.ones(int(seen.sum())), normals[seen]])
        kept = np.ones(len(design), bool)
        for _ in range(2):
            coefficients, *_ = np.linalg.lstsq(design[kept], brightness[kept], rcond=None)
            residual = np.abs(design @ coefficients - brightness)
            kept = residual <= max(2.5 * float(np.median(residual)), 1.0)
        return cls(coefficients, _brightness(coefficients, lit_by))

    def brightness(self, normals: np.ndarray) -> np.ndarray:
        """The light's brightness on ``normals``, at least a tenth of its mean."""
        return _brightness(self.coefficients, normals)

    def relit(self, colours: np.ndarray, turned_normals: np.ndarray) -> np.ndarray:
        """``colours`` as seen with the points' normals turned to ``turned_normals``."""
        ratio = np.clip(self.brightness(turned_normals) / self.source, 1.0 / _MOST_RELIGHTING, _MOST_RELIGHTING)
        return np.clip(colours * ratio[:, None].astype(np.float32), 0.0, 255.0)


class SceneFreeComparer(PoseSearch):
    """Scores hypotheses about the target with 2.5D drawings of the source view (see module docstring)."""

    def __init__(
        self,
        sample: SourceView,
        edited: np.ndarray,
        camera_delta: np.ndarray | None = None,
        smoothing_px: float = 1.5,
        point_density: int = 2,
        **search: Any,
    ) -> None:
        """``search``: the options of :class:`~gsi_metrics.perception.render_compare.PoseSearch`."""
        if sample.target_box is None:
            raise ValueError(f"sample {sample.sample_id} has no target to search for")
        #: What draws the target (recorded per sample): its annotated mesh, or its source pixels alone.
        self.method = "mesh" if sample.target_mesh is not None else "scene-free"
        world, foot = support_frame(sample)
        self._world, self._foot = world, foot
        motion = np.eye(4) if camera_delta is None else np.asarray(camera_delta, float)
        edited_from_source = motion[:3, :3]
        # The edited camera's centre in the source camera frame, and its rotation into the world.
        centre = -edited_from_source.T @ motion[:3, 3]
        self.frame = ViewFrame(world @ (centre - foot), world @ edited_from_source.T, np.asarray(sample.intrinsics))
        self.source_rotation = world
        box = sample.target_box
        self.target_centre = world @ (box.centre - foot)
        self.target_height = _height_along(box, sample.support_normal)
        self.support_height = 0.0
        self._target_radius = _inner_radius(box, sample.support_normal)
        self._namesakes = [
            ((world @ (other.centre - foot))[:2], _inner_radius(other, sample.support_normal))
            for other in sample.distractor_boxes
        ]
        self._neighbours = list(self._namesakes)
        self._receptacle = _receptacle_surface(sample, world, foot)
        search.setdefault("divisor", compare_divisor(int(np.count_nonzero(sample.target_mask))))
        # The target's own place is the other reading worth weighing only where the instruction asks for a change in
        # place (the operation is no secret): a moved target recoloured by its generator does not look like the image
        # where it now stands either, and its own place is no answer.
        search.setdefault("mismatch_tolerance", MISMATCH_TOLERANCE if sample.in_place_asked else None)
        super().__init__(sample, edited, camera_delta=camera_delta, **search)
        self._motion = motion
        #: (yaw, scale index) -> the linear parts of :meth:`_hypothesis_projection`'s map into the edited camera.
        self._linear_parts: dict[tuple[float, int], tuple[np.ndarray, ...]] = {}
        self._intrinsics_small = np.asarray(sample.intrinsics, float).copy()
        self._intrinsics_small[:2] /= self.divisor
        self._intrinsics_small[:2, 2] -= 0.5 * (1.0 - 1.0 / self.divisor)  # pixel centres of the reduced image
        self.point_density = point_density
        #: The source image as compared (blurred like the edited image), full size: what lifted and mesh points take.
        self._source_blurred = self._blurred(sample.image.astype(np.float32))
        self._points, self._colours, self._normals, self._light, self._first_guessed = self._target_points(sample)
        # A turned drawing's row gaps are unseen surface (:func:`~gsi_metrics.perception.kernels.draw_points`): up to
        # the target's width in the source view, between points no further apart in depth than its box's diagonal.
        columns = np.flatnonzero(sample.target_mask.any(axis=0))
        self._widest_gap = max(2, int((columns[-1] - columns[0] + 1) / self.divisor)) if columns.size else 0
        self._deepest_gap = float(np.linalg.norm(sample.target_box.size))
        # A mesh's normals are exact: its faces turned away from the camera are not drawn. A depth map's are only good
        # enough to light the target by.
        self._cull_back_faces = sample.target_mesh is not None
        #: Whether turned drawings are relit by :attr:`_light` (:meth:`_choose_appearance`), and their colours per yaw.
        self._relit = False
        self._relit_colours: dict[float, np.ndarray] = {}
        background, background_depth = self._background(sample)
        self._source_background, self._source_depth = background, background_depth
        unmoved = Hypothesis(0.0, 0.0, 0.0, self.identity_index)
        self._reference, _ = self._draw(background, background_depth, self._hypothesis_projection(unmoved, np.eye(4)))
        if camera_delta is None:
            self._background_image, self._background_depth = background, background_depth
            self._unchanged = self._reference
        else:
            self._background_image, self._background_depth = self._reprojected(background, background_depth)
            self._unchanged, _ = self._draw(
                self._background_image, self._background_depth, self._hypothesis_projection(unmoved)
            )
        # Changes are compared smoothed: a drawing from the source's own pixels is never registered to the pixel, and
        # unsmoothed, any turned or rescaled drawing pays for that everywhere while "no change" pays nothing.
        self.smoothing_px = smoothing_px
        self._smoothing_taps = gaussian_taps(smoothing_px)
        self._observed = self._smoothed(self.observed_change)
        distance = np.minimum(
            np.abs(self._smoothed(self._unchanged - self._reference) - self._observed).sum(axis=2), self.truncation
        )
        #: The unchanged view's distance per pixel (what a guessed pixel costs at most).
        self._unchanged_distance = distance.astype(np.float64)
        #: The background's smoothed change, and its distance's summed-area table (the cost where a drawing leaves the
        #: background as it is: :func:`~gsi_metrics.perception.kernels.hypothesis_distance`).
        self._background_change = smoothed_difference(self._background_image, self._reference, self._smoothing_taps)
        self._background_distance = cv2.integral(
            np.minimum(np.abs(self._background_change - self._observed).sum(axis=2), self.truncation)
        )

    def close(self) -> None:
        """Nothing to release (the method of every comparer)."""

    def _smoothed(self, change: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(change, (0, 0), self.smoothing_px) if self.smoothing_px > 0 else change

    # -- the drawing -------------------------------------------------------------------------------------------

    def _target_points(self, sample: SourceView) -> tuple[np.ndarray, np.ndarray, np.ndarray, Light | None, int]:
        """The target's points in the world frame, their colours (the source image as compared: blurred like the
        edited image), their surface normals, their :class:`Light` and the index of the first guessed point (the points
        after it stand for surfaces the source never saw): from its annotated mesh where the row has one (no light:
        relighting its turns lost mesh-path turns on simulated scans; the points the image does not show are guessed:
        their colours are the scan's, mapped), else lifted from the source view (normals from the depth map's slopes;
        the mirrored back guessed)."""
        if sample.target_mesh is not None:
            points, colours, normals, shown, _ = self._mesh_points(sample, sample.target_mesh, sample.target_mask)
            order = np.argsort(~shown, kind="stable")  # the points the image shows first
            world_points, world_normals = (points[order] - self._foot) @ self._world.T, normals[order] @ self._world.T
            return world_points, colours[order], world_normals, None, int(shown.sum())
        return self._lifted_points(sample)

    def _mesh_points(
        self, sample: SourceView, mesh: ObjectMesh, shows: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Points spread over an annotated ``mesh`` (about ``point_density`` per comparison pixel across, at its
        depth), in the source camera frame, with colours, normals, whether the source image shows each and whether
        each is familiar. A point the image shows (it projects onto the pixels ``shows`` at the source depth) takes
        the image's colour there; the others, the surfaces the image does not show, take the scan's vertex colour
        mapped into the image's colours by a line per channel fitted on the points it shows. Familiar: shown, or of a
        scan colour within the range of the shown points' scan colours (``_FAMILIAR_LEVELS`` wider; any when too few
        are shown), not one the scan made up where it saw nothing."""
        intrinsics = np.asarray(sample.intrinsics, float)
        depth = float(np.median(mesh.vertices[:, 2])) if len(mesh.vertices) else 1.0
        spacing = max(depth, 0.05) * self.divisor / (intrinsics[0, 0] * self.point_density)
        points, scan_colours, normals = mesh.surface_samples(spacing, _MOST_MESH_POINTS)
        height, width = sample.depth_m.shape
        u, v, z, shown = _projected(points, intrinsics, width, height)
        seen_depth = sample.depth_m[v, u]
        shows = shows[v, u] & (seen_depth > 0) & (np.abs(z - seen_depth) <= _MESH_DEPTH_TOLERANCE_M)
        seen = shown[shows]
        image = self._source_blurred
        colours = scan_colours.astype(np.float32)
        familiar = np.ones(len(points), bool)
        if seen.size >= _MIN_SEEN_POINTS:
            observed = image[v[shows], u[shows]]
            for channel in range(3):
                x, y = scan_colours[seen, channel], observed[:, channel].astype(np.float64)
                slope, intercept = line_fit(len(x), x.sum(), y.sum(), x @ x, x @ y)  # one scan colour: shifted only
                colours[:, channel] = np.clip(slope * scan_colours[:, channel] + intercept, 0, 255)
                low, high = np.percentile(x, [1, 99])
                familiar &= np.abs(scan_colours[:, channel] - np.clip(scan_colours[:, channel], low, high)) <= (
                    _FAMILIAR_LEVELS
                )
        colours[seen] = image[v[shows], u[shows]]
        familiar[seen] = True
        is_seen = np.zeros(len(points), bool)
        is_seen[seen] = True
        return points, colours.astype(np.float32), normals, is_seen, familiar

    def _lifted_points(self, sample: SourceView) -> tuple[np.ndarray, np.ndarray, np.ndarray, Light, int]:
        """The target's lifted source pixels (about ``point_density`` per comparison pixel across) and their mirror
        images behind, in the world frame, with their colours, normals (the depth map's slopes, mirrored for the
        images), :class:`Light` and the index of the first mirror image (the seen points come first)."""
        step = max(1, round(self.divisor / self.point_density))
        mask = _on_target_box(sample)
        rows, columns = np.nonzero(mask[::step, ::step])
        rows, columns = rows * step + step // 2, columns * step + step // 2
        rows, columns = np.minimum(rows, mask.shape[0] - 1), np.minimum(columns, mask.shape[1] - 1)
        keep = mask[rows, columns]
        rows, columns = rows[keep], columns[keep]
        if rows.size == 0:
            rows, columns = np.nonzero(mask)
        pixels = np.column_stack([columns, rows]).astype(np.float64)
        points = unproject_pixels(sample.intrinsics, pixels, sample.depth_m[rows, columns].astype(np.float64))
        world = (points - self._foot) @ self._world.T
        normals = _depth_normals(sample, mask, rows, columns) @ self._world.T
        image = self._source_blurred
        colours = image[rows, columns]
        # The unseen back: the seen surface mirrored front to back (a turned object shows its far side as its near
        # side mirrored), kept where the source view could not have seen it (behind what it shows).
        facing = self._mirror_normal(sample, world)
        back = world - 2.0 * ((world - self.target_centre) @ facing)[:, None] * facing
        in_source = back @ self._world + self._foot
        u, v, z, shown = _projected(in_source, np.asarray(sample.intrinsics, float), mask.shape[1], mask.shape[0])
        hidden = np.ones(len(back), bool)
        source_depth = sample.depth_m[v, u]
        hidden[shown] = (source_depth <= 0) | (z > source_depth + _DEPTH_TOLERANCE_M)
        back_normals = normals - 2.0 * (normals @ facing)[:, None] * facing
        lifted = len(world)  # the seen points come first
        seen = np.arange(lifted + int(hidden.sum())) < lifted
        world = np.concatenate([world, back[hidden]])
        colours = np.concatenate([colours, colours[hidden]]).astype(np.float32)
        # A mirror image's colour was seen with its original's normal.
        lit_by = np.concatenate([normals, normals[hidden]])
        normals = np.concatenate([normals, back_normals[hidden]])
        return world, colours, normals, Light.fitted(normals, colours, seen, lit_by), lifted

    def _mirror_normal(self, sample: SourceView, seen: np.ndarray) -> np.ndarray:
        """The normal (world frame, horizontal) of the vertical plane through the box centre that the ``seen`` points
        are mirrored through to stand for the unseen back: across the line of sight, where that mirror image stays on
        the target's box (a body of revolution maps onto itself through any vertical plane through its axis, and
        only the plane across the line of sight maps the half the source saw onto the half it did not); else the
        box's vertical side plane that faces the camera most (a box maps onto itself through it, and a box seen
        at an angle, mirrored across the line of sight, would stick out of itself at the corners)."""
        sight = self.target_centre - self.frame.position
        across = _horizontal_unit(sight)
        mirrored = seen - 2.0 * ((seen - self.target_centre) @ across)[:, None] * across
        on_box = _within_box(mirrored @ self._world + self._foot, sample.target_box, _MIRROR_OFF_BOX_M)
        if seen.size and 1.0 - on_box.mean() <= _MOST_MIRRORED_OFF_BOX:
            return across
        axes = self._world @ sample.target_box.rotation  # the box's axes in the world frame (columns)
        horizontal = [axis for axis in axes.T if abs(axis[2]) < 0.7] or [np.array([1.0, 0.0, 0.0])]
        return _horizontal_unit(max(horizontal, key=lambda axis: abs(float(axis @ sight))))

    def _background(self, sample: SourceView) -> tuple[np.ndarray, np.ndarray]:
        """The source view without the target (comparison size): where the target was, the neighbours' annotated
        surfaces it hides where the row has them (:meth:`_draw_uncovered`), the rest inpainted and at the support
        plane's depth."""
        hole = object_hole(sample.target_mask)
        image = self.source_image.copy()  # the source as compared, at the comparison size
        small_hole = cv2.resize(hole.astype(np.uint8), self.compare_size, interpolation=cv2.INTER_AREA) > 0
        depth = sample.depth_m.astype(np.float32)  # a copy
        depth[hole] = support_plane_depth(sample, hole)
        depth = np.where(depth > 0, depth, np.inf).astype(np.float32)
        small = cv2.resize(depth, self.compare_size, interpolation=cv2.INTER_NEAREST)
        # Inpainted at the comparison size (a quarter of the pixels to fill): every pixel the hole touches and no
        # neighbour's surface covers.
        unknown = small_hole & ~self._draw_uncovered(sample, image, small, small_hole)
        filled = cv2.inpaint(
            np.clip(np.rint(image), 0, 255).astype(np.uint8),
            unknown.astype(np.uint8),
            max(1, round(INPAINT_RADIUS_PX / self.divisor)),
            cv2.INPAINT_TELEA,
        )
        image[unknown] = filled[unknown]
        return image, small

    def _draw_uncovered(self, sample: SourceView, image: np.ndarray, depth: np.ndarray, hole: np.ndarray) -> np.ndarray:
        """Draws the neighbours' annotated surfaces (:attr:`~gsi_metrics.sample.SourceView.neighbour_meshes`) into the
        comparison-size ``image`` and ``depth`` within ``hole``, nearest first, their faces turned away from the camera
        left out; returns the pixels drawn (none for a row without neighbour meshes). A pixel whose nearest surface the
        scan cannot know is not drawn, but takes that surface's depth: what the target stood on or covered (within
        ``_COVERED_MARGIN_M`` of its box), or of an unfamiliar colour (:meth:`_mesh_points`)."""
        drawn = np.zeros(hole.shape, bool)
        if not sample.neighbour_meshes:
            return drawn
        points, colours, known = [], [], []
        box = sample.target_box
        for mesh in sample.neighbour_meshes:
            mesh_points, mesh_colours, normals, _, familiar = self._mesh_points(sample, mesh, ~sample.target_mask)
            front = np.einsum("nd,nd->n", normals, mesh_points) < 0
            covered = _within_box(mesh_points[front], box, _COVERED_MARGIN_M)
            points.append(mesh_points[front])
            colours.append(mesh_colours[front])
            known.append(familiar[front] & ~covered)
        height, width = hole.shape
        u, v, z, shown = _projected(np.concatenate(points), self._intrinsics_small, width, height)
        inside = hole[v, u]
        order = np.argsort(-z[inside])  # the farthest first: nearer points draw over them
        u, v, z = u[inside][order], v[inside][order], z[inside][order]
        drawn_points = shown[inside][order]  # the indices into the concatenated points, in drawing order
        depth[v, u] = z
        drawn[v, u] = np.concatenate(known)[drawn_points]
        nearest = np.zeros(hole.shape, np.int64)  # per pixel, the index of the nearest point (drawn last)
        nearest[v, u] = np.arange(len(v))
        image[drawn] = np.concatenate(colours)[drawn_points][nearest[drawn]]
        return drawn

    def _reprojected(self, image: np.ndarray, depth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The background seen from the moved camera: every comparison pixel re-projected, nearest first; the holes
        inpainted (their depth: none, so the target shows there)."""
        height, width = depth.shape
        rows, columns = np.nonzero(np.isfinite(depth))
        pixels = np.column_stack([columns, rows]).astype(np.float64)
        points = unproject_pixels(self._intrinsics_small, pixels, depth[rows, columns].astype(np.float64))
        moved = points @ self._motion[:3, :3].T + self._motion[:3, 3]
        u, v, z, shown = _projected(moved, self._intrinsics_small, width, height)
        order = np.argsort(-z)
        warped = np.zeros_like(image)
        warped_depth = np.full(depth.shape, np.inf, np.float32)
        drawn = np.zeros(depth.shape, np.uint8)
        source_rows, source_columns = rows[shown][order], columns[shown][order]
        warped[v[order], u[order]] = image[source_rows, source_columns]
        warped_depth[v[order], u[order]] = z[order]
        drawn[v[order], u[order]] = 1
        holes = (1 - drawn).astype(np.uint8)
        if holes.any():
            warped = cv2.inpaint(np.clip(warped, 0, 255).astype(np.uint8), holes, 3, cv2.INPAINT_TELEA)
        return warped.astype(np.float32), warped_depth

    def _hypothesis_projection(
        self, hypothesis: Hypothesis, motion: np.ndarray | None = None, mirrored: bool = False
    ) -> tuple[np.ndarray, ...]:
        """:func:`_projected` of the target's points under ``hypothesis`` into the comparison image of the camera
        after ``motion`` (the edited image's by default): turned about the vertical through the box centre (the world
        origin's vertical), scaled about the origin (the centre's foot on the support), shifted on the support, and
        taken to that camera, all as one affine map of the points. ``mirrored``: the target's mirror image left to right
        (through the vertical plane through its centre along the camera's view), as a generator may draw it."""
        key = None if motion is not None else (hypothesis.yaw_deg, hypothesis.scale_index)
        motion = self._motion if motion is None else motion
        # The turn and scale's part of the map, the same for every shift (the search tries many at each).
        linear_parts = self._linear_parts.get(key) if key is not None else None
        if linear_parts is None:
            turn = rotation_about_axis(np.array([0.0, 0.0, 1.0]), hypothesis.yaw_deg)
            rotation = motion[:3, :3] @ self._world.T
            linear = float(self.scales[hypothesis.scale_index]) * rotation @ turn
            linear_parts = rotation, linear, self._intrinsics_small @ linear, rotation @ turn
            if key is not None:
                self._linear_parts[key] = linear_parts
        rotation, linear, projective, turned = linear_parts
        shift = np.array([hypothesis.dx_m, hypothesis.dy_m, self._lift(hypothesis)])
        offset = rotation @ shift + motion[:3, :3] @ self._foot + motion[:3, 3]
        # Straight to homogeneous pixels: K times the affine map, applied once to the points.
        width, height = self.compare_size
        points, normals = self._points, self._normals
        if mirrored:  # through the plane x = 0 of the world frame (x is the camera's right)
            flip = np.array([-1.0, 1.0, 1.0])
            points, normals = points * flip, normals * flip
        u, v, z, shown = pixels_of(points, projective, self._intrinsics_small @ offset, width, height)
        colours = self._turned_colours(hypothesis.yaw_deg)
        widest_gap = self._widest_gap if hypothesis.yaw_deg % 360.0 != 0.0 and not self._cull_back_faces else 0
        if not self._cull_back_faces:
            return u, v, z, shown, colours, widest_gap
        # A mesh's surfaces that face away from the camera are hidden by the rest of it: drawn, they would show through
        # wherever the points in front are sparse.
        in_camera = points[shown] @ linear.T + offset
        facing = np.einsum("nd,nd->n", normals[shown] @ turned.T, in_camera) < 0
        return u[facing], v[facing], z[facing], shown[facing], colours, widest_gap

    def _turned_colours(self, yaw_deg: float) -> np.ndarray:
        """The target's colours turned by ``yaw_deg``: relit by its :class:`Light` when :meth:`_choose_appearance`
        chose so, else as seen."""
        if not self._relit or yaw_deg % 360.0 == 0.0:
            return self._colours
        colours = self._relit_colours.get(yaw_deg)
        if colours is None:
            turn = rotation_about_axis(np.array([0.0, 0.0, 1.0]), yaw_deg)
            colours = self._light.relit(self._colours, self._normals @ turn.T)
            self._relit_colours[yaw_deg] = colours
        return colours

    def _choose_appearance(self, sweep: list[Hypothesis]) -> None:
        """Whether a turned target keeps its shading (a print, a box's faces) or the light stays where it is (a body of
        revolution, whose shading does not turn with it): the one whose ``sweep`` explains the image better."""
        if self._light is None:
            return
        plain = min(self.cost(h) for h in sweep)
        kept = dict(self._costs), dict(self._asked_costs)
        self._relit = True
        # An unturned target is drawn as seen either way: its costs stay.
        self._costs = {key: cost for key, cost in self._costs.items() if key[0].yaw_deg % 360.0 == 0.0}
        self._asked_costs = {key: cost for key, cost in self._asked_costs.items() if key[0].yaw_deg % 360.0 == 0.0}
        if min(self.cost(h) for h in sweep) >= plain:
            self._relit = False
            self._costs, self._asked_costs = kept

    def _draw(
        self,
        background: np.ndarray,
        depth: np.ndarray,
        projection: tuple[np.ndarray, ...],
        window: tuple[int, int, int, int] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """``background`` (or its ``window``) with the target's points, as ``projection``
        (:meth:`_hypothesis_projection`), drawn over it where nothing nearer hides them, nearest first, the gaps between
        the drawn points of an enlarged or turned target closed and coloured from their drawn neighbours; and the pixels
        the target shows at (:func:`~gsi_metrics.perception.kernels.draw_points`)."""
        height, width = depth.shape
        left, top, right, bottom = window or (0, 0, width, height)
        u, v, z, shown, colours, _ = projection
        image, shows, _ = draw_points(
            background,
            depth,
            u,
            v,
            z,
            shown,
            colours,
            left,
            top,
            right,
            bottom,
            _DEPTH_TOLERANCE_M,
            len(colours),
            0,
            0.0,
        )
        return image, shows

    # -- the search's questions ----------------------------------------------------------------------------------

    def cost(self, hypothesis: Hypothesis, exact: bool = False) -> float:
        """As the search's (a 2.5D drawing has one size: ``exact`` changes nothing)."""
        return super().cost(hypothesis, False)

    def _hypothesis_distance(self, hypothesis: Hypothesis, exact: bool) -> float:
        return self._distance(self._hypothesis_projection(hypothesis))

    def _distance(self, projection: tuple[np.ndarray, ...] | None) -> float:
        """Mean truncated L1 distance between the change of the drawing with the target's points as ``projection``
        (:meth:`_hypothesis_projection`; None: no target) and the observed change; where the drawn target's
        difference does not reach, the background's (:func:`~gsi_metrics.perception.kernels.hypothesis_distance`)."""
        u, v, z, shown, colours, widest_gap = _NO_POINTS if projection is None else projection
        return hypothesis_distance(
            u,
            v,
            z,
            shown,
            colours,
            self._background_image,
            self._background_depth,
            self._background_change,
            self._observed,
            self._background_distance,
            self._unchanged_distance,
            self._smoothing_taps,
            self.truncation,
            _DEPTH_TOLERANCE_M,
            self._first_guessed,
            widest_gap,
            self._deepest_gap,
        )

    def _camera_motion_change(self) -> np.ndarray:
        return self._unchanged - self._reference

    def unturned_cost(self, hypothesis: Hypothesis) -> float:
        """The cheaper of the search's and of the target's mirror image unturned: a generator that draws the target
        mirrored has not turned it, however well a turn explains the mirror image."""
        unturned = dataclasses.replace(hypothesis, yaw_deg=0.0)
        mirrored = self._distance(self._hypothesis_projection(unturned, mirrored=True)) + self._prior(unturned)
        return min(super().unturned_cost(hypothesis), mirrored)

    def moved_centre(self, hypothesis: Hypothesis) -> np.ndarray:
        scale = float(self.scales[hypothesis.scale_index])
        return np.array([hypothesis.dx_m, hypothesis.dy_m, scale * self.target_centre[2] + self._lift(hypothesis)])

    def _other_tops(self) -> list[float]:
        return [] if self._receptacle is None else [self._receptacle[1]]

    def _surface_under(self, position: np.ndarray) -> float:
        """The receptacle's surface height where ``position`` is over it, else the target's own support (0). The usable
        rectangle is where the target's centre may go; the target stands over the surface up to its own half width
        beyond it."""
        if self._receptacle is None:
            return self.support_height
        outline, height = self._receptacle
        over = _over_polygon(outline, np.asarray(position)[:2], self._target_radius)
        return height if over else self.support_height

    def _lift(self, hypothesis: Hypothesis) -> float:
        """How far above its own support the target stands under ``hypothesis`` (on the receptacle's surface)."""
        return self._surface_under(self.target_centre[:2] + (hypothesis.dx_m, hypothesis.dy_m)) - self.support_height

    def removal_cost(self) -> float:
        """The cost of "the target is gone": the background where it was (:meth:`_background`)."""
        return self._distance(None)

    def target_residual(self, hypothesis: Hypothesis) -> float:
        """Median distance between predicted and observed change where the hypothesised target shows."""
        width, height = self.compare_size
        window = (0, 0, width, height)
        drawn, shows = self._draw(
            self._background_image, self._background_depth, self._hypothesis_projection(hypothesis), window
        )
        if not shows.any():
            return float("inf")
        residual = np.abs(self._smoothed(drawn - self._reference) - self._observed).sum(axis=2)
        return float(np.median(residual[shows]))

    def turn_distinctness(self, step_deg: float = TURN_GRID_DEG) -> np.ndarray:
        """How well the source view tells the target's turns apart: entry ``(i, j)`` is the
        :func:`~gsi_datasets.operations.object_rotate.visible_difference` between the target turned in place by ``i``
        and by ``j`` steps of ``step_deg`` (counterclockwise from above), drawn from the source camera. A property of
        the source view alone (what a person shown this view could tell), never of the edit."""
        turns = np.arange(0.0, 360.0, step_deg)
        width, height = self.compare_size
        # Drawn as seen (the shading turning with the target), however the search chose to draw this edit
        # (:meth:`_choose_appearance`): what the view tells, not what explains the edit.
        relit, self._relit = self._relit, False
        try:
            projections = [
                self._hypothesis_projection(Hypothesis(0.0, 0.0, float(turn), self.identity_index), np.eye(4))
                for turn in turns
            ]
        finally:
            self._relit = relit
        # Drawn in one window around every turn's points, with room for the gap closing (a drawing never leaves it).
        window = _bounds_of(projections, width, height, margin=2)
        if window is None:
            return np.zeros((len(turns), len(turns)))
        drawings = [
            self._draw(self._source_background, self._source_depth, projection, window) for projection in projections
        ]
        bounds = [b for b in (_bounds(shows) for _, shows in drawings) if b is not None]
        distinctness = np.zeros((len(turns), len(turns)))
        if not bounds:
            return distinctness
        rows = slice(min(b[1] for b in bounds), max(b[3] for b in bounds))
        columns = slice(min(b[0] for b in bounds), max(b[2] for b in bounds))
        images = np.stack([image[rows, columns] for image, _ in drawings])
        shows = np.stack([shows[rows, columns] for _, shows in drawings])
        for i in range(len(turns) - 1):
            distinctness[i, i + 1 :] = distinctness[i + 1 :, i] = visible_differences(
                images[i], shows[i], images[i + 1 :], shows[i + 1 :]
            )
        return distinctness

    def mask(self, hypothesis: Hypothesis, shape: tuple[int, int]) -> np.ndarray:
        """The target's pixels under ``hypothesis``, at the full image ``shape``."""
        width, height = self.compare_size
        _, shows = self._draw(
            self._background_image,
            self._background_depth,
            self._hypothesis_projection(hypothesis),
            (0, 0, width, height),
        )
        return cv2.resize(shows.astype(np.uint8), (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST) > 0


def _receptacle_surface(sample: SourceView, world: np.ndarray, foot: np.ndarray) -> tuple[np.ndarray, float] | None:
    """The surface an RP instruction names, when it is not the target's own support: its usable rectangle on the
    ground (world xy corners) and its height above the target's support (world z). A source-side fact, like the
    target's box: which receptacle the instruction names, not where on it the target should go."""
    if sample.receptacle_corners is None:
        return None
    corners = (np.asarray(sample.receptacle_corners, float) - foot) @ world.T
    height = float(np.mean(corners[:, 2]))
    if abs(height) <= _SAME_SURFACE_M:
        return None
    return corners[:, :2], height


def _over_polygon(polygon: np.ndarray, point: np.ndarray, margin: float) -> bool:
    """Whether ``point`` lies inside the convex ``polygon`` (corners in order around it) widened by ``margin``."""
    centre = polygon.mean(axis=0)
    for a, b in zip(polygon, np.roll(polygon, -1, axis=0), strict=True):
        edge = b - a
        inward = np.array([-edge[1], edge[0]]) / max(float(np.linalg.norm(edge)), 1e-12)
        if inward @ (centre - a) < 0:
            inward = -inward
        if inward @ (point - a) < -margin:
            return False
    return True


def _projected(
    points: np.ndarray, intrinsics: np.ndarray, width: int, height: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(u, v, depth, shown)``: the integer pixels and depths of the camera-frame ``points`` in front of the camera
    and inside a ``width`` x ``height`` image, and which points those are (their indices)."""
    points = np.ascontiguousarray(points, np.float64)
    return pixels_of(points, np.asarray(intrinsics, np.float64), np.zeros(3), width, height)


def _bounds_of(
    projections: list[tuple[np.ndarray, ...]], width: int, height: int, margin: int
) -> tuple[int, int, int, int] | None:
    """``(left, top, right, bottom)`` around the pixels of every projection (:func:`_projected`), widened by
    ``margin`` and clipped to the ``width`` x ``height`` image (None when no point shows)."""
    shown = [(u, v) for u, v, *_ in projections if u.size]
    if not shown:
        return None
    return (
        max(0, min(int(u.min()) for u, _ in shown) - margin),
        max(0, min(int(v.min()) for _, v in shown) - margin),
        min(width, max(int(u.max()) for u, _ in shown) + 1 + margin),
        min(height, max(int(v.max()) for _, v in shown) + 1 + margin),
    )


def _bounds(shows: np.ndarray) -> tuple[int, int, int, int] | None:
    """``(left, top, right, bottom)`` of the true pixels of ``shows`` (None when there are none)."""
    rows, columns = np.nonzero(shows)
    if rows.size == 0:
        return None
    return (int(columns.min()), int(rows.min()), int(columns.max()) + 1, int(rows.max()) + 1)


def _within_box(points: np.ndarray, box: Box3D, margin_m: float) -> np.ndarray:
    """Which of the camera-frame ``points`` lie inside ``box`` widened by ``margin_m`` on every side."""
    local = np.abs((points - box.centre) @ box.rotation)
    return np.all(local <= np.asarray(box.size) / 2 + margin_m, axis=1)


def _horizontal_unit(vector: np.ndarray) -> np.ndarray:
    """``vector``'s part across the support normal (world frame: its x and y), as a unit vector."""
    return np.array([vector[0], vector[1], 0.0]) / max(float(np.hypot(vector[0], vector[1])), 1e-9)


def _on_target_box(sample: SourceView) -> np.ndarray:
    """The target's pixels whose depth lifts them onto its box (``_BOX_MARGIN_M`` wider): a pixel on the target's
    outline often holds the depth of what lies behind it, and lifted, it would float off the target (metres away,
    seen past a thin part), turning and moving with it. All of the target's pixels with a depth when the box holds
    fewer than half of them (a box annotated off the object, not a few stray depths)."""
    mask = sample.target_mask & (sample.depth_m > 0)
    rows, columns = np.nonzero(mask)
    pixels = np.column_stack([columns, rows]).astype(np.float64)
    points = unproject_pixels(sample.intrinsics, pixels, sample.depth_m[rows, columns].astype(np.float64))
    inside = _within_box(points, sample.target_box, _BOX_MARGIN_M)
    if 2 * inside.sum() < inside.size:
        return mask
    on_box = np.zeros_like(mask)
    on_box[rows[inside], columns[inside]] = True
    return on_box


def _depth_normals(sample: SourceView, mask: np.ndarray, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """Unit surface normals (camera frame, towards the camera) of the source depth map at the pixels ``(rows,
    columns)`` of ``mask``: the cross product of the lifted surface's slopes along the rows and the columns, the depth
    smoothed within the mask only (an outline does not mix in the background's depth)."""
    if rows.size == 0:
        return np.zeros((0, 3))
    top, bottom = max(int(rows.min()) - 2, 0), min(int(rows.max()) + 3, mask.shape[0])
    left, right = max(int(columns.min()) - 2, 0), min(int(columns.max()) + 3, mask.shape[1])
    inside = mask[top:bottom, left:right].astype(np.float32)
    depth = sample.depth_m[top:bottom, left:right].astype(np.float32) * inside
    weight = cv2.GaussianBlur(inside, (0, 0), _NORMAL_SMOOTHING_PX)
    smooth = cv2.GaussianBlur(depth, (0, 0), _NORMAL_SMOOTHING_PX) / np.maximum(weight, 1e-6)
    v, u = np.mgrid[top:bottom, left:right]
    pixels = np.column_stack([u.ravel(), v.ravel()])
    points = unproject_pixels(sample.intrinsics, pixels, smooth.ravel().astype(np.float64)).reshape(*smooth.shape, 3)
    normal = np.cross(np.gradient(points, axis=1), np.gradient(points, axis=0))[rows - top, columns - left]
    normal /= np.maximum(np.linalg.norm(normal, axis=-1, keepdims=True), 1e-12)
    return normal * -np.sign(np.einsum("nd,nd->n", normal, points[rows - top, columns - left]))[:, None]  # to camera
