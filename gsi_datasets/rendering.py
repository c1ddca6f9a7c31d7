"""MuJoCo rendering of stored scenes: RGB, metric depth and instance ids, headless.

A scene description (:mod:`gsi_datasets.scene`) compiles to a MuJoCo model here; the data builders add
physics on top of the same model construction (``gsi_builders.simulation``), and evaluation re-renders
stored scenes with it (render-and-compare), which is why it lives on the data side.

:class:`StateRenderer` holds one visual model with every object of several states of a scene, each
compiled once as a mocap body (an object scaled in another state is drawn scaled); switching state is a pose
update, so the costly GPU-side context is made once per sample, not once per image.

Headless: ``MUJOCO_GL`` defaults to ``egl`` (set before mujoco is imported); ``osmesa`` also works.
"""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")

from collections.abc import Sequence  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from functools import lru_cache  # noqa: E402

import mujoco  # noqa: E402
import numpy as np  # noqa: E402

from gsi_datasets.assets import Asset, make_asset  # noqa: E402
from gsi_datasets.assets.surfaces import surface_texture  # noqa: E402
from gsi_datasets.geometry import matrix_to_quaternion  # noqa: E402
from gsi_datasets.scene import BACKGROUND_ID, Pose, Room, Scene, SceneObject, SurfaceMaterial  # noqa: E402

#: OpenCV camera axes -> MuJoCo camera axes (MuJoCo cameras look down -z with y up).
_CV_TO_MUJOCO_CAMERA = np.diag([1.0, -1.0, -1.0])
#: Where the objects a state does not show are put (out of sight; they are also hidden from drawing).
_PARKED = Pose((0.0, 0.0, -50.0))
#: Geom group of the objects a state does not show: never drawn (out of sight, they still cost vertex work).
_HIDDEN_GROUP = 5
#: Geom group of the geoms a narrowed view leaves out (:meth:`StateRenderer._outside_window`) while it is drawn.
_CULLED_GROUP = 4
_PHYSICS_TIMESTEP_S = 0.002
_OBJECT_DENSITY_KG_M3 = 400.0


@lru_cache(maxsize=128)
def cached_asset(category: str, seed: int, scale: float) -> Asset:
    """:func:`gsi_datasets.assets.make_asset` with a per-process cache (a scene reuses its assets many times); every
    scale of an instance is its unscaled parts scaled, so the instance is generated once for all of them. Scenes
    rarely share an instance: 128 entries missed as often as 512 on 60 room samples (1,727 misses of about 22,900),
    and a room build's largest worker peaked at 834 MiB with 128 against 943 with 512 (`benchmarks/build_throughput.py
    --subset room --num-samples 300 --workers 2`)."""
    if scale == 1.0:
        return make_asset(category, seed)
    return cached_asset(category, seed, 1.0).scaled(scale)


def asset_of(scene_object: SceneObject) -> Asset:
    """The generated asset of a scene object."""
    return cached_asset(scene_object.category, scene_object.asset_seed, scene_object.scale)


# ----------------------------------------------------------------------------------------------------------
# Model construction (shared by physics and rendering)


def add_texture_material(
    spec: mujoco.MjSpec,
    name: str,
    rgba: Sequence[float],
    texture: np.ndarray | None,
    specular: float,
    shininess: float,
    reflectance: float = 0.0,
    texture_repeat: float | None = None,
) -> str:
    material = spec.add_material()
    material.name = name
    material.rgba = list(rgba)
    material.specular = specular
    material.shininess = shininess
    material.reflectance = reflectance
    if texture is not None:
        spec_texture = spec.add_texture()
        spec_texture.name = f"{name}_texture"
        spec_texture.type = mujoco.mjtTexture.mjTEXTURE_2D
        spec_texture.height, spec_texture.width = texture.shape[:2]
        spec_texture.nchannel = 3
        spec_texture.data = np.ascontiguousarray(texture, dtype=np.uint8).tobytes()
        textures = list(material.textures)
        textures[mujoco.mjtTextureRole.mjTEXROLE_RGB] = spec_texture.name
        material.textures = textures
        if texture_repeat is not None:
            material.texuniform = True
            material.texrepeat = [texture_repeat, texture_repeat]
    return name


def add_surface_material(spec: mujoco.MjSpec, name: str, surface: SurfaceMaterial) -> str:
    return add_texture_material(
        spec,
        name,
        (1.0, 1.0, 1.0, 1.0),
        surface_texture(surface),
        specular=0.2,
        shininess=0.2,
        texture_repeat=surface.texture_repeat,
    )


def _add_box(body: mujoco.MjsBody, size: Sequence[float], position: Sequence[float], material: str) -> mujoco.MjsGeom:
    geom = body.add_geom()
    geom.type = mujoco.mjtGeom.mjGEOM_BOX
    geom.size = [s / 2.0 for s in size]
    geom.pos = list(position)
    geom.material = material
    return geom


_WALL_THICKNESS_M = 0.02
#: Colour of what a window shows: a bright, evenly lit outside.
_OUTSIDE_RGBA = (0.78, 0.86, 0.95, 1.0)


def _wall_boxes(room: Room) -> list[tuple[str, tuple[float, float, float], tuple[float, float, float]]]:
    """``(name, centre, size)`` of the wall pieces: each wall is one box, split around its openings."""
    half_x, half_y = room.size_xy[0] / 2, room.size_xy[1] / 2
    height = room.wall_height
    walls = {  # name: (centre of the wall's line, its along-axis, its length)
        "north": ((0.0, half_y), 0, room.size_xy[0]),
        "south": ((0.0, -half_y), 0, room.size_xy[0]),
        "east": ((half_x, 0.0), 1, room.size_xy[1]),
        "west": ((-half_x, 0.0), 1, room.size_xy[1]),
    }
    boxes = []
    for name, (middle, along, length) in walls.items():
        openings = sorted((o for o in room.openings if o.wall == name), key=lambda o: o.offset)
        # Horizontal spans (along the wall, from its middle) and their vertical extent.
        spans: list[tuple[float, float, float, float]] = []
        start = -length / 2
        for opening in openings:
            left, right = opening.offset - opening.width / 2, opening.offset + opening.width / 2
            spans.append((start, left, 0.0, height))
            spans.append((left, right, 0.0, opening.bottom))
            spans.append((left, right, opening.top, height))
            start = right
        spans.append((start, length / 2, 0.0, height))
        for index, (a, b, bottom, top) in enumerate(s for s in spans if s[1] - s[0] > 1e-6 and s[3] - s[2] > 1e-6):
            centre = [middle[0], middle[1], (bottom + top) / 2]
            centre[along] += (a + b) / 2
            size = [_WALL_THICKNESS_M, _WALL_THICKNESS_M, top - bottom]
            size[along] = b - a
            boxes.append((f"wall_{name}{index}" if openings else f"wall_{name}", tuple(centre), tuple(size)))
    return boxes


def _opening_fillers(room: Room) -> list[tuple[str, tuple[float, float, float], tuple[float, float, float]]]:
    """``(kind, centre, size)`` of what fills each opening: a closed door leaf, or the bright outside behind a
    window (just beyond the wall)."""
    half = {"north": room.size_xy[1] / 2, "south": -room.size_xy[1] / 2}
    half.update({"east": room.size_xy[0] / 2, "west": -room.size_xy[0] / 2})
    fillers = []
    for opening in room.openings:
        along = 0 if opening.wall in ("north", "south") else 1
        outward = 1.0 if opening.wall in ("north", "east") else -1.0
        depth = 0.04 if opening.kind == "door" else 0.01
        behind = 0.0 if opening.kind == "door" else 0.15
        centre = [0.0, 0.0, (opening.bottom + opening.top) / 2]
        centre[along] = opening.offset
        centre[1 - along] = half[opening.wall] + outward * behind
        size = [depth, depth, opening.top - opening.bottom]
        size[along] = opening.width + (0.0 if opening.kind == "door" else 0.3)
        if opening.kind != "door":
            size[2] += 0.3
        fillers.append((opening.kind, tuple(centre), tuple(size)))
    return fillers


def add_static_world(spec: mujoco.MjSpec, scene: Scene, visual: bool = True) -> None:
    """Floor, walls (with doors and windows), ceiling, furniture (geoms named ``furniture<id>_<k>``) and lights.

    ``visual=False`` (physics) leaves out materials and textures: they cost time and change no contact.
    """
    world = spec.worldbody
    room = scene.room

    def material(name: str, surface: SurfaceMaterial | None) -> str:
        return add_surface_material(spec, name, surface) if visual and surface is not None else ""

    floor_material = material("floor_material", room.floor)
    wall_material = material("wall_material", room.wall)
    furniture_materials = {
        (piece.instance_id, index): material(f"furniture{piece.instance_id}_material{index}", m)
        for piece in scene.furniture
        for index, m in enumerate(piece.materials)
    }

    floor = world.add_geom()
    floor.name = "floor"
    floor.type = mujoco.mjtGeom.mjGEOM_PLANE
    floor.size = [room.size_xy[0] / 2, room.size_xy[1] / 2, 0.1]
    floor.material = floor_material
    for name, centre, size in _wall_boxes(room):
        _add_box(world, size, centre, wall_material).name = name
    if room.openings:
        outside = door = ""
        if visual:
            outside = add_texture_material(spec, "outside_material", _OUTSIDE_RGBA, None, 0.0, 0.0)
            spec.material(outside).emission = 1.0
            door = add_texture_material(spec, "door_material", (0.55, 0.40, 0.28, 1.0), None, 0.2, 0.2)
        for index, (kind, centre, size) in enumerate(_opening_fillers(room)):
            geom = _add_box(world, size, centre, door if kind == "door" else outside)
            geom.name = f"{kind}{index}"
            if kind != "door":
                geom.contype = geom.conaffinity = 0
    if room.ceiling is not None:
        ceiling_material = material("ceiling_material", room.ceiling)
        size = (room.size_xy[0], room.size_xy[1], _WALL_THICKNESS_M)
        _add_box(world, size, (0.0, 0.0, room.wall_height + _WALL_THICKNESS_M / 2), ceiling_material).name = "ceiling"

    for piece in scene.furniture:
        rotation, origin = piece.pose.rotation, np.array(piece.pose.position)
        quaternion = [float(q) for q in piece.pose.quaternion]
        for index, block in enumerate(piece.blocks):
            material = furniture_materials[(piece.instance_id, block.material)]
            centre = origin + rotation @ np.array(block.centre)
            if block.shape == "cylinder":
                geom = world.add_geom()
                geom.type = mujoco.mjtGeom.mjGEOM_CYLINDER
                geom.size = [block.size[0] / 2, block.size[2] / 2, 0.0]
                geom.pos = list(centre)
                geom.material = material
            else:
                geom = _add_box(world, block.size, centre, material)
                geom.quat = quaternion
            geom.name = f"furniture{piece.instance_id}_{index}"

    for index, light in enumerate(scene.lights):
        spec_light = world.add_light()
        spec_light.name = f"light{index}"
        spec_light.pos = list(light.position)
        spec_light.dir = list(light.direction)
        spec_light.diffuse = list(light.diffuse)
        spec_light.specular = [0.2, 0.2, 0.2]
        spec_light.castshadow = light.cast_shadow
        spec_light.type = (
            mujoco.mjtLightType.mjLIGHT_DIRECTIONAL if light.directional else mujoco.mjtLightType.mjLIGHT_SPOT
        )
        if not light.directional:
            spec_light.cutoff = 70.0
            spec_light.attenuation = [1.0, 0.0, 0.0]
    spec.visual.headlight.ambient = [0.35, 0.35, 0.35]
    spec.visual.headlight.diffuse = [0.25, 0.25, 0.25]
    spec.visual.headlight.specular = [0.0, 0.0, 0.0]


def add_object_body(spec: mujoco.MjSpec, name: str, asset: Asset, *, mocap: bool) -> list[mujoco.MjsGeom]:
    body = spec.worldbody.add_body()
    body.name = name
    if mocap:
        body.mocap = True
    else:
        body.add_freejoint()
    geoms = []
    # A mocap body is only drawn; a free body only collides (physics models are never drawn).
    for part in (p for p in asset.parts if (p.shown if mocap else p.collides)):
        mesh = spec.add_mesh()
        mesh.name = f"{name}_{part.name}_mesh"
        mesh.uservert = part.vertices.ravel().tolist()
        mesh.userface = part.faces.ravel().tolist()
        if part.uv is not None:
            # MuJoCo's texture v axis points down the image; our uv has v up.
            uv = np.column_stack([part.uv[:, 0], 1.0 - part.uv[:, 1]])
            mesh.usertexcoord = uv.ravel().tolist()
        # Named by the asset (category and seed), not the body: bodies of the same asset share its textures.
        material = f"{asset.category.name}{asset.seed}_{part.name}_material"
        if spec.material(material) is None:
            m = part.material
            add_texture_material(spec, material, m.rgba, m.texture, m.specular, m.shininess, m.reflectance)
        geom = body.add_geom()
        geom.type = mujoco.mjtGeom.mjGEOM_MESH
        geom.meshname = mesh.name
        geom.material = material
        if mocap:
            # Visual-only copy: no collision, so MuJoCo skips the convex hull (a third of compile time).
            geom.contype = 0
            geom.conaffinity = 0
        else:
            geom.density = _OBJECT_DENSITY_KG_M3
            geom.friction = [1.0, 0.01, 0.001]
        geoms.append(geom)
    return geoms


def new_spec(width: int, height: int) -> mujoco.MjSpec:
    spec = mujoco.MjSpec()
    spec.option.timestep = _PHYSICS_TIMESTEP_S
    spec.option.noslip_iterations = 3
    spec.visual.global_.offwidth = width
    spec.visual.global_.offheight = height
    spec.visual.quality.shadowsize = 2048
    spec.visual.quality.offsamples = 4
    spec.visual.map.znear = 0.005
    spec.visual.map.zfar = 5.0
    spec.stat.extent = 2.0
    return spec


VariantKey = tuple[int, str, int, float]


def variant_key(scene_object: SceneObject) -> VariantKey:
    return (scene_object.instance_id, scene_object.category, scene_object.asset_seed, scene_object.scale)


InstanceKey = tuple[int, str, int]


def instance_key(scene_object: SceneObject) -> InstanceKey:
    """An object instance, at any scale (the renderer's key; :func:`variant_key` is the physics model's)."""
    return (scene_object.instance_id, scene_object.category, scene_object.asset_seed)


def body_name(instance_id: int, variant: int = 0) -> str:
    return f"object{instance_id}_v{variant}"


def geom_instances(model: mujoco.MjModel) -> np.ndarray:
    """Instance id of every geom of a model built by this module: furniture geoms by name, objects by body name."""
    instances = np.full(model.ngeom, BACKGROUND_ID, dtype=np.int32)
    for geom in range(model.ngeom):
        body_name = model.body(model.geom_bodyid[geom]).name
        geom_name = model.geom(geom).name
        if geom_name.startswith("furniture"):
            instances[geom] = int(geom_name[len("furniture") :].split("_")[0])
        elif body_name.startswith("object"):
            instances[geom] = int(body_name[len("object") :].split("_")[0])
    return instances


# ----------------------------------------------------------------------------------------------------------
# Rendering


@dataclass(frozen=True)
class RenderOutput:
    """One rendered view.

    Attributes:
        rgb: ``(H, W, 3)`` uint8 colour image.
        depth_m: ``(H, W)`` float32 depth along the camera's z axis in metres (0 where nothing is in range).
        instances: ``(H, W)`` uint16 instance ids (``BACKGROUND_ID``, a piece of furniture's or an object's id).
    """

    rgb: np.ndarray
    depth_m: np.ndarray
    instances: np.ndarray


_GL_CONTEXT = None


def _make_gl_context_current(width: int, height: int) -> None:
    # One GL context per process: creating one costs tens of milliseconds, and models come and go.
    global _GL_CONTEXT
    if _GL_CONTEXT is None:
        from mujoco.rendering.classic import gl_context

        if gl_context.GLContext is None:
            raise RuntimeError(
                "MuJoCo found no headless OpenGL. Install the EGL/Mesa libraries "
                "(apt-get install -y libegl1 libegl-mesa0 libgl1-mesa-dri) or set MUJOCO_GL=osmesa with libosmesa6."
            )
        _GL_CONTEXT = gl_context.GLContext(width, height)
    _GL_CONTEXT.make_current()


def _drain_gl_errors() -> None:
    """Clears GL errors left pending by earlier contexts (freeing one can leave GL_INVALID_FRAMEBUFFER_OPERATION
    behind), which MuJoCo would otherwise report as its own, "in or before mjr_makeContext", in MUJOCO_LOG.TXT."""
    from OpenGL import GL

    for _ in range(16):
        if GL.glGetError() == GL.GL_NO_ERROR:
            return


def nearer_of(front: tuple[np.ndarray, np.ndarray], back: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """The RGB of two layers of :meth:`StateRenderer.render_layer` (``(rgb, depth)`` of the same pixels) put together:
    each pixel from the layer whose surface is nearer there (``back``'s where they are as near)."""
    (front_rgb, front_depth), (back_rgb, back_depth) = front, back
    drawing = back_rgb.copy()
    np.copyto(drawing, front_rgb, where=(front_depth > back_depth)[..., None])
    return drawing


class StateRenderer:
    """Renders any of several states of one scene from one compiled model.

    The states must share the furniture, room and lights; objects may move, change scale, appear or
    disappear, and the camera may move. Use as a context manager, or call :meth:`close`.

    An object is compiled once, at the scale it first has; drawn at another scale, its drawn geoms are scaled about its
    centre (the asset's parts are its unscaled parts scaled about it, :meth:`~gsi_datasets.assets.base.Asset.scaled`):
    the same surfaces, up to the rounding of their vertices. Render-and-compare's renderer draws its target at some
    thirty scales; a body per scale made building it take up to three times as long (6 scenes: 25-65 ms with one body
    for the target, 36-182 ms with 33).
    """

    def __init__(self, states: Sequence[Scene], shadows: bool = True) -> None:
        """``shadows=False``: a renderer that never draws shadows (render-and-compare's), made without the 2048-pixel
        shadow map that half of a context's making costs on the CPU rasteriser."""
        if not states:
            raise ValueError("StateRenderer needs at least one scene state")
        first = states[0]
        for state in states[1:]:
            if (state.furniture, state.room, state.lights) != (first.furniture, first.room, first.lights):
                raise ValueError("all states rendered together must share the furniture, room and lights")
        self._states = list(states)
        self.width, self.height = first.camera.width, first.camera.height
        spec = new_spec(self.width, self.height)
        add_static_world(spec, first)
        camera = spec.worldbody.add_camera()
        camera.name = "camera"
        #: Each object instance's body and the scale its geoms are compiled at.
        self._variants: dict[InstanceKey, tuple[str, float]] = {}
        for state in states:
            for scene_object in state.objects:
                key = instance_key(scene_object)
                if key not in self._variants:
                    name = body_name(scene_object.instance_id, len(self._variants))
                    add_object_body(spec, name, asset_of(scene_object), mocap=True)
                    self._variants[key] = (name, scene_object.scale)
        self._model = spec.compile()
        self._data = mujoco.MjData(self._model)
        self.geom_instances = geom_instances(self._model)
        self._mocap_of = {name: self._model.body(name).mocapid[0] for name, _ in self._variants.values()}
        body_of_geom = self._model.geom_bodyid
        self._geoms_of = {
            name: np.flatnonzero(body_of_geom == self._model.body(name).id) for name, _ in self._variants.values()
        }
        # What :meth:`_pose` last set: each body's pose and scale factor (``_PARKED``: hidden; none yet), each geom's
        # scale factor (drawn / compiled), and the camera.
        self._posed: dict[str, tuple[Pose, float]] = {}
        self._geom_factor = np.ones(self._model.ngeom)
        self._posed_camera = None
        self._camera_from_world: tuple[np.ndarray, np.ndarray] = (np.eye(3), np.zeros(3))  # (rotation.T, translation)

        _make_gl_context_current(self.width, self.height)
        _drain_gl_errors()
        self._shadows = shadows
        #: The one-pixel textures the context without anti-aliasing was made with; it draws with the first one's.
        self._aliased_own_textures: np.ndarray | None = None
        self._context = self._new_context(multisampled=True, shadows=shadows)
        # Without multisampling or shadows, made when first asked for (see :meth:`render_rgb`).
        self._aliased_context: mujoco.MjrContext | None = None
        self._scene = mujoco.MjvScene(self._model, maxgeom=2000)
        self._option = mujoco.MjvOption()
        self._option.geomgroup[_HIDDEN_GROUP] = 0
        self._option.geomgroup[_CULLED_GROUP] = 0
        # Bounding spheres of the geoms a narrowed view may leave out: all but planes (whose radius MuJoCo sets to 0),
        # and none where a material reflects (a mirror shows what lies outside the view).
        self._cullable = (self._model.geom_rbound > 0) & (self._model.mat_reflectance.max(initial=0.0) == 0.0)
        self._camera = mujoco.MjvCamera()
        self._camera.type = mujoco.mjtCamera.mjCAMERA_FIXED
        self._camera.fixedcamid = 0
        self._rect = mujoco.MjrRect(0, 0, self.width, self.height)

    def __enter__(self) -> StateRenderer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _new_context(self, multisampled: bool, shadows: bool, textures: bool = True) -> mujoco.MjrContext:
        """A context drawing with the model's multisampling or without, with its shadow map or a one-pixel one (a
        context that never draws shadows), with the model's textures or one-pixel ones (``textures=False``: a context
        that is to draw with another's, see :meth:`_drawing_context`)."""
        quality = self._model.vis.quality
        samples, shadow_size = quality.offsamples, quality.shadowsize
        sizes = self._model.tex_width.copy(), self._model.tex_height.copy()
        quality.offsamples = samples if multisampled else 0
        quality.shadowsize = shadow_size if shadows else 1
        if not textures:
            self._model.tex_width[:], self._model.tex_height[:] = 1, 1
        try:
            context = mujoco.MjrContext(self._model, mujoco.mjtFontScale.mjFONTSCALE_50.value)
        finally:
            quality.offsamples, quality.shadowsize = samples, shadow_size
            self._model.tex_width[:], self._model.tex_height[:] = sizes
        context.readDepthMap = mujoco.mjtDepthMap.mjDEPTH_ZEROFAR
        return context

    def _drawing_context(self, antialias: bool) -> mujoco.MjrContext:
        """The context that draws with (the model's multisampling) or without anti-aliasing, its offscreen buffer bound
        for drawing. Bound before every draw: one GL context serves every renderer of the process, and another
        renderer's draws leave its own buffer bound (a renderer that took its buffer to be still bound read back its
        previous drawing after another one had drawn and been closed)."""
        if antialias:
            context = self._context
        else:
            if self._aliased_context is None:
                # Uploading a model's textures and building their mipmaps is most of a context's making on the CPU
                # rasteriser (a room's fifteen 256-pixel surfaces: about 20 of 26 ms): this one draws with the first
                # one's, and gets its own one-pixel ones back before it is freed (:meth:`close`).
                context = self._new_context(multisampled=False, shadows=False, textures=False)
                self._aliased_own_textures = context.texture.copy()
                context.texture[:] = self._context.texture
                self._aliased_context = context
            context = self._aliased_context
        mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN.value, context)
        return context

    def close(self) -> None:
        """Frees the GPU-side contexts (idempotent)."""
        if self._context is not None:
            _make_gl_context_current(self.width, self.height)
            if self._aliased_context is not None:  # freed first, with its own textures; the shared ones with the other
                self._aliased_context.texture[:] = self._aliased_own_textures
                self._aliased_context.free()
            self._context.free()
            self._context = self._aliased_context = None

    def _pose_state(self, state_index: int) -> None:
        self._pose(self._states[state_index])

    def _pose(self, state: Scene) -> None:
        present = {}
        for scene_object in state.objects:
            key = instance_key(scene_object)
            if key not in self._variants:
                raise KeyError(f"object {key} was not among the states this renderer was built for")
            name, compiled_scale = self._variants[key]
            present[name] = (scene_object.pose, scene_object.scale / compiled_scale)
        # Only what differs from the last posed state is set (a search poses one object many times).
        for name, mocap_id in self._mocap_of.items():
            placed, posed = present.get(name, (_PARKED, 1.0)), self._posed.get(name)
            if placed != posed:
                self._posed[name] = placed
                pose, factor = placed
                self._data.mocap_pos[mocap_id] = pose.position
                self._data.mocap_quat[mocap_id] = pose.quaternion
                self._model.geom_group[self._geoms_of[name]] = _HIDDEN_GROUP if name not in present else 0
                self._geom_factor[self._geoms_of[name]] = factor
        camera = state.camera
        if camera != self._posed_camera:
            self._model.cam_pos[0] = camera.position
            self._model.cam_quat[0] = matrix_to_quaternion(np.array(camera.rotation) @ _CV_TO_MUJOCO_CAMERA)
            self._model.cam_fovy[0] = camera.fovy_deg
            self._posed_camera = camera
            world_to_camera = camera.world_to_camera
            self._camera_from_world = (world_to_camera[:3, :3].T.copy(), world_to_camera[:3, 3].copy())
        mujoco.mj_kinematics(self._model, self._data)
        mujoco.mj_camlight(self._model, self._data)

    def _draw(
        self,
        segmentation: bool,
        shadows: bool = True,
        rect: mujoco.MjrRect | None = None,
        window: tuple[int, int, int, int] | None = None,
        divisor: int = 1,
        antialias: bool = True,
        geoms: np.ndarray | None = None,
    ) -> mujoco.MjrContext:
        """Draws the posed state (only the geoms where the boolean mask ``geoms`` is set, when given); returns the
        context to read it from."""
        if self._context is None:
            raise RuntimeError("StateRenderer was used after close()")
        _make_gl_context_current(self.width, self.height)
        # Ids are drawn unlit: a shadow pass (a 2048-pixel shadow map per light) would change none of them.
        shadows = shadows and not segmentation
        if shadows and not (self._shadows and antialias):
            raise ValueError(
                "shadows are drawn only with anti-aliasing, by a renderer made with shadows=True: pass shadows=False"
            )
        # Ids are drawn without multisampling either way (MuJoCo draws them flat); reading them from the multisampled
        # buffer only adds its resolve (the same ids, about twice the time).
        context = self._drawing_context(antialias and not segmentation)
        # A narrowed view without shadows draws only the geoms that reach into it: the same pixels (nothing else makes
        # a fragment there), and much less vertex work, which is most of a small view's cost on a CPU rasteriser. (A
        # shadow falls into the view from geoms outside it.)
        if geoms is not None:  # a layer (:meth:`render_layer`), drawn whole: one object in a window around it
            culled = np.flatnonzero(~geoms & (self._model.geom_group == 0))
        elif window is not None and not shadows:
            culled = self._outside_window(window, divisor)
        else:
            culled = np.empty(0, np.int64)
        self._model.geom_group[culled] = _CULLED_GROUP
        try:
            mujoco.mjv_updateScene(
                self._model, self._data, self._option, None, self._camera, mujoco.mjtCatBit.mjCAT_ALL.value, self._scene
            )
        finally:
            self._model.geom_group[culled] = 0
        self._scale_drawn_geoms()
        if window is not None:
            self._narrow_frustum(window, self.width // divisor, self.height // divisor)
        self._scene.flags[mujoco.mjtRndFlag.mjRND_SEGMENT] = segmentation
        self._scene.flags[mujoco.mjtRndFlag.mjRND_IDCOLOR] = segmentation
        self._scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = shadows
        mujoco.mjr_render(self._rect if rect is None else rect, self._scene, context)
        return context

    def _scale_drawn_geoms(self) -> None:
        """Scales the updated scene's geoms of objects drawn at another scale than compiled, about their bodies'
        centres."""
        factors = self._geom_factor
        if not np.any(factors != 1.0):
            return
        body_of_geom, centres = self._model.geom_bodyid, self._data.xpos
        for index in range(self._scene.ngeom):
            geom = self._scene.geoms[index]
            if geom.objtype == mujoco.mjtObj.mjOBJ_GEOM and (factor := factors[geom.objid]) != 1.0:
                centre = centres[body_of_geom[geom.objid]]
                geom.pos[:] = centre + factor * (geom.pos - centre)
                geom.mat[:] = factor * geom.mat

    def _outside_window(self, window: tuple[int, int, int, int], divisor: int, margin_px: float = 2.0) -> np.ndarray:
        """The shown geoms whose bounding spheres lie wholly outside the view of the pixels ``window = (left, top,
        right, bottom)`` of the full view drawn ``1 / divisor`` times the image's size (widened by ``margin_px`` image
        pixels), or behind the camera."""
        camera = self._posed_camera
        rotation, translation = self._camera_from_world
        # The window's edges as tangents of the angles off the optical axis (MuJoCo centres the view on it).
        focal = 0.5 * camera.height / np.tan(np.deg2rad(0.5 * camera.fovy_deg))
        left, top, right, bottom = divisor * np.asarray(window, float) + (-margin_px, -margin_px, margin_px, margin_px)
        left, right = (left - 0.5 * camera.width) / focal, (right - 0.5 * camera.width) / focal
        top, bottom = (top - 0.5 * camera.height) / focal, (bottom - 0.5 * camera.height) / focal
        # Inward normals (camera frame) of the planes bounding the view: in front of the camera, and right of its left
        # edge, left of its right edge, below its top, above its bottom (each plane through the optical centre).
        normals = np.array(
            [[0.0, 0.0, 1.0], [1.0, 0.0, -left], [-1.0, 0.0, right], [0.0, 1.0, -top], [0.0, -1.0, bottom]]
        )
        normals /= np.linalg.norm(normals, axis=1, keepdims=True)
        # Each geom's signed distance to each plane (camera frame: the rotation and translation folded into the planes).
        # (Geoms drawn scaled: their bounding spheres scaled about their bodies' centres.)
        factors, body_centres = self._geom_factor, self._data.xpos[self._model.geom_bodyid]
        geom_centres = body_centres + factors[:, None] * (self._data.geom_xpos - body_centres)
        distances = geom_centres @ (rotation @ normals.T) + translation @ normals.T
        outside = (distances < -(factors * self._model.geom_rbound)[:, None]).any(axis=1)
        return np.flatnonzero(outside & self._cullable & (self._model.geom_group == 0))

    def _read_instances(self, context: mujoco.MjrContext) -> np.ndarray:
        colours = np.empty((self.height, self.width, 3), dtype=np.uint8)
        mujoco.mjr_readPixels(colours, None, self._rect, context)
        segment = (
            colours[..., 0].astype(np.int64)
            | colours[..., 1].astype(np.int64) << 8
            | (colours[..., 2].astype(np.int64) << 16)
        )
        lookup = np.full(self._scene.ngeom + 1, BACKGROUND_ID, dtype=np.uint16)
        for index in range(self._scene.ngeom):
            geom = self._scene.geoms[index]
            if geom.segid >= 0 and geom.objtype == mujoco.mjtObj.mjOBJ_GEOM:
                lookup[geom.segid + 1] = self.geom_instances[geom.objid]
        return np.flipud(lookup[np.minimum(segment, self._scene.ngeom)])

    @property
    def states(self) -> list[Scene]:
        """The states this renderer renders, by index."""
        return list(self._states)

    def add_state(self, state: Scene) -> int | None:
        """Adds a state made of this renderer's objects, at any scale (same furniture, room and lights), and returns its
        index; None when it needs an object the renderer was not built with (then build another renderer)."""
        first = self._states[0]
        if (state.furniture, state.room, state.lights) != (first.furniture, first.room, first.lights):
            return None
        if any(instance_key(o) not in self._variants for o in state.objects):
            return None
        if (state.camera.width, state.camera.height) != (self.width, self.height):
            return None
        self._states.append(state)
        return len(self._states) - 1

    def render(self, state_index: int) -> RenderOutput:
        """RGB, metric depth and instance ids of state ``state_index``."""
        self._pose_state(state_index)
        self._draw(segmentation=False)
        rgb = np.empty((self.height, self.width, 3), dtype=np.uint8)
        depth_buffer = np.empty((self.height, self.width), dtype=np.float32)
        mujoco.mjr_readPixels(rgb, depth_buffer, self._rect, self._context)
        instances = self._read_instances(self._draw(segmentation=True))
        return RenderOutput(
            rgb=np.flipud(rgb).copy(),
            depth_m=np.flipud(self._metric_depth(depth_buffer)).copy(),
            instances=instances.copy(),
        )

    def _narrow_frustum(self, window: tuple[int, int, int, int], width: int, height: int) -> None:
        """Narrows the view frustum of the updated scene to the pixels ``window = (left, top, right, bottom)`` of the
        full view drawn ``width`` by ``height`` pixels, so that drawing into a ``right - left`` by ``bottom - top``
        viewport gives exactly those pixels of the full view."""
        left, top, right, bottom = window
        for camera in self._scene.camera:
            # A pixel's side on the near plane; the full view is centred on the optical axis.
            pixel = (camera.frustum_top - camera.frustum_bottom) / height
            full_left = camera.frustum_center - 0.5 * pixel * width
            full_top = camera.frustum_top
            camera.frustum_center = full_left + 0.5 * (left + right) * pixel
            camera.frustum_width = 0.5 * (right - left) * pixel
            camera.frustum_top = full_top - top * pixel
            camera.frustum_bottom = full_top - bottom * pixel

    def render_rgb(
        self,
        state: Scene,
        shadows: bool = True,
        divisor: int = 1,
        window: tuple[int, int, int, int] | None = None,
        antialias: bool = True,
    ) -> np.ndarray:
        """RGB only (one pass) of any state made of the objects this renderer was built with, at any scale.

        Render-and-compare evaluates many hypothesised states of one scene this way; the camera is taken
        from ``state`` and must have the renderer's image size. ``divisor`` renders the same view at
        ``1 / divisor`` of that size (fewer pixels to draw; edges are not anti-aliased like a reduced
        full-size image's). ``window = (left, top, right, bottom)`` draws only those pixels of that view
        (columns ``left .. right - 1``, rows ``top .. bottom - 1``): the same pixels, far fewer to draw.
        ``antialias=False`` draws without multisampling (a third to a half cheaper on the CPU rasteriser; jagged edges)
        and without shadows (pass ``shadows=False``).
        """
        width, height = self._drawn_size(state, divisor, window)
        rect = mujoco.MjrRect(0, 0, width, height)
        self._pose(state)
        context = self._draw(
            segmentation=False, shadows=shadows, rect=rect, window=window, divisor=divisor, antialias=antialias
        )
        rgb = np.empty((height, width, 3), dtype=np.uint8)
        mujoco.mjr_readPixels(rgb, None, rect, context)
        return np.flipud(rgb).copy()

    def render_layer(
        self, state: Scene, geoms: np.ndarray, divisor: int = 1, window: tuple[int, int, int, int] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(rgb, depth)`` of only the geoms where the boolean mask ``geoms`` (over the model's geoms, e.g. from
        :attr:`geom_instances`) is set, drawn as :meth:`render_rgb` draws with ``antialias=False, shadows=False``;
        ``depth`` is the depth buffer (float32, larger is nearer, 0 where nothing is drawn). Without anti-aliasing
        and shadows, a pixel shows the nearest surface drawn there and its shading depends on that surface alone: two
        layers that split a state's geoms, put together by :func:`nearer_of`, are :meth:`render_rgb`'s drawing of it
        (up to surfaces at the same depth). A search that moves one object draws it alone over the rest drawn once."""
        return self.render_layers([(state, geoms, window)], divisor)[0]

    def render_layers(
        self, layers: Sequence[tuple[Scene, np.ndarray, tuple[int, int, int, int] | None]], divisor: int = 1
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """:meth:`render_layer` of each ``(state, geoms, window)``, drawn side by side into the offscreen buffer and
        read back together: the rasteriser is waited for once per buffer full instead of once per layer (8 layers of a
        52 x 88 window, one thread: 0.64 -> 0.47 ms a layer). The same drawings as drawing each alone up to the
        rasteriser's rounding, which depends on a pixel's place in the buffer: the same pixels drawn, depths within
        some 1e-8, and a few colours a level or two apart (the textured table, 14 of 65,536 pixels of a whole view)."""
        drawn: list[tuple[np.ndarray, np.ndarray]] = []
        placed: list[tuple[int, int, int, int]] = []  # (left, bottom, width, height) in the buffer, GL's rows
        context = None

        def read_back() -> None:
            width = max(x + w for x, _, w, _ in placed)
            height = max(y + h for _, y, _, h in placed)
            rgb = np.empty((height, width, 3), dtype=np.uint8)
            depth = np.empty((height, width), dtype=np.float32)
            mujoco.mjr_readPixels(rgb, depth, mujoco.MjrRect(0, 0, width, height), context)
            for x, y, w, h in placed:
                rows, columns = slice(y, y + h), slice(x, x + w)
                drawn.append((np.flipud(rgb[rows, columns]).copy(), np.flipud(depth[rows, columns]).copy()))
            placed.clear()

        left = bottom = shelf = 0  # the next place on the current shelf, and the shelf's height
        for state, geoms, window in layers:
            if geoms.shape != (self._model.ngeom,):
                raise ValueError(f"geoms must be a mask over the model's {self._model.ngeom} geoms, got {geoms.shape}")
            width, height = self._drawn_size(state, divisor, window)
            if left + width > self.width:  # the next shelf
                left, bottom, shelf = 0, bottom + shelf, 0
            if bottom + height > self.height:  # the buffer is full
                read_back()
                left = bottom = shelf = 0
            self._pose(state)
            context = self._draw(
                segmentation=False,
                shadows=False,
                rect=mujoco.MjrRect(left, bottom, width, height),
                window=window,
                divisor=divisor,
                antialias=False,
                geoms=geoms,
            )
            placed.append((left, bottom, width, height))
            left, shelf = left + width, max(shelf, height)
        if placed:
            read_back()
        return drawn

    def _drawn_size(self, state: Scene, divisor: int, window: tuple[int, int, int, int] | None) -> tuple[int, int]:
        """``(width, height)`` of a drawing of ``state`` at ``1 / divisor`` of the image's size, of ``window`` of it if
        given.

        Raises:
            ValueError: ``state``'s camera has another image size than the renderer, or ``window`` is not part of the
                view.
        """
        if (state.camera.width, state.camera.height) != (self.width, self.height):
            raise ValueError(
                f"state camera is {state.camera.width}x{state.camera.height}, the renderer {self.width}x{self.height}"
            )
        width, height = self.width // divisor, self.height // divisor
        if window is None:
            return width, height
        left, top, right, bottom = window
        if not (0 <= left < right <= width and 0 <= top < bottom <= height):
            raise ValueError(f"window {window} is not a non-empty part of the {width}x{height} view")
        return right - left, bottom - top

    def render_instances(self, state: Scene) -> np.ndarray:
        """Instance ids of any state made of this renderer's objects (see :meth:`render_rgb`)."""
        self._pose(state)
        return self._read_instances(self._draw(segmentation=True))

    def unoccluded_pixels(self, state_index: int, instance_id: int) -> int:
        """Pixel count of ``instance_id`` rendered with nothing else in the scene (for visible fractions)."""
        self._pose_state(state_index)
        own = self.geom_instances == instance_id
        saved_groups = self._model.geom_group.copy()
        saved_flags = self._option.geomgroup.copy()
        try:
            self._model.geom_group[:] = 0
            self._model.geom_group[own] = 1
            self._option.geomgroup[:] = 0
            self._option.geomgroup[1] = 1
            return int(np.count_nonzero(self._read_instances(self._draw(segmentation=True)) == instance_id))
        finally:
            self._model.geom_group[:] = saved_groups
            self._option.geomgroup[:] = saved_flags

    def _metric_depth(self, buffer: np.ndarray) -> np.ndarray:
        # MuJoCo renders reverse-Z; undo its perspective projection (float64 to keep millimetre precision).
        extent = self._model.stat.extent
        near = np.float32(self._model.vis.map.znear * extent)
        far = np.float32(self._model.vis.map.zfar * extent)
        c_coef = np.float32(-0.5) * (-(far + near) / (far - near)) - np.float32(0.5)
        d_coef = np.float32(-0.5) * (-(np.float32(2) * far * near) / (far - near))
        depth = d_coef / (buffer.astype(np.float64) + c_coef)
        depth[depth >= far * 0.999] = 0.0
        return depth.astype(np.float32)
