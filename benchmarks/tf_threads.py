"""Do TensorFlow's thread settings change an evaluation at 512 px? (BENCHMARKS section 1)

One fresh process per setting (TensorFlow fixes its thread pools when it starts): our
Evaluator and the floor at 512 px, 5 alternating calls each after a warm-up, medians, one
JSON line per setting and precision. Run each setting twice to see the noise:

  for pass in 1 2; do for t in "0 0" "2 1" "1 1"; do for p in float32 auto; do
    python benchmarks/tf_threads.py $t $p; done; done; done

Arguments: intra-op threads, inter-op threads (0: TensorFlow's default, one per core), and
the Evaluator's precision.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import tensorflow as tf


def main() -> None:
    intra, inter, precision = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    tf.config.threading.set_intra_op_parallelism_threads(intra)
    tf.config.threading.set_inter_op_parallelism_threads(inter)
    from style_transfer.tools.bench import fresh_call
    from style_transfer.tools.machine import seconds
    from style_transfer.tools.workload import build_floor, build_ours, image_shape

    evaluator, x0, extractor, deepest = build_ours(512, precision)
    calls = {
        "ours": fresh_call(evaluator, x0),
        "floor": build_floor(extractor, deepest, (*image_shape(512), 3)),
    }
    for call in calls.values():
        call()  # trace and warm up
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(5):
        for name, call in calls.items():
            times[name].append(seconds(call))
    medians = {name: round(float(np.median(t)), 4) for name, t in times.items()}
    print(json.dumps({"intra": intra, "inter": inter, "precision": precision, **medians}))


if __name__ == "__main__":
    main()
