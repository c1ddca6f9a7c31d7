"""Scoring worker processes (`gsi-bench eval`'s pool in :mod:`gsi_bench.evaluation`, and the fidelity suite's).

Their fork server imports this module once before it forks them: the scoring stack, with what it would otherwise
import or compile on each worker's first row (the perception paths, the compiled kernels; about 1.4 s a worker on 2
cores), done once and shared by every worker. Each worker then calls
:func:`one_thread_per_worker` first.
"""

import os

import cv2
from threadpoolctl import threadpool_limits

import gsi_bench.evaluation  # noqa: F401
import gsi_metrics.perception.classical  # noqa: F401
import gsi_metrics.perception.scene_free  # noqa: F401
from gsi_metrics.perception import kernels

kernels.warm_up()


def one_thread_per_worker() -> None:
    """Keeps a worker to one thread: OpenCV's, the BLAS's under numpy, and the software renderer's (llvmpipe, unless
    ``LP_NUM_THREADS`` is set). The workers already use every core; each library's own pool of one thread per core on
    top oversubscribes them. Measured on 2 cores, 120 scene-free oracle rows with 2 workers: 26.9 s with the BLAS's
    threads, 18.9 s with ``OPENBLAS_NUM_THREADS=1`` (what ``threadpool_limits(1)`` sets in a running process)."""
    cv2.setNumThreads(1)
    threadpool_limits(1)
    os.environ.setdefault("LP_NUM_THREADS", "1")
