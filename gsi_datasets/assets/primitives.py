"""Textured triangle-mesh builders for the procedural asset catalog.

Every builder returns ``(vertices, faces, uv)``: ``(N, 3)`` float64 positions in metres (z up), ``(M, 3)`` int32
indices counter-clockwise seen from outside, and ``(N, 2)`` float64 texture coordinates in [0, 1].

Texture convention: MuJoCo samples ``v = 0`` from the first row of the texture data, which is the *top* row of a
numpy image. Builders therefore store ``v = 1 - height_fraction`` so an image drawn upright in numpy (row 0 at the
top) appears upright on the object, and ``u`` grows to the right as seen from outside, so nothing is mirrored.
Seams (where ``u`` wraps from 1 back to 0) and sharp creases get duplicated vertices, so textures do not smear and
MuJoCo's per-vertex normals keep hard edges hard.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import mapbox_earcut
import numpy as np
from numpy.typing import ArrayLike

Mesh = tuple[np.ndarray, np.ndarray, np.ndarray]
"""``(vertices (N, 3) float64, faces (M, 3) int32, uv (N, 2) float64)``."""

BOX_FACES: tuple[str, ...] = ("+x", "-x", "+y", "-y", "+z", "-z")
"""Face order of the :func:`box` texture atlas: 3 columns x 2 rows, read row by row."""

_EPS = 1e-9
# Profile turns sharper than this (radians) get split vertices so the edge shades as an edge, not a blur.
_CREASE_ANGLE = np.radians(35.0)


def _mesh(vertices: ArrayLike, faces: ArrayLike, u: ArrayLike, v_up: ArrayLike) -> Mesh:
    """Packs arrays into the :data:`Mesh` convention; ``v_up`` is 0 at the image bottom and 1 at its top."""
    uv = np.stack([np.asarray(u, dtype=np.float64), 1.0 - np.asarray(v_up, dtype=np.float64)], axis=1)
    return (
        np.asarray(vertices, dtype=np.float64).reshape(-1, 3),
        np.asarray(faces, dtype=np.int32).reshape(-1, 3),
        np.clip(uv, 0.0, 1.0),
    )


def _grid_faces(rows: int, cols: int, pole: np.ndarray | None = None, skip: np.ndarray | None = None) -> np.ndarray:
    """Two triangles per cell of a ``rows x cols`` vertex grid (row-major); CCW when rows go "up", columns "right".

    Args:
        rows: number of vertex rows.
        cols: number of vertex columns.
        pole: optional ``(rows,)`` bool; a row that collapses to a point only keeps the cell triangle that is not
            degenerate.
        skip: optional ``(rows - 1,)`` bool; row pairs that get no faces (the two copies of a crease ring).
    """
    r, c = np.meshgrid(np.arange(rows - 1), np.arange(cols - 1), indexing="ij")
    r, c = r.ravel(), c.ravel()
    a = r * cols + c  # lower-left; then lower-right a + 1, upper-left a + cols, upper-right a + cols + 1
    lower = np.stack([a, a + 1, a + cols + 1], axis=1)
    upper = np.stack([a, a + cols + 1, a + cols], axis=1)
    pole = np.zeros(rows, dtype=bool) if pole is None else pole
    skip = np.zeros(rows - 1, dtype=bool) if skip is None else skip
    keep_lower = ~pole[r] & ~skip[r]  # the lower triangle has two vertices on the lower row
    keep_upper = ~pole[r + 1] & ~skip[r]
    return np.concatenate([lower[keep_lower], upper[keep_upper]])


def revolve(profile_rz: ArrayLike, segments: int = 48, caps: bool = True) -> Mesh:
    """Surface of revolution about the z axis.

    The profile is walked in order; the solid lies to the *left* of the walking direction in the (r, z) plane, so
    an outer wall is walked upwards and an inner wall (a mug's cavity) downwards. A closed profile (first point ==
    last point, e.g. a circle for a torus) gives a closed surface with ``caps=False``.

    Args:
        profile_rz: ``(P, 2)`` points ``(radius, z)`` in metres, from bottom to top.
        segments: number of angular segments.
        caps: close an open end whose radius is > 0 with a flat disc (bottom facing down, top facing up).

    Returns:
        The mesh; ``u = angle / 2 pi`` (counter-clockwise seen from above), ``v`` = normalised arc length along the
        profile. Caps take the texture's bottom / top row.
    """
    profile = np.asarray(profile_rz, dtype=np.float64)
    if profile.ndim != 2 or profile.shape[1] != 2 or len(profile) < 2:
        raise ValueError(f"profile must be (P >= 2, 2), got {profile.shape}")
    if np.any(profile[:, 0] < -_EPS):
        raise ValueError("profile radii must be >= 0")
    steps = np.linalg.norm(np.diff(profile, axis=0), axis=1)
    arc = np.concatenate([[0.0], np.cumsum(steps)])
    arc_v = arc / max(arc[-1], _EPS)

    # Duplicate interior profile points where the profile turns sharply (one ring ends a segment, the next starts).
    directions = np.diff(profile, axis=0) / np.maximum(steps, _EPS)[:, None]
    turn = np.arccos(np.clip(np.sum(directions[:-1] * directions[1:], axis=1), -1.0, 1.0))
    repeat = np.ones(len(profile), dtype=int)
    repeat[1:-1] += turn > _CREASE_ANGLE
    ring_rz = np.repeat(profile, repeat, axis=0)
    ring_v = np.repeat(arc_v, repeat)
    # The two copies of a crease point are joined by no faces (they would be zero-area).
    split = np.zeros(len(ring_rz) - 1, dtype=bool)
    split[(np.cumsum(repeat) - repeat)[repeat > 1]] = True

    theta = np.linspace(0.0, 2.0 * np.pi, segments + 1)  # last column duplicates the seam for the uv wrap
    cols = segments + 1
    radius, height = ring_rz[:, :1], ring_rz[:, 1:]
    vertices = np.stack(
        [radius * np.cos(theta), radius * np.sin(theta), np.broadcast_to(height, (len(ring_rz), cols))], axis=2
    )
    faces = _grid_faces(len(ring_rz), cols, pole=ring_rz[:, 0] < _EPS, skip=split)
    u = np.tile(theta / (2.0 * np.pi), len(ring_rz))
    v = np.repeat(ring_v, cols)
    meshes = [_mesh(vertices.reshape(-1, 3), faces, u, v)]

    if caps:
        for end, facing_up, v_end in ((profile[0], False, 0.0), (profile[-1], True, 1.0)):
            if end[0] > _EPS:
                meshes.append(_disc(end[0], end[1], segments, facing_up, v_end))
    return merge(meshes)


def _disc(radius: float, z: float, segments: int, facing_up: bool, v_up: float) -> Mesh:
    """Flat fan closing a revolved end; uv keeps the wall's ``u`` and a constant ``v`` (edge row of the texture)."""
    theta = np.linspace(0.0, 2.0 * np.pi, segments + 1)
    rim = np.stack([radius * np.cos(theta), radius * np.sin(theta), np.full_like(theta, z)], axis=1)
    # One centre vertex per segment so each wedge takes its own u (no radial smear of the seam).
    centres = np.tile([0.0, 0.0, z], (segments, 1))
    vertices = np.concatenate([rim, centres])
    i = np.arange(segments)
    c = segments + 1 + i
    faces = np.stack([c, i, i + 1], axis=1) if facing_up else np.stack([c, i + 1, i], axis=1)
    u = np.concatenate([theta, (theta[:-1] + theta[1:]) / 2.0]) / (2.0 * np.pi)
    return _mesh(vertices, faces, u, np.full(len(vertices), v_up))


def ellipsoid(radii: ArrayLike, segments: int = 40, rings: int = 20, z_min: float = -1.0, z_max: float = 1.0) -> Mesh:
    """Ellipsoid centred on the origin, optionally sliced flat at the bottom and/or top.

    Args:
        radii: ``(rx, ry, rz)`` semi-axes in metres.
        segments: angular segments around z.
        rings: latitude rings between the poles (before slicing).
        z_min: bottom slice as a fraction of ``rz`` in [-1, 1]; > -1 gives a flat disc base (fruit that must not
            roll), closed with a cap.
        z_max: top slice as a fraction of ``rz``.

    Returns:
        The mesh, uv as in :func:`revolve`.
    """
    rx, ry, rz = (float(r) for r in np.asarray(radii, dtype=np.float64))
    if not -1.0 <= z_min < z_max <= 1.0:
        raise ValueError(f"need -1 <= z_min < z_max <= 1, got {z_min}, {z_max}")
    phi = np.linspace(np.arcsin(z_min), np.arcsin(z_max), rings + 1)  # latitude, bottom to top
    profile = np.stack([np.cos(phi), np.sin(phi)], axis=1)
    profile[np.abs(profile[:, 0]) < 1e-12, 0] = 0.0
    return transform(revolve(profile, segments), scale=(rx, ry, rz))


def torus(major: float, minor: float, segments: int = 40, sides: int = 16) -> Mesh:
    """Torus around the z axis, centred on the origin.

    Args:
        major: distance from the z axis to the tube centre, metres.
        minor: tube radius, metres (< ``major``).
        segments: segments around z.
        sides: segments around the tube.
    """
    if not 0.0 < minor < major:
        raise ValueError(f"need 0 < minor < major, got {minor}, {major}")
    # Start at the inner equator and walk the tube cross-section counter-clockwise (solid on the left).
    alpha = np.linspace(np.pi, -np.pi, sides + 1)
    profile = np.stack([major + minor * np.cos(alpha), -minor * np.sin(alpha)], axis=1)
    profile[-1] = profile[0]
    return revolve(profile, segments, caps=False)


def box(size_xyz: ArrayLike, uv_layout: str = "full") -> Mesh:
    """Axis-aligned box resting on z = 0, centred on the z axis, 24 vertices (4 per face, flat shading).

    Args:
        size_xyz: full extents ``(sx, sy, sz)`` in metres.
        uv_layout: ``"full"``: every face maps the whole texture. ``"atlas"``: the texture is a 3 x 2 grid of
            cells in :data:`BOX_FACES` order (see ``textures.box_atlas``); each face maps its own cell.

    Returns:
        The mesh. Side faces have the image's top at +z; the top face has the image's top towards +y and the
        bottom face towards -y, each read as seen from outside.
    """
    sx, sy, sz = (float(s) / 2.0 for s in np.asarray(size_xyz, dtype=np.float64))
    # Per face: centre, "right" and "up" directions as seen from outside (right x up = outward normal).
    frames = {
        "+x": ((sx, 0, sz), (0, 1, 0), (0, 0, 1), sy, sz),
        "-x": ((-sx, 0, sz), (0, -1, 0), (0, 0, 1), sy, sz),
        "+y": ((0, sy, sz), (-1, 0, 0), (0, 0, 1), sx, sz),
        "-y": ((0, -sy, sz), (1, 0, 0), (0, 0, 1), sx, sz),
        "+z": ((0, 0, 2 * sz), (1, 0, 0), (0, 1, 0), sx, sy),
        "-z": ((0, 0, 0), (1, 0, 0), (0, -1, 0), sx, sy),
    }
    corners_uv = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    meshes = []
    for index, name in enumerate(BOX_FACES):
        centre, right, up, half_w, half_h = frames[name]
        centre, right, up = (np.asarray(x, dtype=np.float64) for x in (centre, right, up))
        signs = corners_uv * 2.0 - 1.0
        vertices = centre + signs[:, :1] * half_w * right + signs[:, 1:] * half_h * up
        u, v = corners_uv[:, 0], corners_uv[:, 1]
        if uv_layout == "atlas":
            # Inset by 2 % of a cell so texture filtering never bleeds in a neighbouring cell.
            col, row = index % 3, index // 3
            u = (col + 0.02 + 0.96 * u) / 3.0
            v = 1.0 - (row + 0.02 + 0.96 * (1.0 - v)) / 2.0
        elif uv_layout != "full":
            raise ValueError(f"uv_layout must be 'full' or 'atlas', got {uv_layout!r}")
        meshes.append(_mesh(vertices, [[0, 1, 2], [0, 2, 3]], u, v))
    return merge(meshes)


def extrude(
    polygon_xy: ArrayLike, height: float, z0: float = 0.0, cap_region: tuple[float, float, float, float] = (0, 0, 1, 1)
) -> Mesh:
    """Vertical prism from a simple 2D polygon.

    Args:
        polygon_xy: ``(P, 2)`` outline in metres, counter-clockwise seen from above (clockwise input is reversed),
            without repeating the first point.
        height: prism height in metres.
        z0: z of the bottom face.
        cap_region: ``(u0, v0, u1, v1)`` sub-rectangle of the texture (v measured from the image bottom) that the
            caps' planar mapping fills; the default uses the whole image (a phone screen), a small patch gives the
            caps a plain colour from the texture (the cut ends of a loaf).

    Returns:
        The mesh. Walls: ``u`` = normalised perimeter length, ``v`` = height fraction; walls are split at corners
        sharper than 35 degrees. Caps: planar uv over the polygon's bounding box (image top towards +y on the top
        cap).
    """
    polygon = np.asarray(polygon_xy, dtype=np.float64)
    # Collinear points would give zero-area cap triangles: drop them (they add no shape).
    before, after = np.roll(polygon, 1, axis=0), np.roll(polygon, -1, axis=0)
    d1, d2 = polygon - before, after - polygon
    turn = d1[:, 0] * d2[:, 1] - d1[:, 1] * d2[:, 0]
    scale = np.linalg.norm(d1, axis=1) * np.linalg.norm(d2, axis=1)
    polygon = polygon[(np.abs(turn) > 1e-9 * scale) | (np.sum(d1 * d2, axis=1) < 0)]
    if _signed_area(polygon) < 0:
        polygon = polygon[::-1]
    closed = np.concatenate([polygon, polygon[:1]])
    edges = np.diff(closed, axis=0)
    lengths = np.linalg.norm(edges, axis=1)
    perimeter_u = np.concatenate([[0.0], np.cumsum(lengths)]) / lengths.sum()

    # Split the wall at sharp corners: each wall strip gets its own copy of the corner vertices.
    directions = edges / np.maximum(lengths, _EPS)[:, None]
    incoming = np.roll(directions, 1, axis=0)
    turn = np.arccos(np.clip(np.sum(incoming * directions, axis=1), -1.0, 1.0))
    sharp = np.flatnonzero(turn > _CREASE_ANGLE)
    breaks = sorted(set(sharp.tolist()) | {0, len(polygon)})
    meshes = []
    for start, stop in itertools.pairwise(breaks):
        idx = np.arange(start, stop + 1)
        xy = closed[idx]
        cols = len(idx)
        bottom = np.column_stack([xy, np.full(cols, z0)])
        top = np.column_stack([xy, np.full(cols, z0 + height)])
        u = np.tile(perimeter_u[idx], 2)
        v = np.repeat([0.0, 1.0], cols)
        meshes.append(_mesh(np.concatenate([bottom, top]), _grid_faces(2, cols), u, v))

    triangles = mapbox_earcut.triangulate_float64(polygon, np.array([len(polygon)], dtype=np.uint32))
    triangles = np.asarray(triangles, dtype=np.int64).reshape(-1, 3)
    lo, hi = polygon.min(axis=0), polygon.max(axis=0)
    planar = (polygon - lo) / np.maximum(hi - lo, _EPS)
    u0, v0, u1, v1 = cap_region
    planar = np.array([u0, v0]) + planar * np.array([u1 - u0, v1 - v0])
    for z, facing_up in ((z0, False), (z0 + height, True)):
        tris = _orient_cap(polygon, triangles, facing_up)
        u = planar[:, 0] if facing_up else u0 + u1 - planar[:, 0]  # mirrored underneath, read from below
        meshes.append(_mesh(np.column_stack([polygon, np.full(len(polygon), z)]), tris, u, planar[:, 1]))
    return merge(meshes)


def _orient_cap(polygon: np.ndarray, triangles: np.ndarray, facing_up: bool) -> np.ndarray:
    """Orders cap triangles counter-clockwise seen from the side they face."""
    a, b, c = (polygon[triangles[:, k]] for k in range(3))
    cross = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    flip = (cross > 0) != facing_up
    out = triangles.copy()
    out[flip] = out[flip][:, ::-1]
    return out


def _signed_area(polygon: np.ndarray) -> float:
    """Shoelace area of a 2D polygon, positive when counter-clockwise."""
    x, y = polygon[:, 0], polygon[:, 1]
    return 0.5 * float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))


def tube_along(
    path_points: ArrayLike, radius: float | ArrayLike, sides: int = 16, caps: bool = True, closed: bool = False
) -> Mesh:
    """Round tube swept along a 3D polyline (mug handles, banana, headphone band).

    Frames are parallel-transported along the path, so the tube does not twist.

    Args:
        path_points: ``(P, 3)`` centre-line points in metres.
        radius: tube radius in metres, a scalar or one value per path point (tapering).
        sides: segments around the tube.
        caps: close open ends with flat discs (ignored when ``closed``).
        closed: the path is a loop (last point joins the first).

    Returns:
        The mesh; ``u`` = angle around the tube, ``v`` = normalised arc length along the path.
    """
    path = np.asarray(path_points, dtype=np.float64)
    radii = np.broadcast_to(np.asarray(radius, dtype=np.float64), (len(path),)).copy()
    if closed:
        path = np.concatenate([path, path[:1]])
        radii = np.concatenate([radii, radii[:1]])
    tangents = np.gradient(path, axis=0)
    if closed:
        tangents[0] = tangents[-1] = path[1] - path[-2]
    tangents /= np.linalg.norm(tangents, axis=1, keepdims=True)
    # Initial normal: any direction perpendicular to the first tangent.
    helper = np.array([0.0, 0.0, 1.0]) if abs(tangents[0, 2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    normal = np.cross(tangents[0], helper)
    normal /= np.linalg.norm(normal)
    normals = np.empty_like(path)
    for i, t in enumerate(tangents):
        normal = normal - np.dot(normal, t) * t  # project the previous normal onto this plane: no twist
        normal /= np.linalg.norm(normal)
        normals[i] = normal
    binormals = np.cross(tangents, normals)

    alpha = np.linspace(0.0, 2.0 * np.pi, sides + 1)
    # Ring offset direction; (normal, binormal, tangent) is right-handed, so increasing alpha with the path
    # going "up" the grid gives outward-facing CCW faces.
    offsets = np.cos(alpha)[None, :, None] * normals[:, None, :] + np.sin(alpha)[None, :, None] * binormals[:, None, :]
    vertices = path[:, None, :] + radii[:, None, None] * offsets
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(path, axis=0), axis=1))])
    u = np.tile(alpha / (2.0 * np.pi), len(path))
    v = np.repeat(arc / max(arc[-1], _EPS), sides + 1)
    faces = _grid_faces(len(path), sides + 1)
    meshes = [_mesh(vertices.reshape(-1, 3), faces, u, v)]
    if caps and not closed:
        for end, sign, v_end in ((0, -1.0, 0.0), (len(path) - 1, 1.0, 1.0)):
            ring = vertices[end, :-1]
            centre = path[end]
            n = len(ring)
            cap_vertices = np.concatenate([ring, centre[None]])
            i = np.arange(n)
            # Ring order is CCW seen from the tube's forward direction, so the end cap keeps it and the start
            # cap reverses it.
            tris = np.stack([np.full(n, n), i, (i + 1) % n], axis=1)
            if sign < 0:
                tris = tris[:, ::-1]
            meshes.append(_mesh(cap_vertices, tris, np.full(n + 1, 0.5), np.full(n + 1, v_end)))
    return merge(meshes)


def axis_rotation(axis: str | ArrayLike, angle_rad: float) -> np.ndarray:
    """3x3 rotation matrix about ``"x"``, ``"y"``, ``"z"`` or an arbitrary axis vector (right-hand rule)."""
    if isinstance(axis, str):
        axis = {"x": (1.0, 0.0, 0.0), "y": (0.0, 1.0, 0.0), "z": (0.0, 0.0, 1.0)}[axis]
    k = np.asarray(axis, dtype=np.float64)
    k = k / np.linalg.norm(k)
    skew = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + np.sin(angle_rad) * skew + (1.0 - np.cos(angle_rad)) * skew @ skew


def transform(
    mesh: Mesh, rotation: np.ndarray | None = None, translation: ArrayLike | None = None, scale: ArrayLike = 1.0
) -> Mesh:
    """Scales, then rotates (about the origin), then translates a mesh; faces and uv are unchanged.

    Args:
        mesh: the mesh to move.
        rotation: 3x3 rotation matrix (see :func:`axis_rotation`).
        translation: ``(3,)`` offset in metres.
        scale: positive scale factor, scalar or per axis ``(sx, sy, sz)``.
    """
    vertices, faces, uv = mesh
    scale = np.asarray(scale, dtype=np.float64)
    if np.any(scale <= 0):
        raise ValueError("scale must be positive; mirroring would turn the faces inside out")
    out = vertices * scale
    if rotation is not None:
        rotation = np.asarray(rotation, dtype=np.float64)
        if np.linalg.det(rotation) <= 0:
            raise ValueError("rotation must be a proper rotation (det > 0); mirroring would flip the faces")
        out = out @ rotation.T
    if translation is not None:
        out = out + np.asarray(translation, dtype=np.float64)
    return out, faces, uv


def merge(meshes: Sequence[Mesh]) -> Mesh:
    """Concatenates meshes into one (for one Part), re-indexing faces."""
    offsets = np.cumsum([0] + [len(m[0]) for m in meshes[:-1]])
    vertices = np.concatenate([m[0] for m in meshes])
    faces = np.concatenate([m[1] + off for m, off in zip(meshes, offsets, strict=True)]).astype(np.int32)
    uv = np.concatenate([m[2] for m in meshes])
    return vertices, faces, uv


def convex_hull(vertices: np.ndarray, uv: np.ndarray) -> Mesh:
    """The convex hull of ``vertices`` as a closed, outward-wound mesh; each hull vertex keeps its texture coordinate
    from ``uv`` (a piece of a textured surface stays textured as it was)."""
    from scipy.spatial import ConvexHull

    hull = ConvexHull(vertices)
    used, faces = np.unique(hull.simplices, return_inverse=True)
    faces = faces.reshape(-1, 3)
    # Qhull's facets are unordered: turn each so its normal agrees with the facet's outward plane normal.
    points = vertices[used]
    a, b, c = (points[faces[:, k]] for k in range(3))
    inward = np.einsum("ij,ij->i", np.cross(b - a, c - a), hull.equations[:, :3]) < 0
    faces[inward] = faces[inward][:, ::-1]
    return points, faces.astype(np.int32), uv[used]
