"""Scans with an annotated mesh (ScanNet++ first, and every dataset ``scenezoo`` reads with a mesh, instance
segments and posed RGB-D frames: ScanNet, ARKitScenes, MultiScan, 3RScan, ...), read into :class:`RGBDFrame`.

``scenezoo`` (``pip install gsi-bench[real]``) reads the release's own files: the frames (RGB, depth, intrinsics and
world-to-camera poses, resampled by it to one image size), the mesh and its per-vertex instance labels. What this
module adds is the grounding the paper got from a single-image detector, exact here because the scan is annotated:

- **Instance masks** by casting every pixel's ray into the annotated mesh (Open3D's ray casting): a pixel shows the
  instance whose triangle it hits first, so occlusion is exact. A **depth test** then drops the pixels where the
  frame's own depth disagrees with the mesh by more than :data:`DEPTH_TOLERANCE_M` (or that share of the depth) within
  a small neighbourhood (the sensor's depth is coarser than the image), and an instance whose pixels mostly disagree
  (:data:`MIN_DEPTH_AGREEMENT`) is not labelled in that frame at all: what was moved or taken away after the scan,
  or never scanned, is not labelled. (A flat thing taken away, a plate, leaves a depth no different from its support's:
  depth cannot tell.)
- **Visible fractions**: the masked pixels over the pixels the instance covers when nothing is in front of it.
- **Boxes** from the instance's whole mesh, not from one view's depth: gravity-aligned (the scans are z-up), the
  footprint the smallest rectangle around the vertices (its sides give the yaw), put into the frame's camera.

Instance ids in the frames are the annotation's object ids plus one (0 is "no instance"); labels are the
annotation's, as :func:`~gsi_datasets.real.frames.normalized_category` writes them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from gsi_datasets.geometry import ObjectMesh, project_points, transform_points
from gsi_datasets.real.frames import CaptureError, RGBDFrame, normalized_category
from gsi_datasets.real.grounding import GroundedBox, gravity_box

#: The frame's depth may differ from the mesh's by this much (m), or by this share of the depth, before a pixel's
#: label is dropped.
DEPTH_TOLERANCE_M = 0.05
DEPTH_TOLERANCE_SHARE = 0.02
#: An instance whose pixels agree with the frame's depth on less than this share is not labelled in that frame at
#: all: it was moved or taken away after the scan (what is left agrees only where it met its support).
MIN_DEPTH_AGREEMENT = 0.5
#: Frames are read this many at a time.
FRAMES_PER_READ = 8
#: Scenes are z-up in every dataset read here.
WORLD_UP = np.array([0.0, 0.0, 1.0])


def _scenezoo():
    try:
        import scenezoo
    except ImportError as error:  # pragma: no cover - depends on the installation
        raise ImportError(
            "reading scans (ScanNet++, ScanNet, ARKitScenes, ...) needs scenezoo: pip install 'gsi-bench[real]'"
        ) from error
    return scenezoo


def _open_dataset(dataset: str, root: Path):
    """scenezoo's adapter of ``dataset`` for ``root`` (CaptureError: a missing root, an unknown dataset)."""
    scenezoo = _scenezoo()
    if not root.is_dir():
        raise CaptureError(f"{root}: no such folder (the root of a {dataset} download)")
    try:
        return scenezoo.get_dataset(dataset, root)
    except (KeyError, ValueError) as error:
        known = ", ".join(scenezoo.list_datasets())
        raise CaptureError(f"unknown scan dataset {dataset!r} ({error}); scenezoo reads: {known}") from error


def scene_ids(dataset: str, root: str | Path) -> list[str]:
    """Every scene of a scan dataset's root (all splits).

    Raises:
        CaptureError: the root is missing, the dataset unknown, or it holds no scene.
    """
    ids = _open_dataset(dataset, Path(root)).get_ids()
    if not ids:
        raise CaptureError(f"{root}: no {dataset} scenes (its split lists name none)")
    return list(ids)


class ScanCapture:
    """One scene of a scan dataset, its frames with exact instance masks and its objects' boxes.

    Args:
        dataset: a ``scenezoo`` dataset name or alias (``scannetpp``, ``scannet``, ``arkitscenes``, ...).
        root: the dataset's root folder, as its download tool writes it.
        scene_id: the scene.
        image_size: ``(width, height)`` every frame is resampled to (RGB by area, depth nearest, intrinsics with
            them); None keeps the source size.
        reader_options: more options of the ``scenezoo`` adapter (e.g. ``source="iphone"`` for ScanNet++).

    Raises:
        CaptureError: the scene or its files cannot be read (the message names what and where).
    """

    def __init__(
        self,
        dataset: str,
        root: str | Path,
        scene_id: str,
        image_size: tuple[int, int] | None = (960, 720),
        **reader_options: object,
    ) -> None:
        self.root, self.scene_id, self.image_size = Path(root), scene_id, image_size
        self._reader_options = reader_options
        self._dataset = _open_dataset(dataset, self.root)
        self._errors = (_scenezoo().SceneZooError, OSError, ValueError, KeyError)
        # Per instance, computed once: its ray casting scene, mesh, surface points and world-frame box.
        self._instance_scenes: dict[int, Any] = {}
        self._surface_points: dict[int, np.ndarray] = {}
        self._meshes: dict[int, ObjectMesh] = {}
        self._world_boxes: dict[int, GroundedBox] = {}

    def _read(self, what: str, call, *args, **kwargs):
        try:
            return call(*args, **kwargs)
        except self._errors as error:
            raise CaptureError(f"{self.root} scene {self.scene_id}: cannot read its {what}: {error}") from error

    @cached_property
    def frame_ids(self) -> list[str]:
        """Every frame with a valid camera, in capture order."""
        batch = self._read(
            "camera poses", self._dataset.get_frames, self.scene_id, items=("world_to_camera",), **self._reader_options
        )
        return list(batch.frame_keys)

    @cached_property
    def _scan_mesh(self):
        """The scan's mesh as the reader returns it (an Open3D triangle mesh)."""
        return self._read("mesh", self._dataset.get_mesh, self.scene_id)

    @cached_property
    def _mesh(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[int, str]]:
        """``(vertices (V, 3), triangles (T, 3), triangle instance ids (T,), labels)``; ids are object id + 1."""
        mesh = self._scan_mesh
        vertices = np.asarray(mesh.vertices, np.float64)
        triangles = np.asarray(mesh.triangles, np.int64)
        if len(vertices) == 0 or len(triangles) == 0:
            raise CaptureError(f"{self.root} scene {self.scene_id}: its mesh has no triangles")
        segmentation = self._read("instance annotation", self._dataset.get_segmentation, self.scene_id)
        labels = np.asarray(segmentation.labels)
        if labels.shape != (len(vertices),):
            raise CaptureError(
                f"{self.root} scene {self.scene_id}: the instance annotation labels {labels.shape[0]} vertices, "
                f"the mesh has {len(vertices)}"
            )
        ids = np.where(labels == segmentation.invalid_id, 0, labels + 1).astype(np.int64)
        first, second, third = (ids[triangles[:, k]] for k in range(3))
        triangle_ids = np.where((first == second) | (first == third), first, second)  # the majority, else one
        names = {int(k) + 1: normalized_category(v) for k, v in segmentation.id_to_name.items()}
        return vertices, triangles, triangle_ids, names

    @property
    def labels(self) -> dict[int, str]:
        """The category of every annotated instance id."""
        return dict(self._mesh[3])

    @cached_property
    def _ray_scene(self):
        vertices, triangles, _, _ = self._mesh
        return _ray_scene(vertices, triangles)

    def _instance_ray_scene(self, instance_id: int):
        if instance_id not in self._instance_scenes:
            vertices, triangles, triangle_ids, _ = self._mesh
            self._instance_scenes[instance_id] = _ray_scene(vertices, triangles[triangle_ids == instance_id])
        return self._instance_scenes[instance_id]

    def instance_vertices(self, instance_id: int) -> np.ndarray:
        """The world-frame vertices of an instance's triangles."""
        return self.instance_mesh(instance_id).vertices

    def instance_mesh(self, instance_id: int) -> ObjectMesh:
        """The instance's triangles (world frame) with the scan's vertex colours (grey where the scan has none)."""
        if instance_id not in self._meshes:
            vertices, triangles, triangle_ids, _ = self._mesh
            own = triangles[triangle_ids == instance_id]
            used, faces = np.unique(own, return_inverse=True)
            self._meshes[instance_id] = ObjectMesh(vertices[used], faces.reshape(-1, 3), self._vertex_colours[used])
        return self._meshes[instance_id]

    @cached_property
    def _vertex_colours(self) -> np.ndarray:
        colours = np.asarray(self._scan_mesh.vertex_colors, np.float64)
        vertices = self._mesh[0]
        if colours.shape != vertices.shape:
            return np.full(vertices.shape, 128, np.uint8)
        return np.clip(np.round(colours * 255.0), 0, 255).astype(np.uint8)

    def surface_points(self, instance_id: int, spacing_m: float = 0.01, most: int = 20_000) -> np.ndarray:
        """World-frame points spread evenly over an instance's surface (about one per ``spacing_m`` squared, at most
        ``most``; the same points every call): denser than its vertices, so a small object's footprint finds the
        surface under it."""
        if instance_id not in self._surface_points:
            mesh = self.instance_mesh(instance_id)
            self._surface_points[instance_id] = mesh.surface_samples(spacing_m, most, seed=instance_id)[0]
        return self._surface_points[instance_id]

    def frames(self, frame_ids: Sequence[str] | None = None) -> Iterator[RGBDFrame]:
        """The frames ``frame_ids`` (default: all), with instance images and labels, read a few at a time."""
        frame_ids = self.frame_ids if frame_ids is None else list(frame_ids)
        unknown = sorted(set(frame_ids) - set(self.frame_ids))
        if unknown:
            raise CaptureError(f"{self.root} scene {self.scene_id} has no frames {unknown[:5]}")
        for start in range(0, len(frame_ids), FRAMES_PER_READ):
            keys = frame_ids[start : start + FRAMES_PER_READ]
            batch = self._read(
                f"frames {keys[0]}..{keys[-1]}",
                self._dataset.get_frames,
                self.scene_id,
                frame_keys=keys,
                items=("rgb", "depth", "rgb_intrinsics", "world_to_camera"),
                output_size=self.image_size,
                **self._reader_options,
            )
            for index, key in enumerate(batch.frame_keys):
                yield self._frame(
                    key,
                    np.asarray(batch.rgb[index], np.uint8),
                    np.asarray(batch.depth[index], np.float32),
                    np.asarray(batch.rgb_intrinsics[index], np.float64),
                    np.linalg.inv(np.asarray(batch.world_to_camera[index], np.float64)),
                )

    def _frame(
        self, key: str, rgb: np.ndarray, depth: np.ndarray, intrinsics: np.ndarray, camera_to_world: np.ndarray
    ) -> RGBDFrame:
        if depth.shape != rgb.shape[:2]:
            raise CaptureError(
                f"{self.root} scene {self.scene_id} frame {key}: depth {depth.shape} is not the image's size "
                f"{rgb.shape[:2]}"
            )
        _, _, triangle_ids, labels = self._mesh
        hit, mesh_depth = _cast(self._ray_scene, intrinsics, camera_to_world, rgb.shape[1], rgb.shape[0])
        instances = np.where(hit >= 0, triangle_ids[np.maximum(hit, 0)], 0)
        agrees = _depth_agrees(mesh_depth, depth)
        pixels = np.bincount(instances.ravel())
        agreeing = np.bincount(instances[agrees], minlength=len(pixels))
        moved = np.nonzero(agreeing < MIN_DEPTH_AGREEMENT * pixels)[0]
        instances[~agrees | np.isin(instances, moved)] = 0
        shown = {int(i): labels[int(i)] for i in np.unique(instances) if i in labels}
        return RGBDFrame(key, rgb, depth, intrinsics, camera_to_world, instances.astype(np.int32), shown)

    def unoccluded_pixels(self, frame: RGBDFrame, instance_id: int) -> int:
        """How many pixels of ``frame`` the instance would cover with nothing in front of it."""
        vertices = self.instance_vertices(instance_id)
        if len(vertices) == 0:
            return 0
        height, width = frame.rgb.shape[:2]
        in_camera = transform_points(np.linalg.inv(frame.camera_to_world), vertices)
        in_front = in_camera[in_camera[:, 2] > 1e-3]
        if len(in_front) == 0:
            return 0
        pixels = project_points(frame.intrinsics, in_front)
        low = np.clip(np.floor(pixels.min(axis=0)).astype(int) - 1, 0, [width - 1, height - 1])
        high = np.clip(np.ceil(pixels.max(axis=0)).astype(int) + 1, 0, [width - 1, height - 1])
        hit, _ = _cast(
            self._instance_ray_scene(instance_id), frame.intrinsics, frame.camera_to_world, width, height, (low, high)
        )
        return int(np.count_nonzero(hit >= 0))

    def visible_fraction(self, frame: RGBDFrame, instance_id: int) -> float:
        """The instance's pixels in ``frame`` over :meth:`unoccluded_pixels` (0 when it is not in view)."""
        shown = int(np.count_nonzero(frame.instances == instance_id))
        return min(shown / max(self.unoccluded_pixels(frame, instance_id), 1), 1.0)

    def box(self, frame: RGBDFrame, instance_id: int) -> GroundedBox:
        """The instance's gravity-aligned box from its whole mesh, in ``frame``'s camera."""
        if instance_id not in self._world_boxes:
            vertices = self.instance_vertices(instance_id)
            if len(vertices) < 4:
                raise CaptureError(f"{self.root} scene {self.scene_id}: instance {instance_id} has no mesh to box")
            self._world_boxes[instance_id] = gravity_box(vertices, WORLD_UP)
        world = self._world_boxes[instance_id]
        world_to_camera = np.linalg.inv(frame.camera_to_world)
        return GroundedBox(
            centre=world_to_camera[:3, :3] @ world.centre + world_to_camera[:3, 3],
            size=world.size,
            rotation=world_to_camera[:3, :3] @ world.rotation,
            points=world.points,
            yaw_known=world.yaw_known,
        )


def _ray_scene(vertices: np.ndarray, triangles: np.ndarray):
    import open3d as o3d

    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(
        o3d.core.Tensor(np.ascontiguousarray(vertices, np.float32)),
        o3d.core.Tensor(np.ascontiguousarray(triangles, np.uint32)),
    )
    return scene


def _cast(
    scene,
    intrinsics: np.ndarray,
    camera_to_world: np.ndarray,
    width: int,
    height: int,
    window: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``(first triangle hit or -1, its z-depth)`` of every pixel (pixel centres at integer coordinates) of an image,
    or of the pixels ``window = (low, high)`` (inclusive (x, y) corners) of it with -1 / 0 elsewhere."""
    import open3d as o3d

    (x0, y0), (x1, y1) = window if window is not None else ((0, 0), (width - 1, height - 1))
    columns, rows = np.meshgrid(np.arange(x0, x1 + 1), np.arange(y0, y1 + 1))
    pixels = np.stack([columns.ravel(), rows.ravel(), np.ones(columns.size)], axis=1)
    directions = pixels @ np.linalg.inv(intrinsics).T @ np.asarray(camera_to_world)[:3, :3].T  # z = 1 in the camera
    origins = np.broadcast_to(np.asarray(camera_to_world)[:3, 3], directions.shape)
    rays = o3d.core.Tensor(np.concatenate([origins, directions], axis=1).astype(np.float32))
    answer = scene.cast_rays(rays)
    hits = answer["primitive_ids"].numpy().astype(np.int64)
    depth = answer["t_hit"].numpy().astype(np.float64)  # along a direction of unit camera z: the z-depth
    missed = ~np.isfinite(depth)
    hits[missed], depth[missed] = -1, 0.0
    full_hits, full_depth = np.full((height, width), -1, np.int64), np.zeros((height, width))
    full_hits[y0 : y1 + 1, x0 : x1 + 1] = hits.reshape(columns.shape)
    full_depth[y0 : y1 + 1, x0 : x1 + 1] = depth.reshape(columns.shape)
    return full_hits, full_depth


def _depth_agrees(mesh_depth: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """Where the mesh's depth is within tolerance of the frame's depth somewhere in a small neighbourhood (or the
    frame has no depth there): the frame's depth may be coarser than its image."""
    radius = 4
    kernel = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    valid = depth > 0
    nearest = cv2.erode(np.where(valid, depth, np.inf).astype(np.float32), kernel)
    farthest = cv2.dilate(np.where(valid, depth, 0.0).astype(np.float32), kernel)
    tolerance = np.maximum(DEPTH_TOLERANCE_M, DEPTH_TOLERANCE_SHARE * mesh_depth)
    unknown = ~np.isfinite(nearest)
    return unknown | ((mesh_depth >= nearest - tolerance) & (mesh_depth <= farthest + tolerance))
