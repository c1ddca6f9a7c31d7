"""``python -m gsi_bench`` (and ``accelerate launch -m gsi_bench generate ...``): the ``gsi-bench`` command."""

import sys

from gsi_bench.cli import main

sys.exit(main())
