"""Render-and-compare against the stored scene (synthetic rows): the target's pose and scale that make a
re-render of the source scene look most like the edited image.

Synthetic rows carry their full scene description (``scene`` column; perception sees the source scene only), so
every hypothesis about the target, "moved by (dx, dy) on its support, turned by yaw, scaled by s about its contact
point", can be
rendered exactly, with the other objects, the lights and the camera as in the source. The hypothesis
whose change to the render (against the render of the unchanged scene) is closest to the change the
editor made to the source image (mean truncated L1 over the whole image, at half resolution, without
shadows) is the recovered change. This sees what features cannot: faces hidden in
the source, bodies of revolution, untextured objects.

When the edited image's camera moved (a recovered camera motion), hypotheses are rendered from the moved
camera, so the motion's own change to the image is predicted rather than mistaken for an edit.

Search: a few starting hypotheses (no change, the feature-based estimate, one per large region of change that the camera
motion does not explain, and where the target's own source pixels best match the edited image inside the change: a
region can join the target to another change it touches), sweeps of yaw every 15 degrees and of scale over the grid at
the object's own position and at the best other starting position, then coordinate descent with shrinking steps (yaw 10
/ 5 / 2.5 degrees, translation 2 / 1 / 0.5 cm along the camera's right and forward directions on the support, one
scale-grid step) from the best sweep hypothesis, from the best of each position's sweep, from the best region of change
(every region placed along its line of sight, over as far as the ray travels across the object's height, and the best
placed one descended, no sweep) and, when it explains the image about as well, from the best one at least 60 degrees
away (nearly symmetric objects have a second basin half a turn away). The asked change is never a start: perception does
not know it. The search renders at the comparison size; the end points (and each of them without its yaw, its scale or
its shift, for a component the image does not need) are then compared exactly, rendered at the image's size and reduced
like the images; the best one also competes polished with a finer step (yaw 1.25 degrees, shift 2.5 mm), and without its
scale, and without its scale and yaw, with the rest fitted again (a turn or a scaling can stand in for a few millimetres
of shift, a basin the descent does not leave). Costs closer than ``tie_tolerance`` are not resolved by the image; the
smaller change wins. The prior towards no change and the tie tolerance are measured in units of the target's size in the
image, so a small object far away is judged like a large one nearby. Where the camera did not move, a global gain and
offset per colour channel (a brightness or white-balance change) is removed from the edited image first, and a blur of
the edited image (a generator's softer output) is estimated and given to the source image and to every render. Scales
come from a geometric grid (``scale_ratio``), the steps of the search; the renderer draws the target compiled once at
any of them (:class:`~gsi_datasets.rendering.StateRenderer`). A search drawing is the changed object drawn alone over
the rest of the scene drawn once, and the hypotheses the search asks for together (a descent's neighbours, a sweep) are
drawn together and read back at once (:meth:`RenderComparer._costs_ahead`).

Removal: the scene without the target is one more hypothesis (:meth:`RenderComparer.removal_cost`); when it explains
the edited image at least as well as the best pose, or nearly as well while the best pose's target does not match the
image where it would show or stands inside another object of the source (:meth:`RenderComparer.removed`), the target
was removed.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from gsi_datasets.geometry import box_corners, rotation_about_axis
from gsi_datasets.rendering import StateRenderer, asset_of, nearer_of
from gsi_datasets.scene import (
    FLOOR_ID,
    Furniture,
    Scene,
    SceneObject,
    changed_object,
    is_container,
    receiving_surface,
    resting_bottom,
    surface_contains,
)
from gsi_metrics.perception.experts import TargetProposal
from gsi_metrics.perception.kernels import inlier_sums, joint_level_counts
from gsi_metrics.sample import SourceView

_UP = np.array([0.0, 0.0, 1.0])
#: Descent stages, ``(yaw step in degrees, shift step in metres)``: the search's, and the polish of its result.
_STAGES = ((10.0, 0.02), (5.0, 0.01), (2.5, 0.005))
_FINE_STAGES = ((1.25, 0.0025),)
#: Change windows (comparison-size pixels) are snapped to this grid; this many renders of the source scene in a window
#: are kept.
_WINDOW_GRID = 8
_WINDOW_REFERENCES = 64
#: The drawings of a scene kept for the next comparers of the same scene (:class:`_SceneRenders`), at most (bytes): on
#: three scenes of the fidelity suite 32, 64, 96 and 192 MiB leave 17124, 15628, 14741 and 14362 of 25755 drawings to
#: draw; a suite worker's peak memory, about 1 GB before, grows by about this much (a scored row's own drawings are a
#: few MiB).
_MOST_KEPT_DRAWING_BYTES = 64 * 2**20
#: At most this many drawings of a scene without the objects a search changes (a scene's edits seen from as many
#: cameras) are kept.
_MOST_KEPT_RESTS = 32


@dataclass(frozen=True)
class Hypothesis:
    """Target change in the world frame: table-plane shift (m), yaw about "up" (deg), index into the scale grid."""

    dx_m: float
    dy_m: float
    yaw_deg: float
    scale_index: int


def photometrically_matched(edited: np.ndarray, source: np.ndarray, tolerance: float = 12.0) -> np.ndarray:
    """``edited`` (uint8 RGB, returned as float32) with a global per-channel gain and offset towards ``source`` (uint8
    RGB) removed (a brightness or white-balance change of the whole image). The fit is least squares over the pixels
    that the fit itself explains to within ``tolerance``, refined twice, so the edited region does not pull it. Each
    channel's sums run over its joint histogram of (source, edited) levels, weighted by the pixels in each bin: the
    sums over the pixels exactly (integers, added exactly in any order), from at most 65,536 bins instead of every
    pixel."""
    for name, image in (("edited", edited), ("source", source)):
        if image.dtype != np.uint8:
            raise TypeError(f"photometrically_matched takes uint8 images; {name} is {image.dtype}")
    if edited.shape != source.shape or edited.ndim != 3:
        raise ValueError(
            f"photometrically_matched takes two images of one (H, W, C) shape, not {edited.shape} and {source.shape}"
        )
    joint = joint_level_counts(source, edited)
    fits = []
    for channel in range(edited.shape[2]):
        pairs = np.flatnonzero(joint[channel])
        x, y, counts = (pairs >> 8).astype(np.float32), (pairs & 255).astype(np.float32), joint[channel, pairs]
        gain, offset = 1.0, _median(y - x, counts)
        for _ in range(3):
            count, sum_x, sum_y, sum_xx, sum_xy = inlier_sums(x, y, counts, gain, offset, tolerance)
            if count < 0.5 * source.shape[0] * source.shape[1]:
                return edited.astype(np.float32)  # no dominant global relation: leave the image alone
            gain, offset = line_fit(count, sum_x, sum_y, sum_xx, sum_xy)
        fits.append((offset, max(gain, 1e-3)))
    offsets, gains = np.array(fits, np.float32).T
    # Each level's value, ``(level - offset) / gain`` in float32 (as numpy maps a float32 image), looked up per pixel:
    # the same floats as mapping every pixel, in a tenth of the time.
    levels = (np.arange(256, dtype=np.float32)[:, None] - offsets) / gains
    return cv2.LUT(np.ascontiguousarray(edited), levels.reshape(1, 256, edited.shape[2]))


def _median(values: np.ndarray, counts: np.ndarray) -> float:
    """The median of ``values`` (float32), each repeated ``counts`` times, as ``np.median`` gives it: the middle value,
    or the mean of the middle two of an even number."""
    order = np.argsort(values, kind="stable")
    ordered, cumulative = values[order], np.cumsum(counts[order])
    total = int(cumulative[-1])
    low, high = ordered[np.searchsorted(cumulative, [(total + 1) // 2, total // 2 + 1])]
    return float((low + high) / np.float32(2))


def line_fit(count: int, sum_x: float, sum_y: float, sum_xx: float, sum_xy: float) -> tuple[float, float]:
    """Least-squares ``(gain, offset)`` of ``y ~ gain * x + offset`` from the sums over ``count`` points (closed form;
    a constant ``x`` keeps gain 1)."""
    x_mean, y_mean = sum_x / count, sum_y / count
    spread = sum_xx - sum_x * x_mean
    if spread <= 1e-9 * count:
        return 1.0, y_mean - x_mean
    gain = (sum_xy - sum_x * y_mean) / spread
    return gain, y_mean - gain * x_mean


def estimated_blur(
    edited: np.ndarray, source: np.ndarray, sigmas: tuple[float, ...] = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5)
) -> float:
    """The Gaussian blur (sigma in pixels, 0 for none) that takes ``source`` closest to ``edited``: a generator's
    softer output. The distance is truncated per pixel, so the edited region weighs the same for every sigma, and
    a sigma must explain a tenth of the unblurred distance to be chosen. The sigmas are tried in increasing order until
    the distance has grown twice in a row (past its minimum: a sharp image stops after two blurs instead of seven)."""

    def distance(image: np.ndarray) -> float:
        difference = cv2.absdiff(edited, image)
        summed = difference[..., 0] + difference[..., 1] + difference[..., 2]  # numpy sums a last axis of three slowly
        return float(np.minimum(summed, 30.0).mean())

    best_sigma, best = 0.0, distance(source)
    unblurred = previous = best
    rising = 0
    for sigma in sorted(sigmas):
        candidate = distance(cv2.GaussianBlur(source, (0, 0), sigma))
        if candidate < best:
            best_sigma, best = sigma, candidate
        rising = rising + 1 if candidate > previous else 0
        previous = candidate
        if rising == 2:
            break
    return best_sigma if best < 0.9 * unblurred else 0.0


def _inner_radius(scene_object: SceneObject) -> float:
    """Half the smaller horizontal side of an object's box: two objects closer than the sum of theirs interpenetrate."""
    return 0.5 * float(min(asset_of(scene_object).size[:2]))


def _box_corners_of(scene_object: SceneObject) -> np.ndarray:
    """The eight corners (world) of an object's 3D box."""
    return box_corners(np.array(scene_object.pose.position), asset_of(scene_object).size, scene_object.pose.rotation)


def _yaw_gap(a_deg: float, b_deg: float) -> float:
    """Absolute difference of two yaws, in [0, 180]."""
    return abs((a_deg - b_deg + 180.0) % 360.0 - 180.0)


class _SceneRenders:
    """One source scene's renderer and its drawings (raw: before any edited image's
    blur), kept for the next comparer of the same scene: the fidelity suite perceives some two dozen edits of each
    scene in turn, and compiling the model, making its drawing contexts and rendering the source scene's windows were
    a quarter of each one's time; and the searches of edits that look alike (the oracle's, its JPEG and blurred copies,
    the near-correct ones) ask for many of the same hypotheses: about half of a scene's drawings were drawn before.
    Only the last scene is kept (its renderer closed when another comes), and at most ``_MOST_KEPT_DRAWING_BYTES`` of
    its drawings (all of them dropped when more come)."""

    _last: _SceneRenders | None = None

    def __init__(self, source: Scene) -> None:
        self.source = source
        self.renderer = StateRenderer([source], shadows=False)
        #: ``(camera, objects, exact, divisor, window)`` of a state -> its drawing (see :meth:`RenderComparer._drawn`).
        self.drawings: dict[tuple[Any, ...], np.ndarray] = {}
        self._kept_bytes = 0
        #: ``(camera, instance ids, divisor)`` -> the unchanged scene seen from that camera without those objects, as
        #: :meth:`StateRenderer.render_layer` draws it (see :meth:`RenderComparer._drawn_over_the_rest`).
        self.rests: dict[tuple[Any, ...], tuple[np.ndarray, np.ndarray]] = {}
        #: Instance ids -> the mask of their geoms (:attr:`StateRenderer.geom_instances`).
        self.geoms_of: dict[frozenset[int], np.ndarray] = {}

    def keep(self, key: tuple[Any, ...], drawing: np.ndarray) -> None:
        """Keeps ``drawing`` (made read-only: every comparer of the scene reads the same array)."""
        drawing.flags.writeable = False
        if self._kept_bytes + drawing.nbytes > _MOST_KEPT_DRAWING_BYTES:
            self.drawings.clear()
            self._kept_bytes = 0
        self.drawings[key] = drawing
        self._kept_bytes += drawing.nbytes

    @classmethod
    def of(cls, source: Scene) -> _SceneRenders:
        """The renders of ``source``: the last comparer's when it drew the same scene, else new ones."""
        last = cls._last
        if last is not None and last.source == source:
            return last
        if last is not None:
            last.renderer.close()
        cls._last = cls(source)
        return cls._last


@dataclass(frozen=True)
class ViewFrame:
    """The edited image's camera in the search's world frame (z up along the support normal): its optical centre,
    its world-from-camera rotation (OpenCV axes) and K."""

    position: np.ndarray
    rotation: np.ndarray
    intrinsics: np.ndarray


class PoseSearch:
    """The search over the target's support-plane shift, yaw and scale that explains the edited image best, shared by
    the comparers. A subclass says where things are (the attributes its ``__init__`` sets before this one's) and what
    a hypothesis looks like (:meth:`_hypothesis_distance`, :meth:`_camera_motion_change`, :meth:`moved_centre`,
    :meth:`removal_cost`, :meth:`target_residual`, :meth:`mask`); the search, its prior and its tie rule are this
    class's (see the module docstring)."""

    frame: ViewFrame
    #: World-from-camera rotation of the source camera.
    source_rotation: np.ndarray
    #: The target's source box centre (world) and height (m), and the world height of the surface it stands on.
    target_centre: np.ndarray
    target_height: float
    support_height: float
    #: (centre xy, inner radius) of the objects the target cannot stand inside, and of its look-alikes.
    _target_radius: float
    _neighbours: list[tuple[np.ndarray, float]]
    _namesakes: list[tuple[np.ndarray, float]]

    def __init__(
        self,
        sample: SourceView,
        edited: np.ndarray,
        divisor: int = 2,
        scale_ratio: float = 1.06,
        scale_range: tuple[float, float] = (0.4, 2.6),
        truncation: float = 150.0,
        prior_weight: float = 0.012,
        max_shift_m: float = 3.0,
        yaw_sweep_deg: int = 15,
        min_improvement: float = 1e-3,
        tie_tolerance: float = 0.0025,
        camera_delta: np.ndarray | None = None,
        removal_margin: float = 1.0,
        removal_tie: float = 0.1,
        presence_tolerance: float = 100.0,
        mismatch_tolerance: float | None = None,
        proposals: Sequence[TargetProposal] = (),
    ) -> None:
        """``proposals``: where learned experts say the target shows (:mod:`gsi_metrics.perception.experts`), more
        starts for the search. Subclasses set :attr:`frame`, :attr:`source_rotation`, :attr:`target_centre`,
        :attr:`target_height`, :attr:`support_height` and the neighbour lists first."""
        low, high = (int(np.floor(np.log(v) / np.log(scale_ratio))) for v in scale_range)
        self.scales = scale_ratio ** np.arange(low, high + 1)
        self.identity_index = int(np.argmin(np.abs(np.log(self.scales))))
        self.scales[self.identity_index] = 1.0
        self._log_scales = [abs(float(np.log(scale))) for scale in self.scales]  # for the prior, asked per hypothesis
        self.camera_moved = camera_delta is not None
        self.divisor = divisor
        height, width = sample.image.shape[:2]
        size = (width // divisor, height // divisor)
        self.compare_size = size
        self.image_width = width
        source_image = sample.image.astype(np.float32)
        # A global brightness or colour change, or a softer image, is not an edit of the target: where the camera is
        # still, undo the first and give the source image and every render the same blur.
        self.blur_sigma = 0.0
        if camera_delta is None:
            edited = photometrically_matched(edited, sample.image)
            self.blur_sigma = estimated_blur(edited, source_image)
        else:
            edited = edited.astype(np.float32)
        self.source_image = cv2.resize(self._blurred(source_image), size, interpolation=cv2.INTER_AREA)
        self.edited = cv2.resize(edited, size, interpolation=cv2.INTER_AREA)
        # Compare changes, not images: what the hypothesis changes in a render against what the editor
        # changed in the source image. Everything static (other objects, their shadows, anti-aliasing, the
        # renderer's own look) cancels, and an unchanged output is explained exactly by "no change".
        self.observed_change = self.edited - self.source_image
        # Shifts are searched along the camera's right and forward directions on the table: the image resolves
        # the first much better than the second, and camera-relative moves lie along one of them.
        rotation = self.frame.rotation
        self.ground_axes = [
            rotation[:2, 0] / np.linalg.norm(rotation[:2, 0]),
            rotation[:2, 2] / np.linalg.norm(rotation[:2, 2]),
        ]
        target_small = cv2.resize(sample.target_mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST)
        self.source_target_region = cv2.dilate(target_small, np.ones((5, 5), np.uint8))
        self._target_small = target_small
        self.truncation = truncation
        # The cost of a change that moves every target pixel completely: the prior and the tie tolerance are
        # measured in it, so they weigh the same for a small object far away and a large one nearby.
        self.cost_unit = truncation * float(target_small.mean())
        self.prior_weight = prior_weight
        self.max_shift_m = max_shift_m
        self.yaw_sweep_deg = yaw_sweep_deg
        # Smaller gains are noise along directions the image cannot resolve (the yaw of a ball, say); walking
        # them one step at a time costs renders and buys nothing.
        self.min_improvement = min_improvement
        self.tie_tolerance = tie_tolerance
        self.removal_margin = removal_margin
        self.removal_tie = removal_tie
        self.presence_tolerance = presence_tolerance
        #: A best reading whose target, where it shows, differs from the image by more than this (median residual) gives
        #: way to the target's own place fitted in turn and scale alone, when that looks like the image and explains it
        #: nearly as well (:meth:`search`); None: never.
        self.mismatch_tolerance = mismatch_tolerance
        self.proposals = tuple(proposals)
        self._costs: dict[tuple[Hypothesis, bool], float] = {}  # keyed on rounded hypotheses
        self._asked_costs: dict[tuple[Hypothesis, bool], float] = {}  # the same, keyed on the hypotheses as asked

    def _blurred(self, image: np.ndarray, divisor: int = 1) -> np.ndarray:
        """``image`` (drawn ``divisor`` times smaller than the edited image) with the edited image's blur."""
        if self.blur_sigma == 0.0:
            return image
        return cv2.GaussianBlur(image, (0, 0), self.blur_sigma / divisor)

    def _blur_reach(self) -> int:
        """How far (comparison-size pixels) the edited image's blur spreads a change."""
        return 0 if self.blur_sigma == 0.0 else int(np.ceil(4.0 * self.blur_sigma / self.divisor)) + 1

    def _hypothesis_distance(self, hypothesis: Hypothesis, exact: bool) -> float:
        """Mean truncated L1 distance between the change ``hypothesis`` predicts and the change the editor made."""
        raise NotImplementedError

    def _camera_motion_change(self) -> np.ndarray:
        """What the camera motion alone changes in the comparison-size image (zero for a still camera)."""
        raise NotImplementedError

    def moved_centre(self, hypothesis: Hypothesis) -> np.ndarray:
        """The target's box centre (world) under ``hypothesis``."""
        raise NotImplementedError

    def _other_tops(self) -> list[float]:
        """World heights of the other surfaces the target could be put on (none known: its own support only)."""
        return []

    def _surface_under(self, position: np.ndarray) -> float:
        """World height of what the target would stand on with its centre at ``position``."""
        return self.support_height

    def removal_cost(self) -> float:
        raise NotImplementedError

    def target_residual(self, hypothesis: Hypothesis) -> float:
        raise NotImplementedError

    def mask(self, hypothesis: Hypothesis, shape: tuple[int, int]) -> np.ndarray:
        raise NotImplementedError

    def cost(self, hypothesis: Hypothesis, exact: bool = False) -> float:
        """Mean truncated L1 distance (summed over RGB) between the change the hypothesis makes to the render
        of the source scene and the change the editor made to the source image, plus a small prior towards
        "no change" (``prior_weight`` cost units per unit of :meth:`change`): where the image cannot tell
        hypotheses apart (the yaw of a body of revolution, a hidden object), the smallest change wins instead of
        an arbitrary one.
        ``exact``: see :meth:`_render`."""
        asked = self._asked_costs.get((hypothesis, exact))  # the search asks for most hypotheses several times
        if asked is not None:
            return asked
        key = self._cost_key(hypothesis, exact)
        if key is None:
            cost = float("inf")
        else:
            if key not in self._costs:
                self._costs[key] = self._hypothesis_distance(hypothesis, exact) + self._prior(hypothesis)
            cost = self._costs[key]
        self._asked_costs[(hypothesis, exact)] = cost
        return cost

    def _cost_key(self, hypothesis: Hypothesis, exact: bool) -> tuple[Hypothesis, bool] | None:
        """What the cost of ``hypothesis`` is kept under; None where it is infinite (a scale off the grid, a shift too
        far, the target inside one of its look-alikes)."""
        if (
            not 0 <= hypothesis.scale_index < len(self.scales)
            or math.hypot(hypothesis.dx_m, hypothesis.dy_m) > self.max_shift_m
            or self._inside(hypothesis, self._namesakes)
        ):
            return None
        # Steps there and back again land on floats a rounding error apart: key the cache on a 0.1 mm / 0.001 deg grid.
        rounded = Hypothesis(
            round(hypothesis.dx_m, 4),
            round(hypothesis.dy_m, 4),
            round(hypothesis.yaw_deg % 360.0, 3),
            hypothesis.scale_index,
        )
        return rounded, exact

    def _prior(self, hypothesis: Hypothesis) -> float:
        """The cost's pull towards "no change" (``prior_weight`` cost units per unit of :meth:`change`)."""
        return self.prior_weight * self.cost_unit * self.change(hypothesis)

    def _costs_ahead(self, hypotheses: Iterable[Hypothesis]) -> None:
        """Works out the search-size costs of ``hypotheses``, which :meth:`cost` is about to be asked for, where doing
        them together is cheaper than one by one (:meth:`RenderComparer._costs_ahead` draws them together); by default
        nothing."""

    def _cheapest(self, hypotheses: list[Hypothesis]) -> Hypothesis:
        """The first of ``hypotheses`` of the lowest search-size cost, their costs worked out together."""
        self._costs_ahead(hypotheses)
        return min(hypotheses, key=self.cost)

    def _inside(self, hypothesis: Hypothesis, others: list[tuple[np.ndarray, float]]) -> bool:
        """Whether the hypothesised target would stand inside one of ``others`` (centre, inner radius): its centre
        closer to the other's than their radii add up to, and than it stood in the source (two loaves of bread side by
        side, whose boxes' inner radii overlap, stand apart as they are: the target where it was is never inside)."""
        # In floats: the search asks this of every hypothesis, and numpy's per-call cost outweighs the arithmetic.
        x0, y0 = float(self.target_centre[0]), float(self.target_centre[1])
        x, y = x0 + hypothesis.dx_m, y0 + hypothesis.dy_m
        radius = self._target_radius * float(self.scales[hypothesis.scale_index])
        for centre, other_radius in others:
            cx, cy = float(centre[0]), float(centre[1])
            distance = math.hypot(x - cx, y - cy)
            if distance < radius + other_radius and distance < math.hypot(x0 - cx, y0 - cy):
                return True
        return False

    def removed(self, best: Hypothesis, cost: float) -> bool:
        """Whether the edited image is explained by the target's removal rather than by ``best`` (of exact
        ``cost``): removal explains it as well to within ``removal_tie`` cost units, or nearly as well (within
        ``removal_margin`` cost units) while ``best`` parks the target over another object's change: the target drawn
        there does not match the image where it shows (median residual over ``presence_tolerance``), or it stands inside
        another object of the source (a shrunken white jug painted over a removed orange's spot on a white table)."""
        removal = self.removal_cost()
        # A target that is there explains its own pixels: a best pose that explains barely more than the removal (less
        # than ``removal_tie`` of a target's worth of pixels) is fitting the inpainting's errors, not the target.
        if removal <= cost + self.removal_tie * self.cost_unit:
            return True
        return removal <= cost + self.removal_margin * self.cost_unit and (
            self._inside(best, self._neighbours) or self.target_residual(best) > self.presence_tolerance
        )

    def change(self, hypothesis: Hypothesis) -> float:
        """Size of the hypothesised change: yaw / 180 degrees + |ln scale| + shift / 30 cm."""
        yaw = _yaw_gap(hypothesis.yaw_deg, 0.0) / 180.0
        return yaw + self._log_scales[hypothesis.scale_index] + math.hypot(hypothesis.dx_m, hypothesis.dy_m) / 0.3

    def _pick(self, candidates: list[Hypothesis], exact: bool = False) -> Hypothesis:
        """The cheapest candidate; costs within ``tie_tolerance`` of it are ties the image does not resolve (the
        yaw of a ball), and the smallest change among them wins (between equal changes, a turn either way by the
        same angle, the cheaper one)."""
        if not exact:
            self._costs_ahead(candidates)
        lowest = min(self.cost(h, exact) for h in candidates)
        tied = (h for h in candidates if self.cost(h, exact) <= lowest + self.tie_tolerance * self.cost_unit)
        return min(tied, key=lambda h: (round(self.change(h), 9), self.cost(h, exact)))

    @staticmethod
    def _largest_regions(mask: np.ndarray, limit: int) -> list[tuple[float, float]]:
        """Centroids ``(u, v)`` of the ``limit`` largest connected regions of ``mask`` (of 4 pixels or more)."""
        _, _, stats, centroids = cv2.connectedComponentsWithStats(mask)
        order = np.argsort(-stats[1:, cv2.CC_STAT_AREA])[:limit] + 1
        return [tuple(centroids[label]) for label in order if stats[label, cv2.CC_STAT_AREA] >= 4]

    def changed_region_hypotheses(self, limit: int = 3) -> list[Hypothesis]:
        """One translation hypothesis per large region where the edited image differs from the source image (and
        per large such region outside the target's source pixels): the region's centroid ray meets the plane at
        the target's centre height (and, where it is over a receptacle object, that height on the receptacle)."""
        # What the camera motion alone (rendered for "no change") does not explain; all of it for a static camera.
        unexplained = self.observed_change - self._camera_motion_change()
        changed = (np.abs(unexplained).sum(axis=2) > 60).astype(np.uint8)
        if self.camera_moved:
            # A recovered camera motion is close, not exact (an image shift is no camera motion at all): every edge
            # leaves a thin line of change. Open those away first, or the closing below joins them into regions that
            # span the scene.
            changed = cv2.morphologyEx(changed, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        # A thin or see-through object (a glass, a lamp's stem, an hourglass's frame) changes only its outline: close
        # the outline into one region before speckle is opened away, or the region falls apart into fragments whose
        # centroids lie beside the object.
        changed = cv2.morphologyEx(changed, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
        changed = cv2.morphologyEx(changed, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        # Where the target newly appears: the change outside its source pixels (the vacated part is explained by
        # any move; with it, a region spanning both places has its centroid halfway).
        elsewhere = changed & ~self.source_target_region
        centroids = [
            *self._largest_regions(changed, limit),
            *self._largest_regions(elsewhere, limit),
            *self._look_alikes(elsewhere),
        ]
        return self._hypotheses_at(centroids) + self._proposed_hypotheses()

    def _proposed_hypotheses(self) -> list[Hypothesis]:
        """The experts' proposals: at their measured depth where they have one, else as the regions' centroids."""
        reduction = self.image_width / self.compare_size[0]
        at_depth, centroids = [], []
        for proposal in self.proposals:
            u, v = proposal.pixel
            if proposal.depth_m is None:
                centroids.append(((u + 0.5) / reduction - 0.5, (v + 0.5) / reduction - 0.5))
                continue
            point = self.frame.position + self.frame.rotation @ (
                proposal.depth_m * np.linalg.solve(self.frame.intrinsics, np.array([u, v, 1.0]))
            )
            at_depth.append(
                Hypothesis(
                    float(point[0] - self.target_centre[0]),
                    float(point[1] - self.target_centre[1]),
                    0.0,
                    self.identity_index,
                )
            )
        return at_depth + self._hypotheses_at(centroids)

    def _hypotheses_at(self, centroids: list[tuple[float, float]]) -> list[Hypothesis]:
        """A translation hypothesis per centroid ``(u, v)`` (comparison-size pixels) of a region where the target may
        show: its ray meets the plane at the target's centre height (and, where it is over a receptacle object or
        another piece of furniture, that height on it)."""
        reduction = self.image_width / self.compare_size[0]  # centroids are in reduced pixels
        intrinsics, rotation, origin = self.frame.intrinsics, self.frame.rotation, self.frame.position
        centre_height = self.target_centre[2]
        # The target's centre height on its own support, and on each receptacle object's or other piece of furniture's
        # top (kept where the ray meets that height over it): a target put on a tray is seen higher, so nearer along
        # the ray.
        lifts = [0.0, *(top - self.support_height for top in self._other_tops())]
        hypotheses = []
        for u, v in centroids:
            pixel = (np.array([u, v]) + 0.5) * reduction - 0.5
            ray = rotation @ np.linalg.solve(intrinsics, np.array([*pixel, 1.0]))
            if abs(ray[2]) < 1e-9:
                continue
            for lift in lifts:
                hit = origin + ray * (centre_height + lift - origin[2]) / ray[2]
                if lift != 0.0 and self._surface_under(hit) - self.support_height != lift:
                    continue
                hypotheses.append(
                    Hypothesis(
                        float(hit[0] - self.target_centre[0]),
                        float(hit[1] - self.target_centre[1]),
                        0.0,
                        self.identity_index,
                    )
                )
        return hypotheses

    def _look_alikes(
        self, region: np.ndarray, sizes: tuple[float, ...] = (0.7, 0.85, 1.0, 1.2, 1.45)
    ) -> list[tuple[float, float]]:
        """Where the target's source pixels, drawn at each of ``sizes`` (it may have come nearer or gone farther),
        best match the edited image with their centroid inside ``region``: the target's centroid ``(u, v)`` there,
        for the best match overall. A region of change can join the target to another change it touches (an object
        it was put beside, one revealed behind it), and that region's centroid lies off both; the target's own look
        does not."""
        rows, columns = np.nonzero(self._target_small)
        if rows.size == 0 or not region.any():
            return []
        top, left = rows.min(), columns.min()
        template = self.source_image[top : rows.max() + 1, left : columns.max() + 1]
        mask = self._target_small[top : rows.max() + 1, left : columns.max() + 1].astype(np.float32)
        centre = np.array([columns.mean() - left, rows.mean() - top])  # the target's centroid in the template
        region_rows, region_columns = np.nonzero(region)
        matches = []
        for size in sizes:
            width, height = (max(1, round(n * size)) for n in (template.shape[1], template.shape[0]))
            if width * height < 9 or width > self.edited.shape[1] or height > self.edited.shape[0]:
                continue
            scaled = cv2.resize(template, (width, height), interpolation=cv2.INTER_AREA)
            weights = cv2.resize(mask, (width, height), interpolation=cv2.INTER_NEAREST)
            if weights.sum() < 4:
                continue
            offset = np.rint(centre * (width / template.shape[1], height / template.shape[0])).astype(int)
            # Only placements of the template's corner whose centroid falls inside the region compete: the image is
            # searched around the region alone.
            first_v, first_u = max(0, region_rows.min() - offset[1]), max(0, region_columns.min() - offset[0])
            last_v = min(self.edited.shape[0] - height, region_rows.max() - offset[1])
            last_u = min(self.edited.shape[1] - width, region_columns.max() - offset[0])
            if last_v < first_v or last_u < first_u:
                continue
            searched = self.edited[first_v : last_v + height, first_u : last_u + width]
            # Mean squared difference over the target's pixels, per placement.
            difference = cv2.matchTemplate(searched, scaled, cv2.TM_SQDIFF, mask=np.repeat(weights[..., None], 3, 2))
            difference /= weights.sum()
            allowed = (
                region[first_v + offset[1] : last_v + offset[1] + 1, first_u + offset[0] : last_u + offset[0] + 1] > 0
            )
            if not allowed.any():
                continue
            difference[~allowed] = np.inf
            v, u = np.unravel_index(int(np.argmin(difference)), difference.shape)
            matches.append((float(difference[v, u]), (float(first_u + u + offset[0]), float(first_v + v + offset[1]))))
        return [min(matches)[1]] if matches else []

    def search(self, starts: list[Hypothesis]) -> tuple[Hypothesis, float]:
        """Best hypothesis from ``starts`` (see module docstring) and its cost."""
        regions = self.changed_region_hypotheses()
        starts = [*starts, Hypothesis(0.0, 0.0, 0.0, self.identity_index), *regions]
        self._costs_ahead(starts)
        # Sweep at the object's own position (an in-place turn or scaling) and at the best other starting position.
        positions = [Hypothesis(0.0, 0.0, 0.0, self.identity_index)]
        for start in sorted(starts, key=self.cost):
            if all(np.hypot(start.dx_m - p.dx_m, start.dy_m - p.dy_m) > 0.01 for p in positions):
                positions.append(start)
        sweeps = [
            [
                *(
                    dataclasses.replace(start, yaw_deg=start.yaw_deg + step)
                    for step in range(0, 360, self.yaw_sweep_deg)
                ),
                *self._scale_sweep(start),
            ]
            for start in positions[:2]
        ]
        sweep = [hypothesis for position_sweep in sweeps for hypothesis in position_sweep]
        self._choose_appearance(sweep)
        # Nearly symmetric objects (a mouse, a kettle) have a second basin half a turn away: descend from the best
        # of the sweep and from the best one at least 60 degrees from it, and keep the better end point.
        # The second one is worth a descent only when it explains about as much of the change as the best.
        first = self._pick(sweep)
        unchanged = self.cost(Hypothesis(0.0, 0.0, 0.0, self.identity_index))
        ranked = sorted(sweep, key=self.cost)
        second = next((h for h in ranked if _yaw_gap(h.yaw_deg, first.yaw_deg) >= 60.0), None)
        if second is not None and self.cost(second) - self.cost(first) > 0.5 * (unchanged - self.cost(first)):
            second = None
        # The coarse sweep can rank a wrong position first (a region of change beside the object); the best of each
        # position's own sweep is descended too, so an in-place turn is found from the unchanged position. So is the
        # best region of change, placed along its line of sight and descended at full size without a sweep: its
        # centroid is some point of the object or of its shadow, not its centre, and a sweep there can settle on a
        # shrunken object that no shift step improves on. A region's own cost ranks regions poorly (a tall object's
        # centroid lands far from it), so every region is placed first and the best placed one wins.
        seeds = [first, second, *(self._pick(position_sweep) for position_sweep in sweeps)]
        seeds = [h for index, h in enumerate(seeds) if h is not None and h not in seeds[:index]]
        ends = [self._descend(self._best_scale(h)) for h in seeds]
        # Each distinct region is placed along its line of sight; the best placed one is descended.
        distinct = {(round(r.dx_m, 2), round(r.dy_m, 2)): r for r in regions}
        if distinct:
            ends.append(self._descend(min((self._placed(r) for r in distinct.values()), key=self.cost)))
        # A component the image cannot resolve is no change: each end point also competes without each one.
        ends += [
            dataclasses.replace(end, **dropped)
            for end in ends
            for dropped in ({"yaw_deg": 0.0}, {"scale_index": self.identity_index}, {"dx_m": 0.0, "dy_m": 0.0})
        ]
        best = self._pick(ends, exact=True)
        # A turn or a scaling can stand in for a few millimetres of shift on a textured object (or a half turn for a
        # nearly symmetric one), a basin the descent does not leave: the best end point also competes without its
        # scale, and without its scale and yaw, each with the rest fitted again.
        # All of them are polished with a finer step (a textured object's cost is sharp to a few millimetres).
        refits = [self._descend(best, stages=_FINE_STAGES)]
        if best.scale_index != self.identity_index:
            unscaled = dataclasses.replace(best, scale_index=self.identity_index)
            refits.append(self._descend(unscaled, scale=False, stages=_STAGES + _FINE_STAGES))
        if best.scale_index != self.identity_index or best.yaw_deg % 360.0 != 0.0:
            unturned = dataclasses.replace(best, yaw_deg=0.0, scale_index=self.identity_index)
            refits.append(self._descend(unturned, yaw=False, scale=False, stages=_STAGES + _FINE_STAGES))
        best = self._pick([best, *refits], exact=True)
        if self.mismatch_tolerance is not None and self.target_residual(best) > self.mismatch_tolerance:
            # The target drawn where it does not look like the image is explaining another change (another object moved
            # or removed, the target stretched over it). Its own place, fitted in turn and scale alone, competes: within
            # the removal margin, the reading whose target looks like the image wins.
            in_place = self._descend(self._pick(sweeps[0]), shift=False, stages=_STAGES + _FINE_STAGES)
            nearly_as_good = self.cost(in_place, exact=True) <= (
                self.cost(best, exact=True) + self.removal_margin * self.cost_unit
            )
            if nearly_as_good and self.target_residual(in_place) <= self.mismatch_tolerance:
                best = in_place
        return best, self.cost(best, exact=True)

    def _placed(self, start: Hypothesis, step_m: float = 0.03) -> Hypothesis:
        """The cheapest of ``start`` moved along its line of sight: a region's centroid is some point of the object
        (its rim, its stem, its shadow), not its centre, so its depth is uncertain by as much as the ray travels over
        the object's height (at least 3 steps either way); the points along the line are ``step_m`` apart, and the
        descent that follows settles the rest."""
        camera = self.frame.position
        centre = self.target_centre + (start.dx_m, start.dy_m, 0.0)
        sight = centre[:2] - camera[:2]
        distance = float(np.linalg.norm(sight))
        if distance < 1e-6:
            return start
        along = sight / distance
        half_height = 0.5 * self.target_height
        drop = camera[2] - centre[2]
        # Ground distance the ray covers while descending half the object's height (capped: a nearly level ray).
        span = min(half_height * distance / drop if drop > 0 else np.inf, 0.5)
        steps = max(3, int(np.ceil(span / step_m)))
        line = [
            dataclasses.replace(start, dx_m=start.dx_m + shift[0], dy_m=start.dy_m + shift[1])
            for j in range(-steps, steps + 1)
            for shift in [step_m * j * along]
        ]
        return self._cheapest(line)

    def _scale_sweep(self, hypothesis: Hypothesis) -> list[Hypothesis]:
        """``hypothesis`` at every fourth scale of the grid."""
        return [
            dataclasses.replace(hypothesis, scale_index=i) for i in range(self.identity_index % 4, len(self.scales), 4)
        ]

    def _best_scale(self, best: Hypothesis) -> Hypothesis:
        """The best of a coarse sweep over the scale grid at ``best``'s pose."""
        return self._pick([best, *self._scale_sweep(best)])

    def _descend(
        self,
        best: Hypothesis,
        yaw: bool = True,
        scale: bool = True,
        stages: tuple[tuple[float, float], ...] = _STAGES,
        shift: bool = True,
    ) -> Hypothesis:
        """Coordinate descent over table-plane shift (unless ``shift`` is False), yaw (unless ``yaw`` is False) and
        scale (unless ``scale`` is False), with the ``(yaw step in degrees, shift step in metres)`` of each stage in
        turn."""
        for yaw_step, shift_step in stages:
            improved = True
            while improved:
                dx, dy, turn, size = best.dx_m, best.dy_m, best.yaw_deg, best.scale_index
                neighbours = []
                if yaw:
                    neighbours += [Hypothesis(dx, dy, turn + yaw_step, size), Hypothesis(dx, dy, turn - yaw_step, size)]
                if scale:
                    neighbours += [Hypothesis(dx, dy, turn, size + 1), Hypothesis(dx, dy, turn, size - 1)]
                for axis in self.ground_axes if shift else ():
                    for sign in (1.0, -1.0):
                        step = sign * shift_step * axis
                        neighbours.append(Hypothesis(dx + step[0], dy + step[1], turn, size))
                candidate = self._cheapest(neighbours)
                improved = self.cost(candidate) < self.cost(best) - self.min_improvement
                if improved:
                    best = candidate
        return best

    def evidence(self, best: Hypothesis) -> dict[str, float]:
        """How much worse (exact cost, in cost units) ``best`` explains the image without its turn, its scaling and its
        shift, each alone: near 0 for a component the image barely needs (a re-drawn or mirrored object read as a
        turn), large for one it shows plainly."""
        without = {
            "turn": self.unturned_cost(best),
            "scale": self.cost(dataclasses.replace(best, scale_index=self.identity_index), exact=True),
            "shift": self.cost(dataclasses.replace(best, dx_m=0.0, dy_m=0.0), exact=True),
        }
        cost = self.cost(best, exact=True)
        unit = max(self.cost_unit, 1e-9)
        return {name: float(np.clip((other - cost) / unit, 0.0, 100.0)) for name, other in without.items()}

    def _choose_appearance(self, sweep: list[Hypothesis]) -> None:
        """Chooses between ways of drawing the target, by how well they explain the image over ``sweep`` (a comparer
        with one way: nothing to choose)."""

    def unturned_cost(self, hypothesis: Hypothesis) -> float:
        """The exact cost of ``hypothesis`` without its turn (a comparer that can draw other unturned looks of the
        target, a mirror image, takes the cheapest)."""
        return self.cost(dataclasses.replace(hypothesis, yaw_deg=0.0), exact=True)

    def to_camera_frame(self, hypothesis: Hypothesis) -> tuple[np.ndarray, np.ndarray, float]:
        """``(translation_m of the box centre, relative rotation, scale)`` in the source camera frame."""
        world_to_camera = self.source_rotation.T
        shift_world = self.moved_centre(hypothesis) - self.target_centre
        rotation_world = rotation_about_axis(_UP, hypothesis.yaw_deg)
        return (
            world_to_camera @ shift_world,
            world_to_camera @ rotation_world @ world_to_camera.T,
            float(self.scales[hypothesis.scale_index]),
        )

    def hypothesis_from_camera_frame(self, translation_m: np.ndarray, rotation: np.ndarray, scale: float) -> Hypothesis:
        """The grid hypothesis closest to a camera-frame estimate (e.g. the feature-based one)."""
        camera_to_world = self.source_rotation
        shift_world = camera_to_world @ translation_m
        rotation_world = camera_to_world @ rotation @ camera_to_world.T
        yaw = float(np.rad2deg(np.arctan2(rotation_world[1, 0], rotation_world[0, 0])))
        index = int(np.argmin(np.abs(np.log(self.scales) - np.log(max(scale, 1e-6)))))
        # Only the table-plane part of the shift is a free parameter; the rise follows from the scale.
        return Hypothesis(float(shift_world[0]), float(shift_world[1]), yaw, index)


class RenderComparer(PoseSearch):
    """Scores hypotheses about the target by re-rendering the stored source scene (see module docstring)."""

    method = "render-compare"

    def __init__(
        self, sample: SourceView, edited: np.ndarray, camera_delta: np.ndarray | None = None, **search: Any
    ) -> None:
        """``search``: the options of :class:`PoseSearch`."""
        if sample.scene is None:
            raise ValueError(f"sample {sample.sample_id} has no stored scene to render")
        source = Scene.from_dict(sample.scene["source"])
        camera = source.camera
        self.source = source
        # Hypotheses are seen from the edited image's camera (the source camera unless it moved).
        self.view = source if camera_delta is None else dataclasses.replace(source, camera=camera.moved(camera_delta))
        self.target = self.source.object(sample.target_id)
        self.frame = ViewFrame(
            np.array(self.view.camera.position), np.array(self.view.camera.rotation), camera.intrinsics
        )
        self.source_rotation = np.array(camera.rotation)
        self.target_centre = np.array(self.target.pose.position, float)
        self.target_height = float(asset_of(self.target).size[2])
        super().__init__(sample, edited, camera_delta=camera_delta, **search)
        self._scene_renders = _SceneRenders.of(source)
        self.renderer = self._scene_renders.renderer
        #: Per render size (``exact`` or not): the render of the source scene, and the summed-area table of the
        #: unchanged view's distances (:meth:`_reference`, :meth:`_unchanged_distances`).
        self._references: dict[bool, np.ndarray] = {}
        self._unchanged_integrals: dict[bool, np.ndarray] = {}
        self._window_references: dict[tuple[tuple[int, int, int, int], bool], np.ndarray] = {}
        # The unchanged view's objects and their boxes' corners, which every hypothesis's window is measured against.
        self._view_objects = {o.instance_id: o for o in self.view.objects}
        self._view_corners = {o.instance_id: _box_corners_of(o) for o in self.view.objects}
        self.support_height = source.support_height(source.object(sample.target_id))
        # The other objects the target would interpenetrate if it stood on their spot: those at the target's height,
        # but none that the target already "overlaps" in the source by this test (a pair it misjudges). Another
        # instance of its category is never where the target could be: without this, a removed target is "found"
        # standing inside its look-alike. Any of them weighs in the choice between a removal and a move (removed).
        self._target_radius = _inner_radius(self.target)
        target_xy, target_z = self.target_centre[:2], self.target_centre[2]
        target_height = self.target_height
        neighbours = [
            o
            for o in source.objects
            if o.instance_id != self.target.instance_id
            and abs(o.pose.position[2] - target_z) < 0.5 * (asset_of(o).size[2] + target_height)
            and np.linalg.norm(target_xy - o.pose.position[:2]) >= self._target_radius + _inner_radius(o)
        ]
        self._neighbours = [  # (what is put in an open container stands inside it)
            (np.array(o.pose.position[:2]), _inner_radius(o)) for o in neighbours if not is_container(o)
        ]
        self._namesakes = [
            (np.array(o.pose.position[:2]), _inner_radius(o)) for o in neighbours if o.category == self.target.category
        ]

        # What the target could be put on besides its own support (source-side geometry, as every render here): the
        # receptacle objects and the tops of the other pieces of furniture, each as its piece and its top's height.
        # In an open container (a bowl), the target rests on its inner wall: the height its bottom rests at over the
        # container's centre, for the whole of the container's floor.
        def top(piece: Furniture) -> float:
            if source.has_object(piece.instance_id) and is_container(holder := source.object(piece.instance_id)):
                return resting_bottom(holder, self.target, np.array(holder.pose.position[:2]))
            return piece.pose.position[2] + piece.top.height

        def tops(pieces: list[Furniture]) -> list[tuple[Furniture, float]]:
            return [(piece, top(piece)) for piece in pieces]

        own_id = self.target.support_id
        receptacles = [
            o for o in source.objects if o.instance_id != self.target.instance_id and receiving_surface(o) is not None
        ]
        # Those standing on the target's own support; the rest, and the other pieces of furniture, are elsewhere.
        self._receptacles_beside = tops(
            [source.support_piece(o.instance_id) for o in receptacles if o.support_id == own_id]
        )
        self._elsewhere = tops(
            [
                *(source.support_piece(o.instance_id) for o in receptacles if o.support_id != own_id),
                *(piece for piece in source.furniture if piece.instance_id != own_id and piece.surfaces),
            ]
        )
        self._own_support = (
            None if own_id == FLOOR_ID else (source.support_piece(own_id), source.support_surface(self.target))
        )

    def close(self) -> None:
        """Nothing to release: the renderer is kept for the next comparer of the same scene (:class:`_SceneRenders`)."""

    def _render(self, state: Scene, exact: bool, window: tuple[int, int, int, int] | None = None) -> np.ndarray:
        """``state`` rendered without shadows at the comparison size (float32 RGB); only the comparison-size pixels
        ``window = (left, top, right, bottom)`` of it when one is given.

        The search renders directly at that size (a quarter of the pixels to draw), without anti-aliasing (a third to
        a half cheaper; its edges are approximate at that size anyway). ``exact`` renders at the image's size and
        reduces it like the images: a direct small render differs from a reduced full-size image along every edge, and
        for a small object, or a change that moves only edges, those differences are as large as the change to be
        explained; the final choice between the search's end points is made this way.
        """
        return self._as_compared(self._drawn(state, exact, window), exact, window)

    def _drawn(self, state: Scene, exact: bool, window: tuple[int, int, int, int] | None) -> np.ndarray:
        """:meth:`_render`'s drawing of ``state``, before the edited image's blur: drawn once per scene
        (:class:`_SceneRenders`; a state differs from the scene's others only in its camera and objects)."""
        key = self._drawing_key(state, exact, window)
        drawing = self._scene_renders.drawings.get(key)
        if drawing is None:
            if not exact:
                drawing = self._drawn_over_the_rest(state, window)
            else:
                full_window = None if window is None else tuple(self.divisor * v for v in window)
                drawing = self.renderer.render_rgb(state, shadows=False, window=full_window)
            self._scene_renders.keep(key, drawing)
        return drawing

    def _drawing_key(self, state: Scene, exact: bool, window: tuple[int, int, int, int] | None) -> tuple[Any, ...]:
        """What a drawing of :meth:`_drawn` is kept under in the scene's drawings (a state differs from the scene's
        others only in its camera and objects)."""
        return (state.camera, state.objects, exact, self.divisor, window)

    def _drawn_over_the_rest(self, state: Scene, window: tuple[int, int, int, int] | None) -> np.ndarray:
        """``state`` drawn at the comparison size without anti-aliasing: the objects it changes in the unchanged scene
        seen from its camera (the view or the source) drawn alone, over the rest of that scene drawn whole once for
        every hypothesis (:meth:`StateRenderer.render_layer`: the same pixels as drawing all of it, at a fraction of
        the cost, for a search moves one object and drawing is mostly the work on the vertices of what is drawn)."""
        layered = self._layered(state, window)
        if layered is None:
            return self.renderer.render_rgb(state, shadows=False, divisor=self.divisor, window=window, antialias=False)
        in_front, rest = layered
        if not in_front.any():
            return rest[0].copy()
        return nearer_of(self.renderer.render_layer(state, in_front, self.divisor, window), rest)

    def _layered(
        self, state: Scene, window: tuple[int, int, int, int] | None
    ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]] | None:
        """How :meth:`_drawn_over_the_rest` draws ``state`` in ``window``: the mask of the geoms to draw alone (the
        objects ``state`` changes; none when it changes nothing) and the rest of the unchanged scene there, as
        :meth:`StateRenderer.render_layer` draws it; None when no unchanged scene is seen from ``state``'s camera."""
        unchanged = next((scene for scene in (self.view, self.source) if scene.camera == state.camera), None)
        if unchanged is None:
            return None
        changed = self._changed_ids({o.instance_id: o for o in state.objects})
        in_front = self._scene_renders.geoms_of.get(changed)
        if in_front is None:
            in_front = self._scene_renders.geoms_of[changed] = np.isin(self.renderer.geom_instances, list(changed))
        key = (state.camera, changed, self.divisor)
        rest = self._scene_renders.rests.get(key)
        if rest is None:
            if len(self._scene_renders.rests) >= _MOST_KEPT_RESTS:
                self._scene_renders.rests.clear()
            rest = self.renderer.render_layer(unchanged, ~in_front, self.divisor)
            self._scene_renders.rests[key] = rest
        if window is not None:
            left, top, right, bottom = window
            rest = tuple(layer[top:bottom, left:right] for layer in rest)
        return in_front, rest

    def _costs_ahead(self, hypotheses: Iterable[Hypothesis]) -> None:
        """The search-size costs of those of ``hypotheses`` not worked out yet, their changed objects drawn together
        (:meth:`StateRenderer.render_layers`: one wait for the rasteriser instead of one per drawing)."""
        pending: dict[tuple[Hypothesis, bool], Hypothesis] = {}
        for hypothesis in hypotheses:
            key = self._cost_key(hypothesis, False)
            if key is not None and key not in self._costs:
                pending.setdefault(key, hypothesis)
        if len(pending) < 2:
            return
        states = {key: self.state(hypothesis) for key, hypothesis in pending.items()}
        windows = {key: self._compared_windows(state) for key, state in states.items()}
        layers = {}  # drawing key -> (state, geoms drawn alone, the rest there, window)
        for key, state in states.items():
            outer = windows[key][1]
            drawing_key = self._drawing_key(state, False, outer)
            if outer is None or drawing_key in self._scene_renders.drawings or drawing_key in layers:
                continue
            layered = self._layered(state, outer)
            if layered is not None and layered[0].any():
                layers[drawing_key] = (state, *layered, outer)
        drawn = self.renderer.render_layers(
            [(state, geoms, outer) for state, geoms, _, outer in layers.values()], self.divisor
        )
        for (drawing_key, (_, _, rest, _)), layer in zip(layers.items(), drawn, strict=True):
            self._scene_renders.keep(drawing_key, nearer_of(layer, rest))
        for key, hypothesis in pending.items():
            self._costs[key] = self._distance(states[key], False, windows[key]) + self._prior(hypothesis)

    def _as_compared(self, drawn: np.ndarray, exact: bool, window: tuple[int, int, int, int] | None) -> np.ndarray:
        """A drawing of :meth:`_drawn` blurred like the edited image, at the comparison size (float32 RGB)."""
        if not exact:
            return self._blurred(drawn.astype(np.float32), self.divisor)
        size = self.compare_size if window is None else (window[2] - window[0], window[3] - window[1])
        return cv2.resize(self._blurred(drawn.astype(np.float32)), size, interpolation=cv2.INTER_AREA)

    def _reference(self, exact: bool) -> np.ndarray:
        """The render of the source scene, what every hypothesis's drawing is compared against (the change it makes)."""
        if exact not in self._references:
            self._references[exact] = self._render(self.source, exact)
        return self._references[exact]

    def _unchanged_distances(self, exact: bool) -> np.ndarray:
        """The summed-area table (:func:`cv2.integral`) of the per-pixel truncated distance between the unchanged view's
        change to the source render and the editor's change: a hypothesis's distance outside the pixels it changes. A
        still camera's unchanged view changes nothing, and nothing is drawn for it (a whole anti-aliased render, some
        20 ms a row, that most rows never need again); a moved camera's change is drawn."""
        if exact not in self._unchanged_integrals:
            if self.view is self.source:
                distance = np.abs(self.observed_change).sum(axis=2)
            else:
                unchanged_change = self._render(self.view, exact) - self._reference(exact)
                distance = np.abs(unchanged_change - self.observed_change).sum(axis=2)
            distance = np.minimum(distance, self.truncation)
            self._unchanged_integrals[exact] = cv2.integral(distance.astype(np.float64))
        return self._unchanged_integrals[exact]

    def _predicted_change(self, state: Scene, exact: bool) -> np.ndarray:
        """What ``state`` changes in the render of the source scene."""
        return self._render(state, exact) - self._reference(exact)

    def _changed_ids(self, objects: dict[int, SceneObject]) -> frozenset[int]:
        """The ids of the objects that a state's ``objects`` (by instance id) move, rescale, add or take away in the
        unchanged view (whose objects are the source's, whatever the camera)."""
        before = self._view_objects
        # (States share their unchanged objects: the identity test settles most of them without comparing fields.)
        return frozenset(
            i
            for i in before.keys() | objects.keys()
            if before.get(i) is not objects.get(i) and before.get(i) != objects.get(i)
        )

    def _change_window(self, state: Scene) -> tuple[int, int, int, int]:
        """The comparison-size pixels ``(left, top, right, bottom)`` outside which ``state`` renders exactly like the
        unchanged view (the source scene seen from the edited image's camera): around the 3D boxes of the objects it
        moves, rescales, adds or takes away, widened by the anti-aliasing and the blur; empty when it changes nothing,
        the whole image when a box reaches behind the camera. Its sides lie on a grid of ``_WINDOW_GRID`` pixels."""
        width, height = self.compare_size
        after = {o.instance_id: o for o in state.objects}
        changed = self._changed_ids(after)
        if not changed:
            return (0, 0, 0, 0)
        corners = np.concatenate(
            [
                *(_box_corners_of(after[i]) for i in changed if i in after),
                *(self._view_corners[i] for i in changed if i in self._view_corners),
            ]
        )
        pixels, depth = self.view.camera.project(corners)
        if np.any(depth <= 1e-3):
            return (0, 0, width, height)
        pixels = (pixels + 0.5) * (width / self.view.camera.width) - 0.5  # comparison-size pixels
        margin = 2 + self._blur_reach()
        low = (np.floor(pixels.min(axis=0)).astype(int) - margin) // _WINDOW_GRID * _WINDOW_GRID
        high = -(-(np.ceil(pixels.max(axis=0)).astype(int) + 1 + margin) // _WINDOW_GRID) * _WINDOW_GRID
        left, top = max(0, int(low[0])), max(0, int(low[1]))
        right, bottom = min(width, int(high[0])), min(height, int(high[1]))
        return (left, top, right, bottom) if left < right and top < bottom else (0, 0, 0, 0)

    def state(self, hypothesis: Hypothesis) -> Scene:
        """The source scene, seen from the edited image's camera, with the target changed as hypothesised (standing on
        the highest receptacle object under its new centre, if any, else on its own support)."""
        changed = changed_object(
            self.target,
            self.support_height,
            (hypothesis.dx_m, hypothesis.dy_m),
            hypothesis.yaw_deg,
            float(self.scales[hypothesis.scale_index]),
        )
        lift = self._surface_under(np.array(changed.pose.position)) - self.support_height
        if lift != 0.0:
            x, y, z = changed.pose.position
            changed = dataclasses.replace(changed, pose=dataclasses.replace(changed.pose, position=(x, y, z + lift)))
        return self.view.with_object(changed)

    def moved_centre(self, hypothesis: Hypothesis) -> np.ndarray:
        return np.array(self.state(hypothesis).object(self.target.instance_id).pose.position, float)

    def _other_tops(self) -> list[float]:
        return [top for _, top in [*self._receptacles_beside, *self._elsewhere]]

    def _camera_motion_change(self) -> np.ndarray:
        if not self.camera_moved:
            return np.zeros_like(self.observed_change)
        return self._predicted_change(self.state(Hypothesis(0.0, 0.0, 0.0, self.identity_index)), exact=False)

    def _hypothesis_distance(self, hypothesis: Hypothesis, exact: bool) -> float:
        return self._distance(self.state(hypothesis), exact)

    def _surface_under(self, position: np.ndarray) -> float:
        """World height of what the target would stand on with its centre at ``position``: the highest receiving
        surface of a receptacle object standing beside it over that point (a tray, a cutting board); else, off the
        surface the target stands on, the highest top over that point of another piece of furniture or of a receptacle
        object on one; else that surface (also where nothing is under the point: the search does not drop the target
        to the floor)."""

        def over(tops: list[tuple[Furniture, float]]) -> list[float]:
            return [top for piece, top in tops if surface_contains(piece, piece.top, position)]

        if beside := over(self._receptacles_beside):
            return max(beside)
        if self._own_support is not None and not surface_contains(*self._own_support, position):
            if elsewhere := over(self._elsewhere):
                return max(elsewhere)
        return self.support_height

    def _compared_windows(
        self, state: Scene
    ) -> tuple[tuple[int, int, int, int] | None, tuple[int, int, int, int] | None]:
        """``(window, outer)``: the comparison-size pixels ``state`` changes in the unchanged view
        (:meth:`_change_window`; None when it changes none), and the window drawn for them, wider by the blur's reach
        so that the blur sees the same neighbours as in a whole render (None with them)."""
        left, top, right, bottom = self._change_window(state)
        if not (left < right and top < bottom):
            return None, None
        reach = self._blur_reach()
        width, height = self.compare_size
        outer = (max(0, left - reach), max(0, top - reach), min(width, right + reach), min(height, bottom + reach))
        return (left, top, right, bottom), outer

    def _distance(
        self,
        state: Scene,
        exact: bool,
        windows: tuple[tuple[int, int, int, int] | None, tuple[int, int, int, int] | None] | None = None,
    ) -> float:
        """Mean truncated L1 distance between the change ``state`` makes to the render of the source scene and the
        change the editor made to the source image (``windows``: its :meth:`_compared_windows`, if already known).

        Only the pixels ``state`` changes in the unchanged view are drawn, with the source scene drawn in the same
        window: a narrowed view shades a few pixels slightly differently from the whole one, and its own render of the
        source scene cancels that. Elsewhere the distance is the unchanged view's (:meth:`_unchanged_distances`)."""
        window, outer = self._compared_windows(state) if windows is None else windows
        integral = self._unchanged_distances(exact)
        if window is None:
            return float(integral[-1, -1]) / (self.compare_size[0] * self.compare_size[1])
        left, top, right, bottom = window
        total = integral[-1, -1] - (
            integral[bottom, right] - integral[top, right] - integral[bottom, left] + integral[top, left]
        )
        inside = (slice(top - outer[1], bottom - outer[1]), slice(left - outer[0], right - outer[0]))
        predicted_change = (self._render(state, exact, outer) - self._window_reference(outer, exact))[inside]
        difference = np.abs(predicted_change - self.observed_change[top:bottom, left:right])
        # Summed over RGB plane by plane (as a sum over the last axis adds them; numpy reduces an axis of three slowly).
        distance = difference[..., 0] + difference[..., 1] + difference[..., 2]
        total += float(np.minimum(distance, self.truncation, out=distance).sum(dtype=np.float64))
        return float(total) / (self.compare_size[0] * self.compare_size[1])

    def _window_reference(self, window: tuple[int, int, int, int], exact: bool) -> np.ndarray:
        """The source scene rendered in ``window`` (comparison-size pixels), kept for the next hypotheses: windows
        are snapped to a grid, so neighbouring hypotheses share them."""
        key = (window, exact)
        if key not in self._window_references:
            if len(self._window_references) >= _WINDOW_REFERENCES:
                self._window_references.clear()
            self._window_references[key] = self._render(self.source, exact, window)
        return self._window_references[key]

    def removal_cost(self) -> float:
        """The exact cost of "the target is gone" (no prior: a removal is no larger a change than an edit that
        takes the target out of sight, and it should win against those)."""
        return self._distance(self.view.without_object(self.target.instance_id), exact=True)

    def target_residual(self, hypothesis: Hypothesis) -> float:
        """Median distance (summed over RGB) between the change ``hypothesis`` predicts and the change observed, over
        the pixels where the hypothesised target shows (infinite where it shows nowhere): small where the target
        really is as hypothesised, large where the hypothesis only explains some other change a little better than
        nothing. Changes, not images, are compared, as in :meth:`cost` (the renders have no shadows)."""
        state = self.state(hypothesis)
        shows = self.renderer.render_instances(state) == self.target.instance_id
        shows = cv2.resize(shows.astype(np.uint8), self.compare_size, interpolation=cv2.INTER_NEAREST) > 0
        if not shows.any():
            return float("inf")
        residual = np.abs(self._predicted_change(state, exact=True) - self.observed_change).sum(axis=2)
        return float(np.median(residual[shows]))

    def unturned_cost(self, hypothesis: Hypothesis) -> float:
        """The cheaper of the search's and of the target's mirror image unturned (the unturned target's drawn pixels
        flipped left to right within its box in the image, over the scene drawn without it, as a generator flips it):
        a generator that draws the target mirrored has not turned it, however well a turn explains the mirror image. A
        real turn keeps its evidence: its mirror image unturned does not draw it."""
        unturned_cost = super().unturned_cost(hypothesis)
        if _yaw_gap(hypothesis.yaw_deg, 0.0) == 0.0:
            return unturned_cost
        unturned = dataclasses.replace(hypothesis, yaw_deg=0.0)
        state = self.state(unturned)
        shows = self.mask(unturned, self.compare_size[::-1])
        if not shows.any():
            return unturned_cost
        drawn = self._render(state, exact=True)
        mirrored = self._render(self.view.without_object(self.target.instance_id), exact=True)
        rows, columns = np.nonzero(shows)
        box = slice(rows.min(), rows.max() + 1), slice(columns.min(), columns.max() + 1)
        flipped = shows[box][:, ::-1]
        mirrored[box][flipped] = drawn[box][:, ::-1][flipped]
        difference = np.abs(mirrored - self._reference(exact=True) - self.observed_change).sum(axis=2)
        distance = float(np.minimum(difference, self.truncation).sum()) / (self.compare_size[0] * self.compare_size[1])
        return min(unturned_cost, distance + self._prior(unturned))

    def mask(self, hypothesis: Hypothesis, shape: tuple[int, int]) -> np.ndarray:
        """The target's pixels under ``hypothesis``, at the full image ``shape``."""
        instances = self.renderer.render_instances(self.state(hypothesis))
        target = (instances == self.target.instance_id).astype(np.uint8)
        return cv2.resize(target, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST) > 0
