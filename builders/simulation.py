"""Physics for the data builders: settles scene descriptions with MuJoCo.

Objects are free bodies; furniture, floor and walls are static; the model is built by the same code that renders scenes
(:mod:`gsi_datasets.rendering`), and compiling takes milliseconds, so every scene state gets its own
(cached) model.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from gsi_datasets.rendering import (
    add_object_body,
    add_static_world,
    asset_of,
    body_name,
    geom_instances,
    new_spec,
    variant_key,
)
from gsi_datasets.scene import FLOOR_ID, Pose, Scene


@dataclass(frozen=True)
class SettleResult:
    """Outcome of :func:`settle`.

    Attributes:
        scene: the input scene with every object at its settled pose.
        displacement_m: instance id -> distance its centre moved while settling.
        rotation_deg: instance id -> angle its orientation changed while settling.
        object_contacts: sorted pairs of object instance ids whose collision hulls touch or penetrate (an object
            touching the receptacle object it stands on is supported, not in contact).
        supports: object instance id -> ids of the furniture it touches (``FLOOR_ID`` for the floor), and of the
            receptacle object it stands on when it touches it.
        wall_contacts: ids of the objects touching a wall, a door or the ceiling.
        max_penetration_m: deepest penetration between any two objects (0 when none).
        speed_m_s: largest remaining linear speed of an object at the end (a settled scene is near 0).
        angular_speed_deg_s: largest remaining angular speed of an object at the end.
    """

    scene: Scene
    displacement_m: dict[int, float]
    rotation_deg: dict[int, float]
    object_contacts: tuple[tuple[int, int], ...]
    supports: dict[int, frozenset[int]]
    wall_contacts: frozenset[int]
    max_penetration_m: float
    speed_m_s: float
    angular_speed_deg_s: float


_PHYSICS_MODELS: dict[tuple, mujoco.MjModel] = {}


def _physics_model(scene: Scene) -> mujoco.MjModel:
    """The compiled physics model of a scene, cached by everything but the object poses.

    Moves and rotations re-use the source scene's model: only the initial state differs.
    """
    key = (scene.furniture, scene.room, scene.lights, tuple(variant_key(o) for o in scene.objects))
    if key not in _PHYSICS_MODELS:
        if len(_PHYSICS_MODELS) >= 8:
            _PHYSICS_MODELS.pop(next(iter(_PHYSICS_MODELS)))
        spec = new_spec(scene.camera.width, scene.camera.height)
        add_static_world(spec, scene, visual=False)
        for scene_object in scene.objects:
            add_object_body(spec, body_name(scene_object.instance_id), asset_of(scene_object), mocap=False)
        _PHYSICS_MODELS[key] = spec.compile()
    return _PHYSICS_MODELS[key]


def settle(scene: Scene, duration_s: float = 0.6) -> SettleResult:
    """Lets every object fall and come to rest under gravity, starting from its current pose."""
    model = _physics_model(scene)
    data = mujoco.MjData(model)
    for scene_object in scene.objects:
        address = model.jnt_qposadr[model.body(body_name(scene_object.instance_id)).jntadr[0]]
        data.qpos[address : address + 3] = scene_object.pose.position
        data.qpos[address + 3 : address + 7] = scene_object.pose.quaternion
    mujoco.mj_forward(model, data)
    for _ in range(int(round(duration_s / model.opt.timestep))):
        mujoco.mj_step(model, data)

    geom_instance = geom_instances(model)
    object_ids = {o.instance_id for o in scene.objects}
    floor_geom = model.geom("floor").id
    poses, displacement, rotation = {}, {}, {}
    for scene_object in scene.objects:
        body = model.body(body_name(scene_object.instance_id))
        address = model.jnt_qposadr[body.jntadr[0]]
        position = tuple(float(x) for x in data.qpos[address : address + 3])
        quaternion = data.qpos[address + 3 : address + 7] / np.linalg.norm(data.qpos[address + 3 : address + 7])
        quaternion = tuple(float(x) for x in (quaternion if quaternion[0] >= 0 else -quaternion))
        poses[scene_object.instance_id] = Pose(position, quaternion)
        displacement[scene_object.instance_id] = float(
            np.linalg.norm(np.subtract(position, scene_object.pose.position))
        )
        relative = scene_object.pose.rotation.T @ Pose(position, quaternion).rotation
        rotation[scene_object.instance_id] = float(np.rad2deg(np.arccos(np.clip((np.trace(relative) - 1) / 2, -1, 1))))

    object_contacts, max_penetration = set(), 0.0
    supports: dict[int, set[int]] = {i: set() for i in object_ids}
    wall_contacts = set()
    support_of = {o.instance_id: o.support_id for o in scene.objects}
    for contact in data.contact[: data.ncon]:
        a, b = int(geom_instance[contact.geom1]), int(geom_instance[contact.geom2])
        if a in object_ids and b in object_ids:
            if support_of[a] == b or support_of[b] == a:  # standing on a receptacle object: its support
                upper, lower = (a, b) if support_of[a] == b else (b, a)
                supports[upper].add(lower)
            elif a != b:
                object_contacts.add((min(a, b), max(a, b)))
                max_penetration = max(max_penetration, -float(contact.dist))
            continue
        for moving, other, other_geom in ((a, b, contact.geom2), (b, a, contact.geom1)):
            if moving not in object_ids or other in object_ids:
                continue
            if other != FLOOR_ID:
                supports[moving].add(other)
            elif other_geom == floor_geom:
                supports[moving].add(FLOOR_ID)
            else:
                wall_contacts.add(moving)
    velocities = data.qvel.reshape(-1, 6) if model.nv else np.zeros((1, 6))  # free joints: (linear, angular)
    speed = float(np.linalg.norm(velocities[:, :3], axis=1).max())
    angular_speed = float(np.rad2deg(np.linalg.norm(velocities[:, 3:], axis=1).max()))
    return SettleResult(
        scene=scene.with_poses(poses),
        displacement_m=displacement,
        rotation_deg=rotation,
        object_contacts=tuple(sorted(object_contacts)),
        supports={i: frozenset(ids) for i, ids in supports.items()},
        wall_contacts=frozenset(wall_contacts),
        max_penetration_m=max_penetration,
        speed_m_s=speed,
        angular_speed_deg_s=angular_speed,
    )
