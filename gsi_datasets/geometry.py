"""Pure geometry helpers shared by the data builders and the metrics.

Conventions (see the README, "Frames and units"):
- World frame: metres, z up, the table top is the plane z = table height.
- Camera frame: OpenCV (x right, y down, z forward); ``world_to_camera`` is a 4x4 matrix mapping
  homogeneous world points into it.
- Pixel frame: pixel ``(u, v)`` has its centre at integer coordinates, u to the right, v down, so
  ``u = fx * x / z + cx`` with ``cx = (width - 1) / 2`` for a centred principal point.
- A 3D box is ``(centre, size, rotation)``: centre (3,), full extents along the box's own axes (3,),
  rotation (3, 3) whose columns are the box axes expressed in the frame of the centre.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

_CORNER_SIGNS = np.array(
    [[sx, sy, sz] for sx in (-0.5, 0.5) for sy in (-0.5, 0.5) for sz in (-0.5, 0.5)], dtype=np.float64
)


def box_corners(centre: np.ndarray, size: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """The eight corners of a 3D box, ``(8, 3)``: ``centre + rotation @ (signs * size)``."""
    return np.asarray(centre) + (_CORNER_SIGNS * np.asarray(size)) @ np.asarray(rotation).T


def transform_points(matrix_4x4: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Applies a rigid 4x4 transform to ``(N, 3)`` points."""
    matrix_4x4 = np.asarray(matrix_4x4)
    return np.asarray(points) @ matrix_4x4[:3, :3].T + matrix_4x4[:3, 3]


def project_points(intrinsics: np.ndarray, points_camera: np.ndarray) -> np.ndarray:
    """Pinhole projection of camera-frame points ``(N, 3)`` to pixels ``(N, 2)``: ``(K p)[:2] / z``."""
    points_camera = np.asarray(points_camera, dtype=np.float64)
    homogeneous = points_camera @ np.asarray(intrinsics, dtype=np.float64).T
    return homogeneous[:, :2] / homogeneous[:, 2:3]


def projected_box_2d(intrinsics: np.ndarray, centre: np.ndarray, size: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """Tight 2D box ``[u_min, v_min, u_max, v_max]`` (pixels) around a camera-frame 3D box's projection.

    Raises:
        ValueError: when a corner lies at or behind the camera plane (no finite projection).
    """
    corners = box_corners(centre, size, rotation)
    if np.any(corners[:, 2] <= 1e-6):
        raise ValueError("the 3D box reaches behind the camera; its projection is unbounded")
    pixels = project_points(intrinsics, corners)
    return np.concatenate([pixels.min(axis=0), pixels.max(axis=0)])


def intrinsics_from_fovy(fovy_deg: float, width: int, height: int) -> np.ndarray:
    """Pinhole ``K`` (3x3) for square pixels, vertical field of view ``fovy_deg`` and a centred principal point."""
    focal = (height / 2.0) / np.tan(np.deg2rad(fovy_deg) / 2.0)
    return np.array([[focal, 0.0, (width - 1) / 2.0], [0.0, focal, (height - 1) / 2.0], [0.0, 0.0, 1.0]])


def rotation_about_axis(axis: np.ndarray, angle_deg: float) -> np.ndarray:
    """Right-handed rotation matrix about a unit ``axis`` by ``angle_deg`` (Rodrigues)."""
    axis = np.asarray(axis, dtype=np.float64)
    axis = axis / np.linalg.norm(axis)
    angle = np.deg2rad(angle_deg)
    cross = np.array([[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]], [-axis[1], axis[0], 0.0]])
    return np.eye(3) + np.sin(angle) * cross + (1.0 - np.cos(angle)) * cross @ cross


def axis_angle_from_rotation(rotation: np.ndarray) -> tuple[np.ndarray, float]:
    """Inverse of :func:`rotation_about_axis`: ``(unit axis, angle_deg)`` with angle in [0, 180].

    The identity returns the z axis and 0 degrees.
    """
    rotation = np.asarray(rotation, dtype=np.float64)
    cos_angle = np.clip((np.trace(rotation) - 1.0) / 2.0, -1.0, 1.0)
    angle = float(np.arccos(cos_angle))
    if angle < 1e-9:
        return np.array([0.0, 0.0, 1.0]), 0.0
    if np.pi - angle < 1e-3:
        # Near 180 degrees the skew part vanishes into the matrix's rounding (a box rotation from float32 scan vertices
        # is orthonormal to ~1e-7, which moves the angle by ~1e-4 rad and makes the skew part noise): take the axis
        # from the symmetric part instead, and the turn as a half turn (within 0.06 degrees).
        symmetric = (rotation + np.eye(3)) / 2.0
        axis = symmetric[:, int(np.argmax(np.diag(symmetric)))]
        return axis / np.linalg.norm(axis), 180.0
    skew = np.array([rotation[2, 1] - rotation[1, 2], rotation[0, 2] - rotation[2, 0], rotation[1, 0] - rotation[0, 1]])
    if np.linalg.norm(skew) < 1e-12:  # a symmetric matrix a rounding error from the identity: no turn
        return np.array([0.0, 0.0, 1.0]), 0.0
    return skew / (2.0 * np.sin(angle)), float(np.rad2deg(angle))


def quaternion_to_matrix(quat_wxyz: np.ndarray) -> np.ndarray:
    """Rotation matrix of a unit quaternion ``(w, x, y, z)`` (MuJoCo's order)."""
    w, x, y, z = np.asarray(quat_wxyz, dtype=np.float64) / np.linalg.norm(quat_wxyz)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def matrix_to_quaternion(rotation: np.ndarray) -> np.ndarray:
    """Unit quaternion ``(w, x, y, z)`` with w >= 0 of a rotation matrix (Shepperd's method)."""
    m = np.asarray(rotation, dtype=np.float64)
    trace = np.trace(m)
    if trace > 0:
        s = 2.0 * np.sqrt(trace + 1.0)
        quat = np.array([0.25 * s, (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s])
    else:
        i = int(np.argmax(np.diag(m)))
        j, k = (i + 1) % 3, (i + 2) % 3
        s = 2.0 * np.sqrt(1.0 + m[i, i] - m[j, j] - m[k, k])
        quat = np.empty(4)
        quat[0] = (m[k, j] - m[j, k]) / s
        quat[1 + i] = 0.25 * s
        quat[1 + j] = (m[j, i] + m[i, j]) / s
        quat[1 + k] = (m[k, i] + m[i, k]) / s
    quat /= np.linalg.norm(quat)
    return quat if quat[0] >= 0 else -quat


def yaw_from_rotation(rotation_camera: np.ndarray) -> float:
    """Heading of a camera-frame box rotation about the camera's y axis, radians (reference-format ``yaw``).

    The reference tools store boxes as ``[x, y, z, w, h, l, yaw]``; yaw is the angle of the box's x axis
    in the camera's x-z plane, ``atan2(-R[2, 0], R[0, 0])`` (a rotation about +y by yaw maps x to
    ``(cos yaw, 0, -sin yaw)``).
    """
    rotation_camera = np.asarray(rotation_camera)
    return float(np.arctan2(-rotation_camera[2, 0], rotation_camera[0, 0]))


#: From the reference format's box axes (``w``, ``h`` down, ``l``) to ours (x, y, z up): ``h`` is our -z, ``l`` our y.
_REFERENCE_AXES = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


def reference_box(centre: np.ndarray, size: np.ndarray, rotation: np.ndarray) -> tuple[list[float], np.ndarray]:
    """A camera-frame box (z-up sizes) in the reference format: ``[x, y, z, w, h, l, yaw]`` and its rotation matrix.

    The reference's boxes have ``h`` along their own y axis, the camera's vertical for an upright box (its ``iou_3d``
    takes the camera-y extent for the height and turns the footprint by ``yaw`` about the camera's y axis), so ``w`` is
    our x size, ``h`` our z (up) size and ``l`` our y size, and the rotation's columns are our x, -z and y axes; both
    give the same corners (:func:`box_corners`).
    """
    reference_rotation = np.asarray(rotation, float) @ _REFERENCE_AXES
    width, length, height = (float(v) for v in size)
    box = [*(float(v) for v in centre), width, height, length, yaw_from_rotation(reference_rotation)]
    return box, reference_rotation


def geodesic_angle_deg(rotation_a: np.ndarray, rotation_b: np.ndarray) -> float:
    """Angle of ``rotation_a^T rotation_b`` in degrees, in [0, 180]."""
    return axis_angle_from_rotation(np.asarray(rotation_a).T @ np.asarray(rotation_b))[1]


def twist_angle_deg(rotation: np.ndarray, axis: np.ndarray) -> float:
    """Signed angle (degrees, in (-180, 180]) of ``rotation``'s twist about the unit ``axis``.

    Swing-twist decomposition: the part of the rotation about ``axis``, right-handed (counterclockwise
    seen from the tip of ``axis``). For a pure rotation about ``axis`` it is that rotation's angle.
    """
    quaternion = matrix_to_quaternion(np.asarray(rotation))
    angle = np.rad2deg(2.0 * np.arctan2(quaternion[1:] @ np.asarray(axis, float), quaternion[0]))
    return fold_angle_deg(float(angle), 1)


def fold_angle_deg(angle_deg: float, symmetry_order: int) -> float:
    """The angle that looks the same on an object with ``symmetry_order``-fold symmetry about the rotation axis,
    in ``(-180 / order, 180 / order]`` (order 1: wrapped to (-180, 180]; order 0, continuous symmetry: 0)."""
    if symmetry_order == 0:
        return 0.0
    step = 360.0 / symmetry_order
    folded = (angle_deg + step / 2.0) % step - step / 2.0
    return folded + step if folded <= -step / 2.0 + 1e-9 else folded


def symmetric_geodesic_deg(
    rotation_a: np.ndarray, rotation_b: np.ndarray, axis: np.ndarray, symmetry_order: int
) -> float:
    """Geodesic angle between ``rotation_a`` and the closest rotation that looks like ``rotation_b`` on an object
    with ``symmetry_order``-fold symmetry about ``axis`` (``R(axis, j 360 / order) @ rotation_b``; order 0:
    any turn about ``axis``, so only the tilt counts; order 1: plain :func:`geodesic_angle_deg`)."""
    if symmetry_order == 0:
        twist = twist_angle_deg(np.asarray(rotation_a) @ np.asarray(rotation_b).T, axis)
        return geodesic_angle_deg(rotation_a, rotation_about_axis(axis, twist) @ rotation_b)
    step = 360.0 / symmetry_order
    return min(
        geodesic_angle_deg(rotation_a, rotation_about_axis(axis, j * step) @ rotation_b) for j in range(symmetry_order)
    )


def mask_box(mask: np.ndarray) -> np.ndarray:
    """Tight box ``[u_min, v_min, u_max, v_max]`` (pixel edges, float) around a non-empty boolean mask."""
    rows, cols = np.nonzero(mask)
    return np.array([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1], dtype=np.float64)


def on_plane(vectors: np.ndarray, normal: np.ndarray) -> np.ndarray:
    """``vectors`` (``(3,)`` or ``(..., 3)``) with their component along the unit ``normal`` removed."""
    vectors = np.asarray(vectors, dtype=np.float64)
    return vectors - (vectors @ normal)[..., None] * normal


def plane_basis(up: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors spanning the plane orthogonal to ``up`` (right-handed with it)."""
    up = np.asarray(up, dtype=np.float64) / np.linalg.norm(up)
    helper = np.array([1.0, 0.0, 0.0]) if abs(up[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    first = helper - (helper @ up) * up
    first /= np.linalg.norm(first)
    return first, np.cross(up, first)


#: Camera-relative ground directions as (along right, along forward) components (:func:`plane_axes`).
GROUND_COMPONENTS = {"left": (-1.0, 0.0), "right": (1.0, 0.0), "forward": (0.0, 1.0), "back": (0.0, -1.0)}


def ground_direction(name: str, normal: np.ndarray) -> np.ndarray:
    """The unit camera-frame vector of a camera-relative ground direction (left / right / forward = away from the
    camera / back) on the plane with up ``normal``."""
    right, forward = plane_axes(normal)
    along_right, along_forward = GROUND_COMPONENTS[name]
    return along_right * right + along_forward * forward


def plane_axes(normal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit in-plane ``(right, forward)`` axes: the camera x and z axes projected onto the plane.

    Right is as seen in the image; forward points away from the camera (README, "Frames and units").
    """
    right = np.array([1.0, 0.0, 0.0]) - normal[0] * normal
    forward = np.array([0.0, 0.0, 1.0]) - normal[2] * normal
    return right / np.linalg.norm(right), forward / np.linalg.norm(forward)


def iou3d_upright(
    box_a: tuple[np.ndarray, np.ndarray, np.ndarray], box_b: tuple[np.ndarray, np.ndarray, np.ndarray], up: np.ndarray
) -> float:
    """3D IoU of two boxes standing on a common support with normal ``up``.

    Each box is ``(centre, size, rotation)``. The intersection is the overlap of their footprints (convex
    hulls of the corners projected onto the plane) times the overlap of their extents along ``up``; exact
    for boxes whose one axis is ``up``, a close upper bound for slightly tilted ones.
    """
    from shapely.geometry import MultiPoint

    first, second = plane_basis(up)
    footprints, intervals = [], []
    for centre, size, rotation in (box_a, box_b):
        corners = box_corners(centre, size, rotation)
        footprints.append(MultiPoint(np.column_stack([corners @ first, corners @ second])).convex_hull)
        heights = corners @ np.asarray(up, dtype=np.float64)
        intervals.append((heights.min(), heights.max()))
    overlap = max(0.0, min(intervals[0][1], intervals[1][1]) - max(intervals[0][0], intervals[1][0]))
    intersection = footprints[0].intersection(footprints[1]).area * overlap
    volumes = [f.area * (hi - lo) for f, (lo, hi) in zip(footprints, intervals, strict=True)]
    union = volumes[0] + volumes[1] - intersection
    return float(intersection / union) if union > 0 else 0.0


def unproject_pixels(intrinsics: np.ndarray, pixels: np.ndarray, depth_z: np.ndarray) -> np.ndarray:
    """Camera-frame points ``(N, 3)`` of pixels ``(N, 2)`` (u, v) at z-depths ``depth_z`` (N,): ``z K^-1 [u, v, 1]``."""
    pixels = np.asarray(pixels, dtype=np.float64)
    homogeneous = np.column_stack([pixels, np.ones(len(pixels))])
    return (homogeneous @ np.linalg.inv(np.asarray(intrinsics, dtype=np.float64)).T) * np.asarray(depth_z)[:, None]


@dataclass(frozen=True)
class ObjectMesh:
    """One object's triangle mesh with per-vertex colours (a scan's annotated instance): ``vertices`` ``(V, 3)``,
    ``faces`` ``(F, 3)`` vertex indices, ``colours`` ``(V, 3)`` RGB uint8."""

    vertices: np.ndarray
    faces: np.ndarray
    colours: np.ndarray

    def transformed(self, matrix_4x4: np.ndarray) -> ObjectMesh:
        """The mesh with its vertices mapped by ``matrix_4x4`` (e.g. world to camera)."""
        return ObjectMesh(transform_points(matrix_4x4, self.vertices), self.faces, self.colours)

    def with_faces(self, keep: np.ndarray) -> ObjectMesh:
        """The part of the mesh made of the faces ``keep`` (a boolean mask or indices), with only the vertices they
        use."""
        faces = self.faces[keep]
        used, inverse = np.unique(faces, return_inverse=True)
        return ObjectMesh(self.vertices[used], inverse.reshape(-1, 3), self.colours[used])

    def surface_samples(self, spacing_m: float, most: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(points (N, 3), colours (N, 3) float, normals (N, 3))``: points spread evenly over the surface, about one
        per ``spacing_m`` squared, at least one per face and at most ``most`` of them, each coloured by its
        face's vertex colours interpolated and facing its face's way (the faces' winding: counterclockwise seen from
        outside); the same points for the same ``seed``."""
        corners = self.vertices[self.faces]
        if len(corners) == 0:
            return np.zeros((0, 3)), np.zeros((0, 3)), np.zeros((0, 3))
        crossed = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
        lengths = np.linalg.norm(crossed, axis=1)
        areas = 0.5 * lengths
        count = int(np.clip(areas.sum() / spacing_m**2, min(len(corners), most), most))
        rng = np.random.default_rng(seed)
        chosen = rng.choice(len(corners), size=count, p=areas / areas.sum() if areas.sum() > 0 else None)
        a, b = rng.random((2, count))
        flip = a + b > 1
        a[flip], b[flip] = 1 - a[flip], 1 - b[flip]
        weights = np.column_stack([1 - a - b, a, b])
        points = np.einsum("nk,nkd->nd", weights, corners[chosen])
        colours = np.einsum("nk,nkd->nd", weights, self.colours[self.faces[chosen]].astype(np.float64))
        normals = crossed[chosen] / np.maximum(lengths[chosen], 1e-12)[:, None]
        return points, colours, normals

    def to_row(self) -> dict[str, list]:
        """The dataset column's value (:data:`gsi_datasets.schema.FEATURES` ``target_mesh``, and each of
        ``neighbour_meshes`` with its ``instance_id``), vertices to a hundredth of a millimetre (a third of the digits
        in a candidates file; far finer than any scan)."""
        return {
            "vertices": np.round(np.asarray(self.vertices, np.float64), 5).tolist(),
            "faces": np.asarray(self.faces, np.int64).tolist(),
            "colours": np.asarray(self.colours, np.uint8).tolist(),
        }

    @classmethod
    def from_row(cls, value: dict[str, Any]) -> ObjectMesh:
        vertices = np.asarray(value["vertices"], np.float64).reshape(-1, 3)
        faces = np.asarray(value["faces"], np.int64).reshape(-1, 3)
        colours = np.asarray(value["colours"], np.uint8).reshape(-1, 3)
        if len(colours) != len(vertices) or (faces.size and (faces.min() < 0 or faces.max() >= len(vertices))):
            raise ValueError(
                f"a mesh of {len(vertices)} vertices, {len(colours)} colours and faces indexing "
                f"{faces.min() if faces.size else 0}..{faces.max() if faces.size else 0}: inconsistent"
            )
        return cls(vertices, faces, colours)
