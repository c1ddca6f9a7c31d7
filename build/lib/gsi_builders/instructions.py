"""Instruction templates: several natural phrasings per operation and direction.

Templates use ``{object}`` (the display name) and the command's value (``{distance_cm}``, ``{angle_deg}``).
Conventions a person could misread are spelled out in the text: left/right are as seen in the image,
forward means away from the camera, clockwise is as seen from above.
"""

from __future__ import annotations

import numpy as np

TEMPLATES: dict[tuple[str, str], tuple[str, ...]] = {
    ("camera_relative_move", "left"): (
        "Move the {object} {distance_cm} cm to the left.",
        "Shift the {object} {distance_cm} centimeters to the left, as seen in the image.",
        "Slide the {object} to the left by {distance_cm} cm.",
        "Push the {object} {distance_cm} centimeters leftward from the camera's point of view.",
        "Move the {object} {distance_cm} cm to the left in the picture.",
    ),
    ("camera_relative_move", "right"): (
        "Move the {object} {distance_cm} cm to the right.",
        "Shift the {object} {distance_cm} centimeters to the right, as seen in the image.",
        "Slide the {object} to the right by {distance_cm} cm.",
        "Push the {object} {distance_cm} centimeters rightward from the camera's point of view.",
        "Move the {object} {distance_cm} cm to the right in the picture.",
    ),
    ("camera_relative_move", "forward"): (
        "Move the {object} {distance_cm} cm forward, away from the camera.",
        "Push the {object} {distance_cm} centimeters farther away from the camera.",
        "Slide the {object} {distance_cm} cm away from the viewer along the table.",
        "Move the {object} {distance_cm} centimeters deeper into the scene, away from the camera.",
    ),
    ("camera_relative_move", "back"): (
        "Move the {object} {distance_cm} cm back, toward the camera.",
        "Pull the {object} {distance_cm} centimeters closer to the camera.",
        "Slide the {object} {distance_cm} cm toward the viewer along the table.",
        "Bring the {object} {distance_cm} centimeters nearer to the camera.",
    ),
    ("object_rotate", "clockwise"): (
        "Rotate the {object} {angle_deg} degrees clockwise, as seen from above.",
        "Turn the {object} clockwise by {angle_deg} degrees (viewed from above).",
        "Looking down at the table, spin the {object} {angle_deg} degrees clockwise.",
        "Rotate the {object} in place by {angle_deg} degrees clockwise when seen from the top.",
    ),
    ("object_rotate", "counterclockwise"): (
        "Rotate the {object} {angle_deg} degrees counterclockwise, as seen from above.",
        "Turn the {object} counterclockwise by {angle_deg} degrees (viewed from above).",
        "Looking down at the table, spin the {object} {angle_deg} degrees counterclockwise.",
        "Rotate the {object} in place by {angle_deg} degrees counterclockwise when seen from the top.",
    ),
    ("object_scale", "0.5"): (
        "Make the {object} half its size.",
        "Shrink the {object} to half of its current size.",
        "Scale down the {object} by 50%.",
        "Halve the size of the {object}, keeping it where it stands.",
    ),
    ("object_scale", "0.75"): (
        "Scale down the {object} by 25%.",
        "Make the {object} 25% smaller.",
        "Shrink the {object} to three quarters of its size.",
        "Reduce the size of the {object} by a quarter, keeping it where it stands.",
    ),
    ("object_scale", "1.5"): (
        "Make the {object} 50% larger.",
        "Scale up the {object} by 50%.",
        "Enlarge the {object} to 1.5 times its current size.",
        "Increase the size of the {object} by half, keeping it where it stands.",
    ),
    ("object_scale", "2"): (
        "Make the {object} twice as large.",
        "Double the size of the {object}.",
        "Scale the {object} up to twice its current size.",
        "Enlarge the {object} to 2 times its size, keeping it where it stands.",
    ),
}


def scale_key(factor: float) -> str:
    """Template key of a scale factor (``2.0 -> "2"``, ``0.75 -> "0.75"``)."""
    return f"{factor:g}"


def phrase(operation: str, direction: str, rng: np.random.Generator, **values: object) -> tuple[str, str]:
    """Draws a phrasing and fills it in. Returns ``(instruction, template)``.

    Raises:
        KeyError: when no template exists for ``(operation, direction)``.
    """
    try:
        options = TEMPLATES[(operation, direction)]
    except KeyError:
        raise KeyError(f"no instruction templates for operation {operation!r} and direction {direction!r}") from None
    template = options[int(rng.integers(len(options)))]
    return template.format(**values), template
