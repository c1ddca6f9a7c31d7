"""A simulated room written as a ScanNet++ v2 scene, read back through the reader a user points at real ScanNet++.

:func:`write_scannetpp_scene` takes a GSI-Syn room scene and writes, under ``<root>/data/<scene_id>/``, what the
official download tool extracts for one scene (the files ``scenezoo``'s ScanNet++ adapter reads):

- ``scans/mesh_aligned_0.05.ply``: the whole room as one triangle mesh (binary PLY, vertex ``x y z red green blue``,
  faces), every shape cut into triangles of at most 5 cm edges (``max_edge_m``) as a scan's mesh is; vertex colours
  are what the rendered iPhone frames saw at each vertex (a scan is coloured from its images), then what views around
  every object saw (:func:`scan_cameras`: a scan walks around what it captures), the material's colour where no view
  saw it;
- ``scans/segments.json`` (``segIndices``: the segment of every vertex; one per shape) and
  ``scans/segments_anno.json`` (``segGroups``: ``objectId``, ``label``, ``segments``), the annotation format;
- ``iphone/rgb.mkv`` (H.264, 1920 x 1440), ``iphone/depth.bin`` (the LiDAR's 256 x 192 depth, uint16 millimetres,
  one LZ4 block per frame behind its 4-byte length), ``iphone/pose_intrinsic_imu.json`` (per ``frame_NNNNNN``: the
  camera-to-world ``aligned_pose`` in OpenCV axes, the 3x3 ``intrinsic`` at 1920 x 1440, a timestamp);
- ``splits/nvs_sem_val.txt`` naming the scene.

The frames follow a short sideways walk around the row's camera, looking at the same point; one frame can be blurred
(a shaky hand) so that frame selection has something to reject. Object ids in the annotation are not the
simulator's (they are offset), so nothing downstream can lean on them. :class:`SimulatedScan` keeps the truth:
every frame's camera and its rendered instance image.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

#: ScanNet++ iPhone sizes (width, height).
IPHONE_RGB_SIZE = (1920, 1440)
IPHONE_DEPTH_SIZE = (256, 192)
#: The annotation's object id of a simulator instance id (structural parts get small ids of their own).
OBJECT_ID_OFFSET = 1000
MAX_EDGE_M = 0.05


@dataclass
class SimulatedScan:
    """The truth behind a written scene: the scene, each frame's camera (at the iPhone RGB size), its rendered
    instance image (simulator ids) and depth, the frame index that was blurred (or None), and the annotation's
    object id of each simulator instance."""

    scene_id: str
    scene: object
    cameras: list
    instances: list[np.ndarray]
    depth_m: list[np.ndarray]
    blurred_frame: int | None
    object_ids: dict[int, int]


def room_scene(index: int = 0, seed: int = 0):
    """The settled source scene of room test row ``index`` (seed ``seed``), as the builder made it."""
    from gsi_builders.generate import generate_sample
    from gsi_datasets.scene import Scene

    for attempt in range(index, index + 20):
        row = generate_sample("room", "test", seed, attempt).row
        if row is not None:
            return Scene.from_dict(json.loads(row["scene"])["source"])
    raise RuntimeError(f"no room row among {index}..{index + 19}")


def walk_cameras(scene, num_frames: int, sideways_m: float = 0.5) -> list:
    """``num_frames`` iPhone cameras stepping sideways (``sideways_m`` in all) past the scene's camera, each looking
    at the point 2.5 m ahead of it, with the scene camera's vertical field of view."""
    from gsi_datasets.scene import Camera

    camera = scene.camera
    rotation = np.array(camera.rotation)
    position = np.array(camera.position)
    target = position + 2.5 * rotation[:, 2]
    offsets = np.linspace(-sideways_m / 2, sideways_m / 2, num_frames)
    return [
        Camera.looking_at(position + offset * rotation[:, 0], target, camera.fovy_deg, *IPHONE_RGB_SIZE)
        for offset in offsets
    ]


def _structural_label(name: str) -> str:
    for prefix, label in (("wall", "wall"), ("floor", "floor"), ("ceiling", "ceiling"), ("door", "door")):
        if name.startswith(prefix):
            return label
    return "window"


def scene_shapes(
    scene, max_edge_m: float = MAX_EDGE_M
) -> list[tuple[str, int | None, np.ndarray, np.ndarray, np.ndarray]]:
    """Every drawn shape of ``scene`` in world coordinates, cut into triangles of at most ``max_edge_m`` edges:
    ``(label, simulator instance id or None, vertices, faces, rgb of its material)``, from the same MuJoCo model the
    renderer draws."""
    import mujoco
    import trimesh

    from gsi_datasets.rendering import add_object_body, add_static_world, asset_of, geom_instances, new_spec

    spec = new_spec(64, 64)
    add_static_world(spec, scene)
    names = {}
    for scene_object in scene.objects:
        names[scene_object.instance_id] = f"object{scene_object.instance_id}_v0"
        add_object_body(spec, names[scene_object.instance_id], asset_of(scene_object), mocap=True)
    model = spec.compile()
    data = mujoco.MjData(model)
    for scene_object in scene.objects:
        mocap = model.body(names[scene_object.instance_id]).mocapid[0]
        data.mocap_pos[mocap] = scene_object.pose.position
        data.mocap_quat[mocap] = scene_object.pose.quaternion
    mujoco.mj_kinematics(model, data)
    instances = geom_instances(model)
    shapes = []
    for geom in range(model.ngeom):
        kind, size = model.geom_type[geom], model.geom_size[geom]
        if kind == mujoco.mjtGeom.mjGEOM_BOX:
            mesh = trimesh.creation.box(extents=2 * size)
        elif kind == mujoco.mjtGeom.mjGEOM_CYLINDER:
            mesh = trimesh.creation.cylinder(radius=size[0], height=2 * size[1], sections=32)
        elif kind == mujoco.mjtGeom.mjGEOM_PLANE:
            half = size[:2]
            corners = np.array([[-1, -1, 0], [1, -1, 0], [1, 1, 0], [-1, 1, 0]], float) * [*half, 0]
            mesh = trimesh.Trimesh(corners, [[0, 1, 2], [0, 2, 3]], process=False)
        elif kind == mujoco.mjtGeom.mjGEOM_MESH:
            mesh_id = model.geom_dataid[geom]
            start, count = model.mesh_vertadr[mesh_id], model.mesh_vertnum[mesh_id]
            face_start, face_count = model.mesh_faceadr[mesh_id], model.mesh_facenum[mesh_id]
            mesh = trimesh.Trimesh(
                model.mesh_vert[start : start + count],
                model.mesh_face[face_start : face_start + face_count],
                process=False,
            )
        else:
            raise ValueError(f"geom {geom} has a type this writer does not cut into triangles: {kind}")
        vertices, faces = trimesh.remesh.subdivide_to_size(mesh.vertices, mesh.faces, max_edge=max_edge_m)
        vertices = vertices @ data.geom_xmat[geom].reshape(3, 3).T + data.geom_xpos[geom]
        instance = int(instances[geom])
        material = model.geom_matid[geom]
        rgba = model.mat_rgba[material] if material >= 0 else model.geom_rgba[geom]
        if instance > 0:
            label = scene.category_of(instance)
        else:
            label, instance = _structural_label(model.geom(geom).name), None
        shapes.append((label, instance, vertices, np.asarray(faces), np.asarray(rgba[:3]) * 255))
    return shapes


def scan_cameras(scene, per_object: int = 8, size: tuple[int, int] = (320, 240)) -> list:
    """The views a person scanning the room takes besides the frames: ``per_object`` cameras around every object, 30
    degrees above it, so the scan's mesh is coloured on every side (a scan walks around what it captures)."""
    from gsi_datasets.rendering import asset_of
    from gsi_datasets.scene import Camera

    cameras = []
    for scene_object in scene.objects:
        centre = np.array(scene_object.pose.position)
        distance = max(0.5, 2.5 * float(np.max(asset_of(scene_object).size)))
        for turn in np.linspace(0.0, 2 * np.pi, per_object, endpoint=False):
            offset = distance * np.array([np.cos(turn) * np.cos(np.pi / 6), np.sin(turn) * np.cos(np.pi / 6), 0.5])
            cameras.append(Camera.looking_at(centre + offset, centre, 60.0, *size))
    return cameras


def _seen_colours(vertices: np.ndarray, cameras: list, views: list) -> tuple[np.ndarray, np.ndarray]:
    """The colour each vertex shows in the first view that sees it (depth within 2 cm), and which were seen."""
    colours = np.zeros((len(vertices), 3))
    seen = np.zeros(len(vertices), bool)
    for camera, view in zip(cameras, views, strict=True):
        pixels, depth = camera.project(vertices)
        columns, rows = np.round(pixels[:, 0]).astype(int), np.round(pixels[:, 1]).astype(int)
        inside = (depth > 0) & (columns >= 0) & (rows >= 0) & (columns < camera.width) & (rows < camera.height)
        inside &= ~seen
        index = np.nonzero(inside)[0]
        visible = np.abs(view.depth_m[rows[index], columns[index]] - depth[index]) < 0.02
        index = index[visible]
        colours[index] = view.rgb[rows[index], columns[index]]
        seen[index] = True
    return colours, seen


def _write_ply(path: Path, vertices: np.ndarray, colours: np.ndarray, faces: np.ndarray) -> None:
    from plyfile import PlyData, PlyElement

    vertex = np.empty(
        len(vertices), [("x", "f4"), ("y", "f4"), ("z", "f4"), ("red", "u1"), ("green", "u1"), ("blue", "u1")]
    )
    for axis, name in enumerate("xyz"):
        vertex[name] = vertices[:, axis]
    for channel, name in enumerate(("red", "green", "blue")):
        vertex[name] = np.clip(np.round(colours[:, channel]), 0, 255)
    face = np.empty(len(faces), [("vertex_indices", "i4", (3,))])
    face["vertex_indices"] = faces
    PlyData([PlyElement.describe(vertex, "vertex"), PlyElement.describe(face, "face")]).write(str(path))


def _write_video(path: Path, frames: list[np.ndarray], fps: int = 10) -> None:
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = IPHONE_RGB_SIZE
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "12", "preset": "veryfast"}
        for image in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _write_depth(path: Path, depths_m: list[np.ndarray]) -> None:
    import lz4.block

    with open(path, "wb") as stream:
        for depth in depths_m:
            small = cv2.resize(depth, IPHONE_DEPTH_SIZE, interpolation=cv2.INTER_NEAREST)
            millimetres = np.clip(np.round(small * 1000.0), 0, 65535).astype("<u2")
            block = lz4.block.compress(millimetres.tobytes(), store_size=False)
            stream.write(len(block).to_bytes(4, "little"))
            stream.write(block)


def write_scannetpp_scene(
    root: Path,
    scene,
    scene_id: str = "0a5c013435",
    num_frames: int = 6,
    blurred_frame: int | None = 2,
    taken_away: int | None = None,
    max_edge_m: float = MAX_EDGE_M,
) -> SimulatedScan:
    """Writes ``scene`` as ScanNet++ scene ``scene_id`` under ``root`` (module docstring) and returns the truth.
    ``taken_away``: an object (simulator id) that is in the scan's mesh but was taken away before the frames were
    captured (they show the scene without it); ``max_edge_m``: the mesh's longest triangle edge (a finer scan)."""
    from gsi_datasets.rendering import StateRenderer

    cameras = walk_cameras(scene, num_frames)
    captured = scene.without_object(taken_away) if taken_away is not None else scene
    with StateRenderer([dataclasses.replace(captured, camera=camera) for camera in cameras]) as renderer:
        views = [renderer.render(index) for index in range(num_frames)]
    images = [view.rgb for view in views]
    if blurred_frame is not None:
        kernel = np.zeros((31, 31), np.float32)
        kernel[15, :] = 1.0 / 31  # a 31-pixel sideways shake
        images[blurred_frame] = cv2.filter2D(images[blurred_frame], -1, kernel)

    base = root / "data" / scene_id
    for folder in ("scans", "iphone"):
        (base / folder).mkdir(parents=True, exist_ok=True)
    (root / "splits").mkdir(parents=True, exist_ok=True)
    (root / "splits" / "nvs_sem_val.txt").write_text(scene_id + "\n")

    scans = scan_cameras(scene)
    with StateRenderer([dataclasses.replace(scene, camera=camera) for camera in scans]) as renderer:
        scan_views = [renderer.render(index) for index in range(len(scans))]
    shapes = scene_shapes(scene, max_edge_m)
    object_ids: dict[int, int] = {}
    groups: dict[int, dict] = {}
    all_vertices, all_faces, all_colours, segment_of_vertex = [], [], [], []
    offset = 0
    for segment, (label, instance, vertices, faces, rgb) in enumerate(shapes):
        colours, seen = _seen_colours(vertices, cameras + scans, views + scan_views)
        colours[~seen] = rgb
        all_vertices.append(vertices)
        all_colours.append(colours)
        all_faces.append(faces + offset)
        segment_of_vertex.append(np.full(len(vertices), segment))
        offset += len(vertices)
        object_id = OBJECT_ID_OFFSET + instance if instance is not None else segment + 1
        if instance is not None:
            object_ids[instance] = object_id
        group = groups.setdefault(object_id, {"id": object_id, "objectId": object_id, "label": label, "segments": []})
        group["segments"].append(segment)
    vertices = np.concatenate(all_vertices)
    _write_ply(
        base / "scans" / "mesh_aligned_0.05.ply", vertices, np.concatenate(all_colours), np.concatenate(all_faces)
    )
    segments = {"sceneId": scene_id, "segIndices": np.concatenate(segment_of_vertex).tolist()}
    (base / "scans" / "segments.json").write_text(json.dumps(segments))
    annotation = {"sceneId": f"scannetpp.{scene_id}", "segGroups": list(groups.values())}
    (base / "scans" / "segments_anno.json").write_text(json.dumps(annotation))

    _write_video(base / "iphone" / "rgb.mkv", images)
    _write_depth(base / "iphone" / "depth.bin", [view.depth_m for view in views])
    poses = {}
    for index, camera in enumerate(cameras):
        camera_to_world = np.linalg.inv(camera.world_to_camera)
        poses[f"frame_{index:06d}"] = {
            "timestamp": index / 10.0,
            "intrinsic": camera.intrinsics.tolist(),
            "pose": camera_to_world.tolist(),
            "aligned_pose": camera_to_world.tolist(),
        }
    (base / "iphone" / "pose_intrinsic_imu.json").write_text(json.dumps(poses, indent=1))
    return SimulatedScan(
        scene_id=scene_id,
        scene=scene,
        cameras=cameras,
        instances=[view.instances for view in views],
        depth_m=[view.depth_m for view in views],
        blurred_frame=blurred_frame,
        object_ids=object_ids,
    )


def true_box(scene, instance_id: int, world_to_camera: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(centre, size, rotation)`` of an object's or a piece of furniture's box in a camera (the simulator's)."""
    from gsi_datasets.rendering import asset_of

    try:
        item = scene.object(instance_id)
        centre, size = np.array(item.pose.position), np.asarray(asset_of(item).size)
        rotation = item.pose.rotation
    except KeyError:
        piece = scene.furniture_piece(instance_id)
        local_centre, size = piece.local_box()
        rotation = piece.pose.rotation
        centre = np.array(piece.pose.position) + rotation @ local_centre
    return world_to_camera[:3, :3] @ centre + world_to_camera[:3, 3], size, world_to_camera[:3, :3] @ rotation


def footprint_yaw_error_deg(rotation_a: np.ndarray, rotation_b: np.ndarray, up: np.ndarray) -> float:
    """The angle between two gravity-aligned boxes' footprints about ``up``, modulo 90 degrees (a rectangle turned a
    quarter, with its sides swapped, is the same rectangle)."""
    from gsi_datasets.geometry import plane_basis

    first, second = plane_basis(up)
    angles = [np.degrees(np.arctan2(r[:, 0] @ second, r[:, 0] @ first)) for r in (rotation_a, rotation_b)]
    difference = (angles[0] - angles[1]) % 90.0
    return float(min(difference, 90.0 - difference))


def label_errors(truth: SimulatedScan, capture, min_pixels: int = 400) -> list[dict]:
    """Per frame and per object the frame shows on at least ``min_pixels`` (in the truth, at the capture's size): the
    mask IoU against the rendered instance ids, the box centre error (m), the footprint yaw error (degrees; None
    for objects that look the same at any turn and for footprints without an axis, ``yaw_known`` False), the size
    error (m), and whether the object could be a target."""
    from gsi_datasets.assets import get_category
    from gsi_datasets.real.frames import possible_targets

    rows = []
    for index, frame in enumerate(capture.frames()):
        height, width = frame.rgb.shape[:2]
        rendered = cv2.resize(
            truth.instances[index].astype(np.uint16), (width, height), interpolation=cv2.INTER_NEAREST
        )
        targets = {item.instance_id for item in possible_targets(frame)}
        world_to_camera = np.linalg.inv(frame.camera_to_world)
        up = world_to_camera[:3, :3] @ np.array([0.0, 0.0, 1.0])
        for instance, object_id in truth.object_ids.items():
            expected = rendered == instance
            if np.count_nonzero(expected) < min_pixels:
                continue
            found = frame.instances == object_id + 1
            iou = np.count_nonzero(expected & found) / np.count_nonzero(expected | found)
            centre, size, rotation = true_box(truth.scene, instance, world_to_camera)
            box = capture.box(frame, object_id + 1)
            category = truth.scene.category_of(instance)
            symmetric = truth.scene.has_object(instance) and get_category(category).symmetry_order == 0
            yaw = None if symmetric or not box.yaw_known else footprint_yaw_error_deg(box.rotation, rotation, up)
            swapped = yaw is not None and abs(np.cross(box.rotation[:, 0], rotation[:, 0]) @ up) > 0.7
            expected_size = np.array([size[1], size[0], size[2]]) if swapped else np.asarray(size)
            rows.append(
                {
                    "frame": frame.frame_id,
                    "instance": instance,
                    "category": category,
                    "target": object_id + 1 in targets,
                    "symmetric": symmetric,
                    "yaw_known": box.yaw_known,
                    "mask_iou": float(iou),
                    "centre_error_m": float(np.linalg.norm(box.centre - centre)),
                    "yaw_error_deg": yaw,
                    "size_error_m": float(np.abs(np.sort(box.size[:2]) - np.sort(expected_size[:2])).max()),
                    "blurred": index == truth.blurred_frame,
                }
            )
    return rows


def true_edit(truth: SimulatedScan, frame_index: int, row: dict, image: np.ndarray) -> np.ndarray | None:
    """A real row's asked edit as it really looks: the simulator's render of the row's target moved, turned and scaled
    as its label says (about the label's box centre), or removed, in frame ``frame_index``'s camera, the pixels it
    changes pasted into the row's source ``image`` (the decoded video frame). None when the target is not a simulated
    object."""
    from gsi_builders.operations import moved_object
    from gsi_datasets.rendering import StateRenderer

    instance = int(row["target_object"]["instance_id"]) - 1 - OBJECT_ID_OFFSET
    scene = truth.scene
    if not any(item.instance_id == instance for item in scene.objects):
        return None
    height, width = image.shape[:2]
    camera = dataclasses.replace(truth.cameras[frame_index], width=width, height=height)
    camera_to_world = np.linalg.inv(np.array(row["camera"]["source_world_to_camera"]))
    to_world, origin = camera_to_world[:3, :3], camera_to_world[:3, 3]
    before, after = (row["target_object"][key] for key in ("box3d_before", "box3d_after"))
    turn = to_world @ np.array(after["rotation"]) @ np.array(before["rotation"]).T @ to_world.T
    factor = float(row["transform"]["scale_factor"])
    centre_before, centre_after = (to_world @ np.array(box["centre"]) + origin for box in (before, after))
    target = scene.object(instance)
    position = turn @ (np.array(target.pose.position) - centre_before) * factor + centre_after
    edited = (
        scene.without_object(instance)
        if row["operation"] == "spatial_remove"
        else scene.with_object(moved_object(target, position, turn @ target.pose.rotation, target.scale * factor))
    )
    with StateRenderer([dataclasses.replace(state, camera=camera) for state in (scene, edited)]) as renderer:
        source_view, edited_view = renderer.render(0), renderer.render(1)
    changed = (source_view.instances != edited_view.instances) | np.any(source_view.rgb != edited_view.rgb, axis=2)
    result = image.copy()
    result[changed] = edited_view.rgb[changed]
    return result
