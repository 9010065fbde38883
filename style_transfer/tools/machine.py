"""What the machine can do and did: FLOP counts, a matmul rate, peak memory, its description."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

from ..network import layers_up_to


def conv_flops(height: int, width: int, deepest: str) -> float:
    """FLOPs (2 per multiply-add) of VGG19's 3x3 convolutions up to ``deepest``, one image."""
    total = 0.0
    for layer in layers_up_to(deepest):
        positions = (height // 2**layer.poolings) * (width // 2**layer.poolings)
        total += 2.0 * positions * 9 * layer.in_channels * layer.filters
    return total


def floor_flops(height: int, width: int, deepest: str) -> float:
    """Forward plus gradient w.r.t. the input: about twice the forward convolutions."""
    return 2.0 * conv_flops(height, width, deepest)


def seconds(call: Callable[[], object]) -> float:
    """Wall-clock seconds of one ``call()``."""
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def matmul_gflops(n: int = 2048, repeats: int = 5) -> float:
    """The machine's float32 matmul rate in GFLOP/s (best of ``repeats``, n x n by n x n)."""
    import tensorflow as tf

    a = tf.random.stateless_normal((n, n), seed=(1, 2))
    b = tf.random.stateless_normal((n, n), seed=(3, 4))
    product = tf.function(lambda: tf.reduce_sum(tf.matmul(a, b)))
    product().numpy()
    best = min(seconds(lambda: product().numpy()) for _ in range(repeats))
    return 2.0 * n**3 / best / 1e9


def peak_rss_bytes() -> int:
    """This process's peak resident memory (``VmHWM`` in /proc/self/status; ru_maxrss elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def gpu_peak_bytes() -> int | None:
    """Peak memory TensorFlow allocated on the first GPU, or None without a GPU."""
    import tensorflow as tf

    if not tf.config.list_physical_devices("GPU"):
        return None
    return int(tf.config.experimental.get_memory_info("GPU:0")["peak"])


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def describe() -> dict:
    """What the figures were measured on."""
    import tensorflow as tf
    from threadpoolctl import threadpool_info

    from ..optimize import LBFGS_BLAS_THREADS

    gpus = tf.config.list_physical_devices("GPU")
    gpu_names = [
        tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus
    ]
    return {
        "cpu": _cpu_name(),
        "cores": os.cpu_count(),
        "memory_bytes": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"),
        "gpus": gpu_names,
        "tensorflow": tf.__version__,
        "threads": {
            "intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
            "blas_during_lbfgs": LBFGS_BLAS_THREADS,  # scipy's L-BFGS-B (BENCHMARKS 5.10)
        },
        "blas": [
            {
                "library": lib["internal_api"],
                "version": lib.get("version"),
                "default_threads": lib["num_threads"],
            }
            for lib in threadpool_info()
            if lib["user_api"] == "blas"
        ],
        "load_average_at_start": os.getloadavg(),
    }
