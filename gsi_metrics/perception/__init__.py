"""Perception backends: recover what an edit did in 3D from the edited image (``create_backend``)."""

from gsi_metrics.perception.base import (
    BACKENDS,
    CameraRecovery,
    Perception,
    PerceptionBackend,
    TargetRecovery,
    backend_spec,
    config_hash,
    create_backend,
    perceive,
    register_backend,
)

__all__ = [
    "BACKENDS",
    "CameraRecovery",
    "Perception",
    "PerceptionBackend",
    "TargetRecovery",
    "backend_spec",
    "config_hash",
    "create_backend",
    "perceive",
    "register_backend",
]
