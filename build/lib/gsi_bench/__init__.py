"""The ``gsi-bench`` command line (``gsi_bench.cli``); the libraries are ``gsi_datasets``, ``gsi_metrics`` and
``gsi_builders`` (the repository's ``builders/`` folder, installed under that name)."""
