"""``python -m gsi_bench.train`` and ``accelerate launch -m gsi_bench.train``: see :mod:`gsi_bench.train`."""

import sys

from gsi_bench.train import main

sys.exit(main())
