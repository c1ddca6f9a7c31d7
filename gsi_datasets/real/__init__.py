"""Real RGB-D captures (GSI-Real): readers that give every frame in one form
(:class:`~gsi_datasets.real.frames.RGBDFrame`), frame and target selection, and 3D boxes from depth or from a scan's
mesh.

- :mod:`gsi_datasets.real.frames`: the frame type, the sharpness criterion, the never-target list, frame selection;
- :mod:`gsi_datasets.real.rgbd_folder`: the generic RGB-D folder (a user's own captures);
- :mod:`gsi_datasets.real.scans`: scans with an annotated mesh (ScanNet++ and the others scenezoo reads): exact instance
  masks by ray casting, visible fractions, boxes from the whole mesh;
- :mod:`gsi_datasets.real.grounding`: gravity and gravity-aligned 3D boxes from one frame's depth.
"""
