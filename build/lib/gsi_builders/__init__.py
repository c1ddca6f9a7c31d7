"""GSI-Syn data generation: procedural assets, scene descriptions, MuJoCo simulation and rendering,
spatial edit operations, and the dataset writer. Evaluation code never imports this package.

The folder is ``builders/`` in the repository and installs as the package ``gsi_builders`` (setup.cfg's
``package_dir``), so the distribution adds no generic top-level name to site-packages.
"""
