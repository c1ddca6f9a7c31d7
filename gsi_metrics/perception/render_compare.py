"""Render-and-compare against the stored scene (synthetic rows): the target's pose and scale that make a
re-render of the source scene look most like the edited image.

Synthetic rows carry their full scene description (``scene`` column), so every hypothesis about the
target, "moved by (dx, dy) on the table, turned by yaw, scaled by s about its contact point", can be
rendered exactly, with the other objects, the lights and the camera as in the source. The hypothesis
whose change to the render (against the render of the unchanged scene) is closest to the change the
editor made to the source image (mean truncated L1 over the whole image, at half resolution, without
shadows) is the recovered change. This sees what features cannot: faces hidden in
the source, bodies of revolution, untextured objects.

Search: a few starting hypotheses (no change, the feature-based estimate, and one per large changed
region of the image), a sweep of yaw every 45 degrees and of scale over the grid at the best of them,
then coordinate descent with shrinking steps (yaw 10 / 5 / 2.5 degrees, translation 2 / 1 / 0.5 cm, one
scale-grid step). Scales come from a geometric grid (``scale_ratio``) because a mesh's scale is fixed
when the model is compiled; every grid scale is one variant in a single compiled model.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import cv2
import numpy as np

from gsi_datasets.geometry import matrix_to_quaternion, rotation_about_axis
from gsi_datasets.rendering import StateRenderer
from gsi_datasets.scene import Pose, Scene
from gsi_metrics.sample import SourceSample

_UP = np.array([0.0, 0.0, 1.0])


@dataclass(frozen=True)
class Hypothesis:
    """Target change in the world frame: table-plane shift (m), yaw about "up" (deg), index into the scale grid."""

    dx_m: float
    dy_m: float
    yaw_deg: float
    scale_index: int


class RenderComparer:
    """Scores hypotheses about the target by re-rendering the stored source scene (see module docstring)."""

    def __init__(
        self,
        sample: SourceSample,
        edited: np.ndarray,
        divisor: int = 2,
        scale_ratio: float = 1.06,
        scale_range: tuple[float, float] = (0.4, 2.6),
        truncation: float = 150.0,
        prior_weight: float = 0.05,
        max_shift_m: float = 0.4,
    ) -> None:
        if sample.scene is None:
            raise ValueError(f"sample {sample.sample_id} has no stored scene to render")
        source = Scene.from_dict(sample.scene["source"])
        camera = source.camera
        self.full_camera = camera
        small = dataclasses.replace(camera, width=camera.width // divisor, height=camera.height // divisor)
        self.source = dataclasses.replace(source, camera=small)
        self.target = self.source.object(sample.target_id)
        low, high = (int(np.floor(np.log(v) / np.log(scale_ratio))) for v in scale_range)
        self.scales = scale_ratio ** np.arange(low, high + 1)
        self.identity_index = int(np.argmin(np.abs(np.log(self.scales))))
        self.scales[self.identity_index] = 1.0
        variants = [
            self.source.with_object(dataclasses.replace(self.target, scale=self.target.scale * s)) for s in self.scales
        ]
        self.renderer = StateRenderer(variants)
        self.edited = cv2.resize(edited, (small.width, small.height), interpolation=cv2.INTER_AREA).astype(np.float32)
        size = (small.width, small.height)
        self.source_image = cv2.resize(sample.image, size, interpolation=cv2.INTER_AREA).astype(np.float32)
        # Compare changes, not images: what the hypothesis changes in a render against what the editor
        # changed in the source image. Everything static (other objects, their shadows, anti-aliasing, the
        # renderer's own look) cancels, and an unchanged output is explained exactly by "no change".
        self.observed_change = self.edited - self.source_image
        self.reference_render = self.renderer.render_rgb(self.source, shadows=False).astype(np.float32)
        self.truncation = truncation
        self.prior_weight = prior_weight
        self.max_shift_m = max_shift_m
        self.table_height = source.table.height
        self._costs: dict[Hypothesis, float] = {}

    def close(self) -> None:
        self.renderer.close()

    def state(self, hypothesis: Hypothesis) -> Scene:
        """The source scene with the target changed as hypothesised (scaled about its contact point)."""
        scale = self.scales[hypothesis.scale_index]
        x, y, z = self.target.pose.position
        position = (x + hypothesis.dx_m, y + hypothesis.dy_m, self.table_height + scale * (z - self.table_height))
        rotation = rotation_about_axis(_UP, hypothesis.yaw_deg) @ self.target.pose.rotation
        moved = dataclasses.replace(
            self.target,
            scale=self.target.scale * scale,
            pose=Pose(position, tuple(float(q) for q in matrix_to_quaternion(rotation))),
        )
        return self.source.with_object(moved)

    def cost(self, hypothesis: Hypothesis) -> float:
        """Mean truncated L1 distance (summed over RGB) between the change the hypothesis makes to the render
        of the source scene and the change the editor made to the source image, plus a small prior towards
        "no change": where the image cannot tell hypotheses apart (the yaw of a body of revolution, a hidden
        object), the smallest change wins instead of an arbitrary one."""
        if (
            not 0 <= hypothesis.scale_index < len(self.scales)
            or np.hypot(hypothesis.dx_m, hypothesis.dy_m) > self.max_shift_m
        ):
            return float("inf")
        if hypothesis not in self._costs:
            rendered = self.renderer.render_rgb(self.state(hypothesis), shadows=False).astype(np.float32)
            predicted_change = rendered - self.reference_render
            distance = np.minimum(np.abs(predicted_change - self.observed_change).sum(axis=2), self.truncation)
            yaw = abs((hypothesis.yaw_deg + 180.0) % 360.0 - 180.0) / 180.0
            change = (
                yaw
                + abs(np.log(self.scales[hypothesis.scale_index]))
                + np.hypot(hypothesis.dx_m, hypothesis.dy_m) / 0.3
            )
            self._costs[hypothesis] = float(distance.mean()) + self.prior_weight * change
        return self._costs[hypothesis]

    def changed_region_hypotheses(self, limit: int = 3) -> list[Hypothesis]:
        """One translation hypothesis per large region where the edited image differs from the source image:
        the region's centroid ray meets the plane at the target's centre height."""
        changed = (np.abs(self.source_image - self.edited).sum(axis=2) > 60).astype(np.uint8)
        changed = cv2.morphologyEx(changed, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        count, _, stats, centroids = cv2.connectedComponentsWithStats(changed)
        order = np.argsort(-stats[1:, cv2.CC_STAT_AREA])[:limit] + 1
        camera = self.source.camera
        intrinsics, rotation = camera.intrinsics, np.array(camera.rotation)
        origin = np.array(camera.position)
        centre_height = self.target.pose.position[2]
        hypotheses = []
        for label in order:
            if stats[label, cv2.CC_STAT_AREA] < 4:
                continue
            u, v = centroids[label]
            ray = rotation @ np.linalg.solve(intrinsics, np.array([u, v, 1.0]))
            if abs(ray[2]) < 1e-9:
                continue
            hit = origin + ray * (centre_height - origin[2]) / ray[2]
            hypotheses.append(
                Hypothesis(
                    float(hit[0] - self.target.pose.position[0]),
                    float(hit[1] - self.target.pose.position[1]),
                    0.0,
                    self.identity_index,
                )
            )
        return hypotheses

    def search(self, starts: list[Hypothesis]) -> tuple[Hypothesis, float]:
        """Best hypothesis from ``starts`` (see module docstring) and its cost."""
        starts = [*starts, Hypothesis(0.0, 0.0, 0.0, self.identity_index), *self.changed_region_hypotheses()]
        best = min(starts, key=self.cost)
        sweep = [dataclasses.replace(best, yaw_deg=best.yaw_deg + step) for step in range(45, 360, 45)]
        best = min([best, *sweep], key=self.cost)
        sweep = [dataclasses.replace(best, scale_index=i) for i in range(self.identity_index % 4, len(self.scales), 4)]
        best = min([best, *sweep], key=self.cost)
        for yaw_step, shift_step in ((10.0, 0.02), (5.0, 0.01), (2.5, 0.005)):
            improved = True
            while improved:
                neighbours = [
                    dataclasses.replace(best, yaw_deg=best.yaw_deg + yaw_step),
                    dataclasses.replace(best, yaw_deg=best.yaw_deg - yaw_step),
                    dataclasses.replace(best, dx_m=best.dx_m + shift_step),
                    dataclasses.replace(best, dx_m=best.dx_m - shift_step),
                    dataclasses.replace(best, dy_m=best.dy_m + shift_step),
                    dataclasses.replace(best, dy_m=best.dy_m - shift_step),
                    dataclasses.replace(best, scale_index=best.scale_index + 1),
                    dataclasses.replace(best, scale_index=best.scale_index - 1),
                ]
                candidate = min(neighbours, key=self.cost)
                improved = self.cost(candidate) < self.cost(best) - 1e-6
                if improved:
                    best = candidate
        return best, self.cost(best)

    def to_camera_frame(self, hypothesis: Hypothesis) -> tuple[np.ndarray, np.ndarray, float]:
        """``(translation_m of the box centre, relative rotation, scale)`` in the source camera frame."""
        world_to_camera = self.full_camera.world_to_camera[:3, :3]
        moved = self.state(hypothesis).object(self.target.instance_id)
        shift_world = np.subtract(moved.pose.position, self.target.pose.position)
        rotation_world = rotation_about_axis(_UP, hypothesis.yaw_deg)
        return (
            world_to_camera @ shift_world,
            world_to_camera @ rotation_world @ world_to_camera.T,
            float(self.scales[hypothesis.scale_index]),
        )

    def mask(self, hypothesis: Hypothesis, shape: tuple[int, int]) -> np.ndarray:
        """The target's pixels under ``hypothesis``, at the full image ``shape``."""
        instances = self.renderer.render_instances(self.state(hypothesis))
        small = (instances == self.target.instance_id).astype(np.uint8)
        return cv2.resize(small, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST) > 0

    def hypothesis_from_camera_frame(self, translation_m: np.ndarray, rotation: np.ndarray, scale: float) -> Hypothesis:
        """The grid hypothesis closest to a camera-frame estimate (e.g. the feature-based one)."""
        camera_to_world = self.full_camera.world_to_camera[:3, :3].T
        shift_world = camera_to_world @ translation_m
        rotation_world = camera_to_world @ rotation @ camera_to_world.T
        yaw = float(np.rad2deg(np.arctan2(rotation_world[1, 0], rotation_world[0, 0])))
        index = int(np.argmin(np.abs(np.log(self.scales) - np.log(max(scale, 1e-6)))))
        # Only the table-plane part of the shift is a free parameter; the rise follows from the scale.
        return Hypothesis(float(shift_world[0]), float(shift_world[1]), yaw, index)
