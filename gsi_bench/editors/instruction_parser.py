"""Rule-based parsing of edit instructions (object and camera operations) into an operation, a target and a value.

The parser reads only the instruction text and the display names of the objects that could be meant (a
stand-in for a detector's vocabulary). It covers every template of ``gsi_datasets/operations`` and a few
obvious variants (units in metres or millimetres, "anticlockwise", "bigger", "triple", ...):

- ``camera_relative_move``: a distance with a unit ("12 cm", "7 centimeters") and one of left / right /
  forward (away from the camera, farther, deeper into the scene) / back (toward the camera, closer, nearer).
- ``object_relative_place``: two objects, a distance with a unit and a relation to the second one ("to the left
  of", "to the right of", "in front of", "behind"); the object named first is moved, the one after the relation
  is the reference.
- ``receptacle_place``: an object, a region ("to the centre / middle of the", "to the nearest / farthest /
  leftmost / rightmost edge of the") and the receptacle named after it (none among the candidates: the surface the
  object stands on); or an object put "in / into / inside the" container named right after (region ``inside``).
- ``object_rotate``: "clockwise" / "counterclockwise" and an angle in degrees.
- ``object_scale``: a resulting size ("twice", "half its size", "1.5 times", "three quarters of") or a
  change ("by 25%", "50% larger", "by half", "by a quarter") with its sense (up / larger / enlarge,
  down / smaller / shrink).
- ``camera_view_change`` (an instruction about the camera, viewpoint or view that names no object): a tilt
  ("tilt", "look higher / lower", "viewing angle") up or down by an angle, a turn ("turn", "pan", "rotate")
  left or right by an angle, or a move by a distance forward (toward the scene) / back (away from it) / left /
  right.
- ``spatial_remove``: a removal verb (remove, delete, take away, erase, get rid of), an object and the position of
  the instance meant among those of its name: leftmost, rightmost, closest / nearest, farthest / furthest,
  highest / topmost, lowest / bottommost, or a phrase of ``POSITION_PHRASES`` ("furthest to the left", "closest
  to the camera", ...), read as a key of ``spatial_remove.POSITIONS``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from gsi_datasets.operations.spatial_remove import POSITION_PHRASES, POSITIONS

MOVE = "camera_relative_move"
PLACE = "object_relative_place"
RECEPTACLE = "receptacle_place"
ROTATE = "object_rotate"
SCALE = "object_scale"
CAMERA = "camera_view_change"
REMOVE = "spatial_remove"

_NUMBER = r"(\d+(?:\.\d+)?)"
_UNITS_M = {"cm": 0.01, "centimeter": 0.01, "centimetre": 0.01, "mm": 0.001, "millimeter": 0.001,
            "millimetre": 0.001, "m": 1.0, "meter": 1.0, "metre": 1.0}  # fmt: skip
_DISTANCE = re.compile(rf"{_NUMBER}\s*(cm|mm|m|(?:centi|milli)?met(?:er|re)s?)\b")
_ANGLE = re.compile(rf"{_NUMBER}\s*(?:degrees?|deg\b|°)")
_ROTATE_SENSE = re.compile(r"\b(counter-?clockwise|anti-?clockwise|clockwise)\b")

#: Move directions, each with the cues that name it (searched in the text with the object name removed).
_MOVE_CUES: dict[str, tuple[str, ...]] = {
    "left": (r"\bleft(?:ward)?s?\b",),
    "right": (r"\bright(?:ward)?s?\b",),
    "forward": (
        r"\bforwards?\b",
        r"\bfar(?:ther)?\b",
        r"\bfurther\b",
        r"\baway from the (?:camera|viewer)\b",
        r"\b(?:deeper )?into the scene\b",
    ),
    "back": (
        r"\bback(?:wards?)?\b",
        r"\btowards? the (?:camera|viewer)\b",
        r"\bcloser\b",
        r"\bnearer\b",
    ),
}

#: Relations of a placement relative to another object (OP), with the side they name.
_RELATION = re.compile(r"\b(to the left of|to the right of|in front of|behind)\s+the\s+")
_RELATION_SIDES = {"to the left of": "left", "to the right of": "right", "in front of": "front", "behind": "behind"}
#: Regions of a receptacle (RP), with the region each phrase names.
_REGION = re.compile(r"\b(centre|center|middle|(?:nearest|farthest|leftmost|rightmost) edge) of the\b")
#: Into an open container (RP's ``inside``): the phrase before the container's name.
_INTO = re.compile(r"\b(?:into|inside|in)\s+the\s+")
#: A removal (SR): its verbs, searched in the text with the object name removed.
_REMOVE_VERB = re.compile(r"\b(?:remove|delete|take away|erase|get rid of)\b")
#: The cues of each removal position, phrases before single words (a phrase is blanked out once it matched, so that
#: "furthest to the left" does not also read as "furthest").
_POSITION_CUES: tuple[tuple[str, str], ...] = (
    *((rf"\b{re.escape(phrase)}\b", position) for position, phrase in POSITION_PHRASES.items()),
    (r"\b(?:furthest|farthest|most) to the left\b", "leftmost"),
    (r"\b(?:furthest|farthest|most) to the right\b", "rightmost"),
    (r"\b(?:closest|nearest) to the (?:camera|viewer)\b", "closest"),
    (r"\b(?:farthest|furthest) (?:away )?from the (?:camera|viewer)\b", "farthest"),
    (r"\bleft-?most\b", "leftmost"),
    (r"\bright-?most\b", "rightmost"),
    (r"\b(?:closest|nearest)\b", "closest"),
    (r"\b(?:farthest|furthest)\b", "farthest"),
    (r"\b(?:highest|top-?most|upper-?most)\b", "highest"),
    (r"\b(?:lowest|bottom-?most)\b", "lowest"),
)
_CAMERA = re.compile(r"\b(?:camera|viewpoint|view)\b")
_TILT = re.compile(r"\btilt|\blook\b|\bviewing angle\b")
_UPWARD = re.compile(r"\b(?:up|upward|higher|raise)\b")
_DOWNWARD = re.compile(r"\b(?:down|downward|lower)\b")
_CAMERA_MOVES = {
    "forward": r"\bforwards?\b|\btoward the scene\b",
    "back": r"\bback(?:wards?)?\b|\baway from the scene\b",
}
_LARGER = re.compile(r"\b(?:up|larger|bigger|enlarge|increase|grow|expand)\b")
_SMALLER = re.compile(r"\b(?:down|smaller|shrink|reduce|decrease)\b")
#: A change of size, relative to the current one: "by 25%", "50% larger", "by half", "by a quarter".
_CHANGE_PERCENT = re.compile(rf"{_NUMBER}\s*%")
_CHANGE_WORDS = {r"\bby (?:a )?half\b": 0.5, r"\bby (?:a|one) quarter\b": 0.25, r"\bby (?:a|one) third\b": 1 / 3}
#: A resulting size, as a multiple of the current one: "twice", "1.5 times", "half its size".
_RESULT_TIMES = re.compile(rf"{_NUMBER}\s*(?:times|x)\b")
_RESULT_WORDS = {
    r"\btwice\b|\bdouble\b": 2.0,
    r"\btriple\b|\bthrice\b": 3.0,
    r"\bthree[- ]quarters?\b": 0.75,
    r"\bhalve\b|\bhalf\b": 0.5,
    r"\b(?:a|one)[- ]quarter\b": 0.25,
}


@dataclass(frozen=True)
class ParsedEdit:
    """What an instruction asks (fields that do not apply to the operation are None).

    Attributes:
        operation: ``camera_relative_move``, ``object_relative_place``, ``receptacle_place``, ``object_rotate``,
            ``object_scale``, ``camera_view_change`` or ``spatial_remove``.
        object_name: the display name of the object to edit, as given in ``display_names`` ("camera" for a
            camera view change; for a removal, the name shared by the instances among which ``direction`` picks).
        direction: left / right / forward / back (move), clockwise / counterclockwise (as seen from above),
            up / down (scale, tilt), the region of a receptacle (``centre``, ``nearest_edge``, ...; the builder's
            ``command.direction``), the position of the instance to remove (a key of ``spatial_remove.POSITIONS``:
            ``leftmost``, ``rightmost``, ``closest``, ``farthest``, ``highest``, ``lowest``).
        distance_m: move distance in metres.
        angle_deg: rotation angle in degrees, positive (the sense is in ``direction``).
        scale_factor: uniform scale factor (new size / old size).
        motion: camera view changes: ``move``, ``turn`` or ``pitch``.
        reference_name: placements relative to another object: that object's display name; placements on a
            receptacle: its display name (None: the surface the object stands on).
    """

    operation: str
    object_name: str
    direction: str
    distance_m: float | None = None
    angle_deg: float | None = None
    scale_factor: float | None = None
    motion: str | None = None
    reference_name: str | None = None


def parse_instruction(text: str, display_names: Iterable[str]) -> ParsedEdit:
    """Parses an object or camera edit instruction (the operations of the module docstring).

    Args:
        text: the instruction, e.g. ``"Move the coffee mug 12 cm to the left."``.
        display_names: names of the objects that could be meant; the longest one found in the text (as whole
            words, case-insensitive) is the target.

    Returns:
        The parsed edit.

    Raises:
        ValueError: ``"cannot parse instruction ...: <reason>"`` when no object, operation or value is found,
            or when the text names opposite directions.
    """
    lowered = text.lower()
    display_names = list(display_names)
    if removal := _removal(text, lowered, display_names):
        return removal
    if not _names_in(lowered, display_names) and _CAMERA.search(lowered):
        return _camera_edit(text, lowered)
    if placement := _placement(text, lowered, display_names):
        return placement
    if region := _REGION.search(lowered):
        # The object is named before the region, the receptacle after it (none found: the surface the object
        # stands on, whose name is no candidate).
        words = region.group(1)
        receptacles = _names_in(lowered[region.end() :], display_names)
        return ParsedEdit(
            RECEPTACLE,
            _find_object(text, lowered[: region.start()], display_names),
            "centre" if " " not in words else words.replace(" ", "_"),
            reference_name=max(receptacles, key=len) if receptacles else None,
        )
    if into := _into_container(text, lowered, display_names):
        return into
    object_name = _find_object(text, lowered, display_names)
    # Drop the object's name so that words inside it cannot read as cues.
    rest = re.sub(rf"\b{re.escape(object_name.lower())}\b", " ", lowered)
    if sense := _ROTATE_SENSE.search(rest):
        angle = _ANGLE.search(rest)
        if angle is None:
            raise _error(text, "a rotation without an angle in degrees")
        direction = "clockwise" if sense.group(1) == "clockwise" else "counterclockwise"
        return ParsedEdit(ROTATE, object_name, direction, angle_deg=float(angle.group(1)))
    if distance := _DISTANCE.search(rest):
        return ParsedEdit(MOVE, object_name, _move_direction(text, rest), distance_m=_metres(distance))
    factor = _scale_factor(text, rest)
    return ParsedEdit(SCALE, object_name, "up" if factor > 1.0 else "down", scale_factor=factor)


def _removal(text: str, lowered: str, display_names: list[str]) -> ParsedEdit | None:
    """A removal of the instance at a position ("Remove the leftmost mug."), or None when the text has no removal
    verb."""
    names = _names_in(lowered, display_names)
    # Drop the object's name so that words inside it cannot read as cues.
    rest = re.sub(rf"\b{re.escape(max(names, key=len).lower())}\b", " ", lowered) if names else lowered
    if not _REMOVE_VERB.search(rest):
        return None
    object_name = _find_object(text, lowered, display_names)
    named = set()
    for cue, position in _POSITION_CUES:
        if re.search(cue, rest):
            named.add(position)
            rest = re.sub(cue, " ", rest)
    if len(named) != 1:
        reason = "no position" if not named else f"conflicting positions {sorted(named)}"
        raise _error(text, f"a removal with {reason} (one of {', '.join(POSITIONS)})")
    return ParsedEdit(REMOVE, object_name, named.pop())


def _placement(text: str, lowered: str, display_names: list[str]) -> ParsedEdit | None:
    """A placement relative to another object ("... to the left of the bowl ..."), or None when the text names no
    relation to an object."""
    relation = _RELATION.search(lowered)
    if relation is None:
        return None
    # "... to the left of the centre of the mug on the desk": the name follows "centre of the".
    after = re.sub(r"^(?:centre|center) of the\s+", "", lowered[relation.end() :])
    references = [n for n in display_names if n and re.match(rf"{re.escape(n.lower())}\b", after)]
    if not references:
        return None
    reference = max(references, key=len)
    # The moved object is named before the relation ("Place the mug so that its centre is ... of the bowl").
    before = lowered[: relation.start()]
    movers = [n for n in _names_in(before, display_names) if n != reference]
    if not movers:
        raise _error(text, f"a placement relative to the {reference} that names no object to move")
    distance = _DISTANCE.search(lowered)
    if distance is None:
        raise _error(text, "a placement without a distance")
    distance_m = _metres(distance)
    side = _RELATION_SIDES[relation.group(1)]
    return ParsedEdit(PLACE, max(movers, key=len), side, distance_m=distance_m, reference_name=reference)


def _metres(distance: re.Match[str]) -> float:
    """The length a :data:`_DISTANCE` match names, in metres."""
    return float(distance.group(1)) * _UNITS_M[distance.group(2).rstrip("s")]


def _error(text: str, reason: str) -> ValueError:
    return ValueError(f"cannot parse instruction {text!r}: {reason}")


def _into_container(text: str, lowered: str, display_names: list[str]) -> ParsedEdit | None:
    """A placement into an open container ("Put the lemon in the bowl."): a candidate's name right after "in / into /
    inside the", and the object named before it; None when no such phrase names a candidate ("as seen in the
    image")."""
    for phrase in _INTO.finditer(lowered):
        after = lowered[phrase.end() :]
        containers = [name for name in display_names if name and re.match(rf"{re.escape(name.lower())}\b", after)]
        if containers:
            container = max(containers, key=len)
            return ParsedEdit(
                RECEPTACLE,
                _find_object(text, lowered[: phrase.start()], display_names),
                "inside",
                reference_name=container,
            )
    return None


def _names_in(lowered: str, display_names: Iterable[str]) -> list[str]:
    return [name for name in display_names if name and re.search(rf"\b{re.escape(name.lower())}\b", lowered)]


def _camera_edit(text: str, lowered: str) -> ParsedEdit:
    """A camera view change: a tilt, a turn (both by an angle) or a move (by a distance)."""
    angle = _ANGLE.search(lowered)
    if angle is not None and _TILT.search(lowered):
        up, down = bool(_UPWARD.search(lowered)), bool(_DOWNWARD.search(lowered))
        if up == down:
            raise _error(text, "a camera tilt without a clear sense (up / higher, down / lower)")
        return ParsedEdit(CAMERA, "camera", "up" if up else "down", angle_deg=float(angle.group(1)), motion="pitch")
    sides = [side for side in ("left", "right") if re.search(rf"\b{side}(?:ward)?s?\b", lowered)]
    if angle is not None:
        if len(sides) != 1:
            raise _error(text, "a camera turn without one side (left or right)")
        return ParsedEdit(CAMERA, "camera", sides[0], angle_deg=float(angle.group(1)), motion="turn")
    distance = _DISTANCE.search(lowered)
    if distance is None:
        raise _error(text, "a camera change without an angle in degrees or a distance")
    distance_m = _metres(distance)
    named = sides + [d for d, cue in _CAMERA_MOVES.items() if re.search(cue, lowered)]
    if len(named) != 1:
        raise _error(text, "a camera move without one direction (forward, back, left or right)")
    return ParsedEdit(CAMERA, "camera", named[0], distance_m=distance_m, motion="move")


def _find_object(text: str, lowered: str, display_names: Iterable[str]) -> str:
    found = _names_in(lowered, display_names)
    if not found:
        raise _error(text, "it names none of the objects " + ", ".join(sorted(map(repr, display_names))))
    # "coffee mug" beats "mug" when both are candidates.
    return max(found, key=len)


def _move_direction(text: str, rest: str) -> str:
    named = [direction for direction, cues in _MOVE_CUES.items() if any(re.search(cue, rest) for cue in cues)]
    if len(named) != 1:
        reason = "no move direction" if not named else f"conflicting move directions {named}"
        raise _error(text, reason + " (left, right, forward / away from the camera, back / toward the camera)")
    return named[0]


def _scale_factor(text: str, rest: str) -> float:
    larger, smaller = bool(_LARGER.search(rest)), bool(_SMALLER.search(rest))
    change = _CHANGE_PERCENT.search(rest)
    amount = float(change.group(1)) / 100.0 if change else None
    for pattern, value in _CHANGE_WORDS.items():
        if amount is None and re.search(pattern, rest):
            amount = value
    if amount is not None:
        # A change needs its sense: "by 25%" alone could go either way.
        if larger == smaller:
            raise _error(text, "a size change without a clear sense (larger / smaller)")
        return 1.0 + amount if larger else 1.0 - amount
    if times := _RESULT_TIMES.search(rest):
        return float(times.group(1))
    for pattern, value in _RESULT_WORDS.items():
        if re.search(pattern, rest):
            return value
    raise _error(text, "no move distance, rotation angle or scale factor")
