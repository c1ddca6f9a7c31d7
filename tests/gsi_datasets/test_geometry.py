import numpy as np
import pytest

from gsi_datasets.geometry import (
    axis_angle_from_rotation,
    box_corners,
    geodesic_angle_deg,
    intrinsics_from_fovy,
    matrix_to_quaternion,
    project_points,
    projected_box_2d,
    quaternion_to_matrix,
    reference_box,
    rotation_about_axis,
    yaw_from_rotation,
)


@pytest.mark.parametrize("angle", [0.0, 1e-4, 30.0, 90.0, 179.0, 180.0])
def test_axis_angle_round_trip(angle: float) -> None:
    axis = np.array([0.3, -0.5, 0.8]) / np.linalg.norm([0.3, -0.5, 0.8])
    recovered_axis, recovered_angle = axis_angle_from_rotation(rotation_about_axis(axis, angle))
    assert recovered_angle == pytest.approx(angle, abs=1e-6)
    if angle > 1e-3:
        assert np.allclose(rotation_about_axis(recovered_axis, recovered_angle), rotation_about_axis(axis, angle))


def test_quaternion_round_trip_and_convention() -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        quaternion = rng.normal(size=4)
        quaternion /= np.linalg.norm(quaternion)
        quaternion *= np.sign(quaternion[0])
        assert np.allclose(matrix_to_quaternion(quaternion_to_matrix(quaternion)), quaternion, atol=1e-9)
    # (w, x, y, z) order: 90 degrees about z.
    half = np.sqrt(0.5)
    assert np.allclose(quaternion_to_matrix([half, 0, 0, half]), rotation_about_axis([0, 0, 1], 90))


def test_projection_of_principal_axis_hits_image_centre() -> None:
    intrinsics = intrinsics_from_fovy(60.0, 640, 480)
    assert np.allclose(project_points(intrinsics, np.array([[0.0, 0.0, 2.0]])), [[319.5, 239.5]])
    # The top image edge sits at half the vertical field of view.
    top = project_points(intrinsics, np.array([[0.0, -np.tan(np.deg2rad(30.0)), 1.0]]))
    assert top[0, 1] == pytest.approx(-0.5)


def test_box_corners_and_projected_box() -> None:
    rotation = rotation_about_axis([0, 1, 0], 90)
    corners = box_corners(np.array([0, 0, 3.0]), np.array([2.0, 1.0, 0.5]), rotation)
    # Rotating 90 degrees about y swaps the x and z extents.
    assert np.allclose(corners.max(axis=0) - corners.min(axis=0), [0.5, 1.0, 2.0])
    with pytest.raises(ValueError, match="behind the camera"):
        projected_box_2d(np.eye(3), np.array([0, 0, 0.1]), np.array([1.0, 1.0, 1.0]), np.eye(3))


def test_yaw_and_geodesic_angle() -> None:
    assert yaw_from_rotation(rotation_about_axis([0, 1, 0], 40.0)) == pytest.approx(np.deg2rad(40.0))
    assert geodesic_angle_deg(np.eye(3), rotation_about_axis([1, 2, 3], 25.0)) == pytest.approx(25.0)


def test_twist_fold_and_symmetric_geodesic() -> None:
    from gsi_datasets.geometry import fold_angle_deg, symmetric_geodesic_deg, twist_angle_deg

    up = np.array([0.0, 0.0, 1.0])
    tilt = rotation_about_axis(np.array([1.0, 0.0, 0.0]), 10.0)
    for angle in (-170.0, -45.0, 0.0, 30.0, 120.0):
        # The twist ignores a swing about another axis applied before the turn.
        assert twist_angle_deg(rotation_about_axis(up, angle), up) == pytest.approx(angle, abs=1e-9)
        assert twist_angle_deg(rotation_about_axis(up, angle) @ tilt, up) == pytest.approx(angle, abs=1e-9)
    assert fold_angle_deg(270.0, 1) == pytest.approx(-90.0)
    assert fold_angle_deg(-180.0, 1) == pytest.approx(180.0)
    assert fold_angle_deg(100.0, 2) == pytest.approx(-80.0)
    assert fold_angle_deg(90.0, 2) == pytest.approx(90.0)
    assert fold_angle_deg(33.0, 0) == 0.0
    quarter, back = rotation_about_axis(up, 90.0), rotation_about_axis(up, -90.0)
    assert symmetric_geodesic_deg(quarter, back, up, 1) == pytest.approx(180.0)
    assert symmetric_geodesic_deg(quarter, back, up, 2) == pytest.approx(0.0, abs=1e-6)
    assert symmetric_geodesic_deg(quarter @ tilt, back, up, 0) == pytest.approx(10.0, abs=1e-6)


def test_reference_boxes_have_the_height_along_the_camera_vertical() -> None:
    """An upright box (z up) seen by a level camera (y down): in the reference format ``h`` is its height and the
    reference's yaw-based corners are its own corners, so the reference's IoU is the true one; a box exported the old
    way (sizes in our x, y, z order) would read its depth as its height."""
    from gsi_metrics.reference_protocol import box_corners as reference_corners
    from gsi_metrics.reference_protocol import iou_3d

    level = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])  # object axes in the camera frame
    size = np.array([0.3, 0.1, 0.5])  # 30 cm wide, 10 cm deep, 50 cm tall
    for yaw in (0.0, 30.0, -120.0):
        rotation = level @ rotation_about_axis(np.array([0.0, 0.0, 1.0]), yaw)
        centre = np.array([0.2, 0.1, 1.8])
        box, reference_rotation = reference_box(centre, size, rotation)
        assert box[3:6] == pytest.approx([0.3, 0.5, 0.1])  # w, h (the height), l
        assert np.allclose(reference_rotation.T @ reference_rotation, np.eye(3))
        ours = {tuple(np.round(c, 9)) for c in box_corners(centre, size, rotation)}
        assert {tuple(np.round(c, 9)) for c in reference_corners(box)} == ours
        assert {tuple(np.round(c, 9)) for c in reference_corners(box, reference_rotation)} == ours
        assert iou_3d(box, box) == pytest.approx(1.0)
        # Moved 10 cm up: the reference's IoU is the true one (the height overlaps 40 of 60 cm).
        raised, _ = reference_box(centre + [0.0, -0.1, 0.0], size, rotation)
        assert iou_3d(box, raised) == pytest.approx(0.4 / 0.6)


def test_a_half_turn_of_a_rounded_box_rotation_keeps_its_vertical_axis() -> None:
    """A box rotation from float32 scan vertices is orthonormal to ~1e-7 only: a half turn about the vertical then has
    an angle a little under 180 degrees, where the skew part is rounding noise. The axis must still be the vertical
    (it was a horizontal one: real half turns were labelled as flips)."""
    up = np.array([0.1, -0.98, 0.17]) / np.linalg.norm([0.1, -0.98, 0.17])
    box = rotation_about_axis(np.array([0.3, 0.2, 0.9]), 37.0).astype(np.float32).astype(np.float64)
    turned = (rotation_about_axis(up, 180.0) @ box).astype(np.float32).astype(np.float64)
    axis, angle = axis_angle_from_rotation(turned @ box.T)
    assert angle == pytest.approx(180.0, abs=0.1) and abs(axis @ up) > 0.999


def test_object_mesh_samples_round_trips_and_refuses_inconsistent_rows() -> None:
    import trimesh

    from gsi_datasets.geometry import ObjectMesh

    box = trimesh.creation.box(extents=(0.2, 0.1, 0.3))
    colours = np.tile(np.array([[200, 20, 10]], np.uint8), (len(box.vertices), 1))
    colours[box.vertices[:, 2] > 0] = (10, 20, 200)  # blue top half, red bottom
    mesh = ObjectMesh(np.asarray(box.vertices), np.asarray(box.faces), colours)
    points, sampled, normals = mesh.surface_samples(0.01, 100_000)
    area = 2 * (0.2 * 0.1 + 0.2 * 0.3 + 0.1 * 0.3)
    assert len(points) == pytest.approx(area / 0.01**2, rel=0.01)
    assert np.all(np.abs(points) <= np.array([0.1, 0.05, 0.15]) + 1e-9)  # on the surface's box
    assert np.all(np.einsum("nd,nd->n", normals, points) > 0)  # outward, as the faces wind
    top = points[:, 2] > 0.15 - 1e-9  # on the top face
    assert np.allclose(sampled[top], (10, 20, 200))  # the colours follow the vertices
    again = mesh.surface_samples(0.01, 100_000)[0]
    np.testing.assert_array_equal(points, again)
    moved = mesh.transformed(np.array([[1, 0, 0, 1.0], [0, 1, 0, 2.0], [0, 0, 1, 3.0], [0, 0, 0, 1]]))
    back = ObjectMesh.from_row(moved.to_row())
    np.testing.assert_allclose(back.vertices, mesh.vertices + (1.0, 2.0, 3.0), rtol=0, atol=5e-6)
    np.testing.assert_array_equal(back.faces, mesh.faces)
    np.testing.assert_array_equal(back.colours, colours)
    broken = {**mesh.to_row(), "faces": [[0, 1, len(box.vertices)]]}
    with pytest.raises(ValueError, match="inconsistent"):
        ObjectMesh.from_row(broken)


def test_a_box_rotation_times_its_own_transpose_is_no_turn() -> None:
    """``after @ before.T`` of an unturned float32 box is the identity up to rounding, often a symmetric one: no turn,
    not a NaN axis (real moves and scalings had a NaN rotation in their labels)."""
    box = rotation_about_axis(np.array([0.2, -0.4, 0.9]), 71.0).astype(np.float32).astype(np.float64)
    axis, angle = axis_angle_from_rotation(box @ box.T)
    assert np.all(np.isfinite(axis)) and angle < 1e-3
    np.testing.assert_allclose(rotation_about_axis(axis, angle), np.eye(3), atol=1e-9)
