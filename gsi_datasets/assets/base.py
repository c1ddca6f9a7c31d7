"""Asset data types and the category registry.

An asset is a small list of textured triangle meshes ("parts") in the object's local frame, in metres,
z up. Assets are never stored: a scene records ``(category, seed, scale)`` and :func:`make_asset`
regenerates the identical geometry and textures from it, so a scene description stays a few hundred
bytes and re-renders exactly.

Local-frame convention (enforced by :func:`make_asset`): the axis-aligned bounding box of all parts is
centred on the origin, so the object's 3D label box is ``centre = body position``, ``size = extents``,
``rotation = body rotation``.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np


@dataclass(frozen=True)
class Material:
    """Surface appearance of a part.

    Attributes:
        rgba: base colour in [0, 1]; multiplied with the texture when one is given.
        texture: optional ``(H, W, 3)`` uint8 image, mapped with the part's ``uv`` coordinates.
        specular: MuJoCo specular strength in [0, 1].
        shininess: MuJoCo shininess in [0, 1].
        reflectance: MuJoCo reflectance in [0, 1] (0 for almost everything; costs render time).
    """

    rgba: tuple[float, float, float, float] = (0.8, 0.8, 0.8, 1.0)
    texture: np.ndarray | None = field(default=None, compare=False, repr=False)
    specular: float = 0.3
    shininess: float = 0.3
    reflectance: float = 0.0


@dataclass(frozen=True)
class Part:
    """One rigid triangle mesh of an asset.

    Attributes:
        name: short part name, unique within the asset ("body", "handle", "lid").
        vertices: ``(N, 3)`` float64 positions in metres, asset local frame (z up).
        faces: ``(M, 3)`` int32 vertex indices, counter-clockwise seen from outside.
        uv: ``(N, 2)`` texture coordinates in [0, 1], or None for an untextured part.
        material: the part's material.
        shown: drawn in images (False: a convex piece that only physics sees, standing in for a hollow shape).
        collides: physics collides with its convex hull (False: a hollow shape that one hull would fill, a dish's
            well; convex pieces that collide stand in for it).
    """

    name: str
    vertices: np.ndarray
    faces: np.ndarray
    uv: np.ndarray | None
    material: Material
    shown: bool = True
    collides: bool = True

    def __post_init__(self) -> None:
        if self.vertices.ndim != 2 or self.vertices.shape[1] != 3:
            raise ValueError(f"part {self.name!r}: vertices must be (N, 3), got {self.vertices.shape}")
        if self.faces.ndim != 2 or self.faces.shape[1] != 3:
            raise ValueError(f"part {self.name!r}: faces must be (M, 3), got {self.faces.shape}")
        if self.faces.size and (self.faces.min() < 0 or self.faces.max() >= len(self.vertices)):
            raise ValueError(f"part {self.name!r}: face index out of range [0, {len(self.vertices)})")
        if self.uv is not None and self.uv.shape != (len(self.vertices), 2):
            raise ValueError(f"part {self.name!r}: uv must be ({len(self.vertices)}, 2), got {self.uv.shape}")
        if self.material.texture is not None and self.uv is None:
            raise ValueError(f"part {self.name!r}: a textured material needs uv coordinates")
        if not (self.shown or self.collides):
            raise ValueError(f"part {self.name!r} is neither shown nor collided with")


@dataclass(frozen=True)
class Category:
    """A kind of object the generator can place.

    Attributes:
        name: identifier used in the data (snake_case, e.g. ``"coffee_mug"``).
        display_name: what instructions call it ("coffee mug"); unique across categories.
        group: coarse family ("kitchenware", "food", "toys", ...), for reporting.
        symmetry_order: rotational symmetry about the vertical axis *of the geometry and texture*:
            1 = none, n = looks the same after 360/n degrees, 0 = continuous. Rotation edits are only
            asked where the asked angle is not a symmetry of the object.
        build: ``build(rng) -> list[Part]``: geometry in metres with real-world size, resting on z = 0
            (lowest vertex at z = 0), roughly centred on the z axis, stable when placed upright.
        placement: where scenes put it: ``"tabletop"`` (small objects of tabletop scenes and room furniture
            tops), ``"surface"`` (small objects of rooms only, on furniture) or ``"floor"`` (room-scale
            objects standing on the floor).
        receiving_part: for a receptacle that other objects can be put on (a tray, a cutting board, a lidded box),
            the part whose flat top receives them (``gsi_datasets.scene.receiving_surface``); None for the others.
            Physics collides with each part's convex hull, so a hollow receptacle (a plate) is drawn as one part
            that does not collide and collides as convex parts that are not drawn, one of them the receiving part.
        container: an open vessel that things are put *in* (a bowl), its receiving part the piece at its floor: what
            is put in it rests on its inner walls (``gsi_datasets.scene.resting_bottom``), and its inside is its only
            region (receptacle placement).
    """

    name: str
    display_name: str
    group: str
    symmetry_order: int
    build: Callable[[np.random.Generator], list[Part]]
    placement: str = "tabletop"
    receiving_part: str | None = None
    container: bool = False

    def is_symmetry(self, angle_deg: float) -> bool:
        """Whether rotating by ``angle_deg`` about the vertical axis leaves the object looking the same."""
        if self.symmetry_order == 0:
            return True
        step = 360.0 / self.symmetry_order
        remainder = abs(angle_deg) % step
        return min(remainder, step - remainder) < 1e-6


@dataclass(frozen=True)
class Asset:
    """A generated object instance: parts centred on their bounding box (see module docstring)."""

    category: Category
    seed: int
    scale: float
    parts: tuple[Part, ...]

    @cached_property
    def size(self) -> np.ndarray:
        """Full bounding-box extents ``(x, y, z)`` in metres, local frame (computed once; read-only)."""
        vertices = np.concatenate([part.vertices for part in self.parts])
        size = vertices.max(axis=0) - vertices.min(axis=0)
        size.setflags(write=False)
        return size

    def scaled(self, factor: float) -> Asset:
        """This instance uniformly scaled by ``factor`` about its centre (``scale`` multiplied by it); the textures and
        faces are shared. Scaling the unscaled instance gives exactly :func:`make_asset`'s parts at that scale."""
        if factor == 1.0:
            return self
        parts = tuple(dataclasses.replace(part, vertices=part.vertices * factor) for part in self.parts)
        return Asset(category=self.category, seed=self.seed, scale=self.scale * factor, parts=parts)


CATEGORIES: dict[str, Category] = {}


#: Values of ``Category.placement``.
PLACEMENTS = ("tabletop", "surface", "floor")


def register_category(
    name: str,
    display_name: str,
    group: str,
    symmetry_order: int,
    placement: str = "tabletop",
    receiving_part: str | None = None,
    container: bool = False,
) -> Callable[[Callable[[np.random.Generator], list[Part]]], Callable[[np.random.Generator], list[Part]]]:
    """Decorator that registers ``build(rng) -> list[Part]`` as a category."""

    def decorator(build: Callable[[np.random.Generator], list[Part]]) -> Callable[[np.random.Generator], list[Part]]:
        if name in CATEGORIES:
            raise ValueError(f"category {name!r} is registered twice")
        if placement not in PLACEMENTS:
            raise ValueError(f"category {name!r}: placement {placement!r} is not one of {PLACEMENTS}")
        if any(existing.display_name == display_name for existing in CATEGORIES.values()):
            raise ValueError(f"display name {display_name!r} of {name!r} is already used by another category")
        if container and receiving_part is None:
            raise ValueError(f"container {name!r} needs a receiving part (the piece at its floor)")
        CATEGORIES[name] = Category(
            name, display_name, group, symmetry_order, build, placement, receiving_part, container
        )
        return build

    return decorator


def get_category(name: str) -> Category:
    """Looks a category up by name, with a "did you mean" on unknown names."""
    _load_catalog()
    try:
        return CATEGORIES[name]
    except KeyError:
        close = difflib.get_close_matches(name, CATEGORIES, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise KeyError(f"unknown asset category {name!r}.{hint} Known: {len(CATEGORIES)} categories.") from None


def all_categories(placement: str | None = None) -> list[Category]:
    """Every registered category (with ``placement``, when given), sorted by name (a stable order for sampling)."""
    _load_catalog()
    return [CATEGORIES[name] for name in sorted(CATEGORIES) if placement in (None, CATEGORIES[name].placement)]


def make_asset(category: str, seed: int, scale: float = 1.0) -> Asset:
    """Generates the asset instance ``(category, seed)``, uniformly scaled by ``scale``.

    Deterministic: the same arguments give bit-identical parts on any machine.
    """
    spec = get_category(category)
    parts = spec.build(np.random.default_rng(seed))
    if not parts:
        raise ValueError(f"category {category!r} built no parts for seed {seed}")
    vertices = np.concatenate([part.vertices for part in parts])
    centre = (vertices.max(axis=0) + vertices.min(axis=0)) / 2.0
    centred = tuple(
        dataclasses.replace(
            part,
            vertices=np.ascontiguousarray(part.vertices - centre, dtype=np.float64),
            faces=np.ascontiguousarray(part.faces, dtype=np.int32),
        )
        for part in parts
    )
    return Asset(category=spec, seed=seed, scale=1.0, parts=centred).scaled(scale)


def _load_catalog() -> None:
    # The catalog registers categories on import; importing here keeps base.py free of a cycle.
    from gsi_datasets.assets import catalog, room_props  # noqa: F401
