"""A generic RGB-D folder: a user's own captures (``gsi-bench build real --source rgbd:<folder>``), read frame by frame.

Layout (one file per frame, matched by the file name's stem, the frame id)::

    <folder>/
      rgb/<frame>.png | .jpg        the colour image
      depth/<frame>.png             metric depth: 16-bit millimetres (0: unknown) ...
      depth/<frame>.npy             ... or float metres (0, negative or NaN: unknown); either at the RGB size or at a
                                    smaller size of the same aspect ratio (then resized to it, nearest neighbour)
      intrinsics.json               {"fx", "fy", "cx", "cy"} in pixels at the RGB size, for every frame ...
      intrinsics/<frame>.json       ... or per frame (wins over the shared file)
      instances/<frame>.png         per-pixel instance ids, 8- or 16-bit, 0 where no instance (optional per frame)
      labels.json                   {"<instance id>": "<category>"} for every id the instance images use
      poses/<frame>.txt             optional: the 4 x 4 camera-to-world matrix (OpenCV camera: x right, y down, z
                                    forward; metres)

Without poses the frames are independent; 3D boxes then come from back-projecting each instance's depth.

:meth:`RGBDFolder.frame` raises :class:`CaptureError` naming the file at fault (missing, unreadable, of the wrong
size, an instance id without a label). :meth:`RGBDFolder.frames` yields every readable frame and keeps the others in
:attr:`RGBDFolder.skipped` with the reason, so one bad frame costs that frame, not the capture.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from gsi_datasets.real.frames import CaptureError, RGBDFrame

__all__ = ["RGBDFolder"]

RGB_SUFFIXES = (".png", ".jpg", ".jpeg")


class RGBDFolder:
    """The frames of a folder in the layout of the module docstring.

    Raises:
        CaptureError: the folder does not exist, has no ``rgb/`` frames, or ``labels.json`` / ``intrinsics.json``
            cannot be read.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise CaptureError(
                f"{self.folder}: no such folder (an RGB-D capture folder: rgb/, depth/, intrinsics.json)"
            )
        rgb = self.folder / "rgb"
        self._rgb = (
            {p.stem: p for p in sorted(rgb.glob("*")) if p.suffix.lower() in RGB_SUFFIXES} if rgb.is_dir() else {}
        )
        if not self._rgb:
            raise CaptureError(f"{rgb}: no frames (expected rgb/<frame>.png or .jpg)")
        self.labels = self._labels()
        #: Frames :meth:`frames` left out, with the reason (the file at fault and what is wrong).
        self.skipped: dict[str, str] = {}

    @property
    def frame_ids(self) -> list[str]:
        return list(self._rgb)

    def frames(self, frame_ids: Sequence[str] | None = None) -> Iterator[RGBDFrame]:
        """The readable frames of ``frame_ids`` (default: all, in name order); the others go to :attr:`skipped`."""
        for frame_id in self._rgb if frame_ids is None else frame_ids:
            try:
                yield self.frame(frame_id)
            except CaptureError as error:
                self.skipped[frame_id] = str(error)

    def frame(self, frame_id: str) -> RGBDFrame:
        """Frame ``frame_id``.

        Raises:
            CaptureError: naming the missing, unreadable or inconsistent file.
        """
        if frame_id not in self._rgb:
            raise CaptureError(f"{self.folder / 'rgb'}: no frame {frame_id!r}")
        rgb = np.asarray(_open_image(self._rgb[frame_id]).convert("RGB"))
        size = rgb.shape[:2]
        instances = self._instances(frame_id, size)
        return RGBDFrame(
            frame_id=frame_id,
            rgb=rgb,
            depth_m=self._depth(frame_id, size),
            intrinsics=self._intrinsics(frame_id),
            camera_to_world=self._pose(frame_id),
            instances=instances,
            labels=self.labels if instances is not None else None,
        )

    # -- the files of one frame -----------------------------------------------------------------------------

    def _depth(self, frame_id: str, size: tuple[int, int]) -> np.ndarray:
        millimetres, metres = self.folder / "depth" / f"{frame_id}.png", self.folder / "depth" / f"{frame_id}.npy"
        if millimetres.is_file():
            depth = np.asarray(_open_image(millimetres))
            if depth.dtype != np.uint16 and depth.dtype != np.int32:  # PIL reads 16-bit PNGs as I;16 or I
                raise CaptureError(f"{millimetres}: depth PNGs are 16-bit millimetres, this one is {depth.dtype}")
            depth = depth.astype(np.float32) / 1000.0
            path = millimetres
        elif metres.is_file():
            try:
                depth = np.load(metres).astype(np.float32)
            except (OSError, ValueError) as error:
                raise CaptureError(f"{metres}: not a readable .npy array ({error})") from error
            path = metres
        else:
            raise CaptureError(f"{millimetres} (or .npy): missing; every frame needs its depth")
        if depth.ndim != 2:
            raise CaptureError(f"{path}: depth must be one channel, got shape {depth.shape}")
        if depth.shape != size:
            if not math.isclose(depth.shape[1] / depth.shape[0], size[1] / size[0], rel_tol=0.02):
                raise CaptureError(
                    f"{path}: depth is {depth.shape[1]} x {depth.shape[0]}, the RGB {size[1]} x {size[0]}"
                )
            depth = cv2.resize(depth, (size[1], size[0]), interpolation=cv2.INTER_NEAREST)
        return np.where(np.isfinite(depth) & (depth > 0), depth, 0.0).astype(np.float32)

    def _intrinsics(self, frame_id: str) -> np.ndarray:
        own = self.folder / "intrinsics" / f"{frame_id}.json"
        path = own if own.is_file() else self.folder / "intrinsics.json"
        values = _read_json(path, f"every frame needs intrinsics: {path.name} or intrinsics/<frame>.json")
        try:
            fx, fy, cx, cy = (float(values[key]) for key in ("fx", "fy", "cx", "cy"))
        except (KeyError, TypeError, ValueError) as error:
            raise CaptureError(f"{path}: expected numbers fx, fy, cx, cy ({error!r})") from error
        if fx <= 0 or fy <= 0:
            raise CaptureError(f"{path}: focal lengths must be positive, got fx={fx}, fy={fy}")
        return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])

    def _pose(self, frame_id: str) -> np.ndarray | None:
        path = self.folder / "poses" / f"{frame_id}.txt"
        if not path.is_file():
            return None
        try:
            pose = np.loadtxt(path, dtype=np.float64)
        except ValueError as error:
            raise CaptureError(f"{path}: not a 4 x 4 matrix of numbers ({error})") from error
        if pose.shape != (4, 4) or not np.allclose(pose[3], [0, 0, 0, 1]):
            raise CaptureError(f"{path}: expected a 4 x 4 rigid transform, got shape {pose.shape}")
        return pose

    def _instances(self, frame_id: str, size: tuple[int, int]) -> np.ndarray | None:
        path = self.folder / "instances" / f"{frame_id}.png"
        if not path.is_file():
            return None
        instances = np.asarray(_open_image(path)).astype(np.int32)
        if instances.ndim != 2 or instances.shape != size:
            raise CaptureError(f"{path}: shape {instances.shape}, expected one channel at the RGB size {size}")
        unlabelled = sorted(set(np.unique(instances).tolist()) - {0} - set(self.labels))
        if unlabelled:
            raise CaptureError(f"{path}: instance id(s) {unlabelled} have no category in {self.folder / 'labels.json'}")
        return instances

    def _labels(self) -> dict[int, str]:
        path = self.folder / "labels.json"
        if not path.is_file():
            return {}
        raw = _read_json(path, "")
        if not isinstance(raw, dict):
            raise CaptureError(f'{path}: expected an object {{"<instance id>": "<category>"}}')
        labels = {}
        for key, category in raw.items():
            if not str(key).isdigit() or int(key) == 0:
                raise CaptureError(f"{path}: {key!r} is not an instance id (a positive integer)")
            if not isinstance(category, str) or not category.strip():
                raise CaptureError(f"{path}: instance {key} has no category name")
            labels[int(key)] = category.strip()
        return labels


def _open_image(path: Path) -> Image.Image:
    try:
        image = Image.open(path)
        image.load()
    except (OSError, UnidentifiedImageError) as error:
        raise CaptureError(f"{path}: not a readable image ({error})") from error
    return image


def _read_json(path: Path, missing_hint: str) -> object:
    if not path.is_file():
        raise CaptureError(f"{path}: missing" + (f"; {missing_hint}" if missing_hint else ""))
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CaptureError(f"{path}: not readable JSON ({error})") from error
