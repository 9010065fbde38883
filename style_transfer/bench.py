"""``python -m style_transfer bench``: where each evaluation's time goes, against three yardsticks.

Measured in one process, interleaved round by round so that a busy machine slows every
candidate alike (the ratios stay fair even when the absolute figures do not):

- **floor**: VGG19 forward to the deepest layer the objective needs, plus the gradient with
  respect to the input, in one ``tf.function`` (nothing else: no Gram, no loss, no copy);
- **ours**: one ``Evaluator`` call (all loss terms and the gradient, float64 in and out, as
  scipy gets them), and one L-BFGS iteration of ``optimize.minimize``, with the share of its
  time spent outside TensorFlow (scipy, float64 conversion, callbacks);
- **common**: the current keras-io ``neural_style_transfer.py`` step, re-implemented
  faithfully: the full ``keras.applications.VGG19`` (max pooling) run on the batch
  [content, style, combination] every step, its losses, ``GradientTape``, one SGD step.

Also: the floor's arithmetic rate against a measured float32 matmul rate, and the peak
resident memory (``VmHWM``) of a real ``transfer`` and of the common approach, each in a
fresh subprocess per size so that sizes do not pollute each other.

``--experiment`` runs the other measurements of results/BENCHMARKS.md: ``coarse-to-fine``
(time to reach a single-scale run's objective), ``precision`` (float32 beside mixed after
the same iterations) and ``memory`` (peak RSS of a real run per size, e.g. 2048 px).
Benchmarks stay out of the test suite; tests/test_bench.py only runs this at a tiny size.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from .network import CONV_LAYERS, FILTERS

DEFAULT_SIZES = (256, 512, 1024)
ASPECT = 0.75  # height / width of the benchmark images (the paper's Tübingen photo is 4:3)


def image_shape(size: int) -> tuple[int, int]:
    """(height, width) of a 4:3 landscape image whose longer side is ``size``."""
    return max(16, round(size * ASPECT)), size


def conv_flops(height: int, width: int, deepest: str) -> float:
    """FLOPs (2 per multiply-add) of VGG19's 3x3 convolutions up to ``deepest``, one image."""
    total, channels = 0.0, 3
    for name in CONV_LAYERS[: CONV_LAYERS.index(deepest) + 1]:
        poolings = int(name[5]) - 1
        positions = (height // 2**poolings) * (width // 2**poolings)
        total += 2.0 * positions * 9 * channels * FILTERS[name]
        channels = FILTERS[name]
    return total


def floor_flops(height: int, width: int, deepest: str) -> float:
    """Forward plus gradient w.r.t. the input: about twice the forward convolutions."""
    return 2.0 * conv_flops(height, width, deepest)


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


def _images(size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A content and a style image (RGB 0..255 float32) of the benchmark shape; timing does
    not depend on what the pixels show, so no image file is needed."""
    height, width = image_shape(size)
    rng = np.random.default_rng(seed)
    smooth = np.linspace(0, 255, width, dtype=np.float32)[None, :, None]
    content = np.clip(smooth + rng.normal(0, 30, (height, width, 3)), 0, 255).astype(np.float32)
    style = rng.uniform(0, 255, (height, width, 3)).astype(np.float32)
    return content, style


def _settings(size: int, precision: str = "float32", weights: str | None = None):
    from .settings import Settings

    return Settings(size=size, iterations=1, precision=precision, weights=weights).resolve()


def build_ours(size: int, precision: str = "float32", weights: str | None = None):
    """(Evaluator, x0, extractor) for the paper preset at ``size``."""
    from .api import load_network
    from .evaluator import Evaluator
    from .network import preprocess
    from .objective import Objective

    resolved = _settings(size, precision, weights)
    content, style = _images(size)
    extractor, _ = load_network(resolved)
    objective = Objective(extractor, resolved, preprocess(content), [preprocess(style)])
    evaluator = Evaluator(objective, content.shape)
    x0 = preprocess(np.random.default_rng(1).uniform(0, 255, content.shape)).astype(np.float64)
    deepest = max(resolved.layers, key=CONV_LAYERS.index)
    return evaluator, x0.ravel(), extractor, deepest


def build_floor(extractor, deepest: str, shape: tuple[int, int, int]) -> Callable[[], object]:
    """The floor: forward to the deepest needed layer + d(sum of it)/d(input), one tf.function."""
    import tensorflow as tf

    image = tf.constant(np.zeros((1, *shape), np.float32))

    @tf.function(input_signature=[tf.TensorSpec((1, *shape), tf.float32)])
    def forward_and_gradient(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            total = tf.reduce_sum(extractor(x, training=False)[deepest])
        return tape.gradient(total, x)

    return lambda: forward_and_gradient(image).numpy()


def build_common(size: int, weights: str | None = None) -> Callable[[], object]:
    """One step of keras-io's ``neural_style_transfer.py`` (F. Chollet), as it does it.

    Full VGG19 (``include_top=False``, max pooling) on the batch [content, style,
    combination]; content loss Σ(C−B)² on block5_conv2, style loss Σ(S−C)²/(4·3²·size²) on
    block1..5_conv1 (the example's normalisation: ``channels = 3``, ``size = rows·cols``), its
    total variation Σ(a+b)^1.25, its weights; gradient by ``GradientTape`` in a
    ``tf.function``; one SGD step with its decaying learning rate 100, applied eagerly.
    """
    import keras
    import tensorflow as tf

    from .network import preprocess
    from .weights import resolve_weights

    rows, cols = image_shape(size)
    content, style = _images(size)
    base_image = tf.constant(preprocess(content)[None])
    style_reference_image = tf.constant(preprocess(style)[None])
    total_variation_weight, style_weight, content_weight = 1e-6, 1e-6, 2.5e-8

    def gram_matrix(x):
        x = tf.transpose(x, (2, 0, 1))
        features = tf.reshape(x, (tf.shape(x)[0], -1))
        return tf.matmul(features, tf.transpose(features))

    def style_loss(style, combination):
        s, c = gram_matrix(style), gram_matrix(combination)
        channels, pixels = 3, rows * cols
        return tf.reduce_sum(tf.square(s - c)) / (4.0 * (channels**2) * (pixels**2))

    def content_loss(base, combination):
        return tf.reduce_sum(tf.square(combination - base))

    def total_variation_loss(x):
        a = tf.square(x[:, : rows - 1, : cols - 1, :] - x[:, 1:, : cols - 1, :])
        b = tf.square(x[:, : rows - 1, : cols - 1, :] - x[:, : rows - 1, 1:, :])
        return tf.reduce_sum(tf.pow(a + b, 1.25))

    model = keras.applications.VGG19(weights=str(resolve_weights(weights)), include_top=False)
    outputs_dict = {layer.name: layer.output for layer in model.layers}
    feature_extractor = keras.Model(inputs=model.inputs, outputs=outputs_dict)
    style_layer_names = [f"block{i}_conv1" for i in range(1, 6)]
    content_layer_name = "block5_conv2"

    def compute_loss(combination_image, base_image, style_reference_image):
        input_tensor = tf.concat([base_image, style_reference_image, combination_image], axis=0)
        features = feature_extractor(input_tensor)
        loss = tf.zeros(shape=())
        layer_features = features[content_layer_name]
        loss = loss + content_weight * content_loss(layer_features[0], layer_features[2])
        for layer_name in style_layer_names:
            layer_features = features[layer_name]
            sl = style_loss(layer_features[1], layer_features[2])
            loss += (style_weight / len(style_layer_names)) * sl
        return loss + total_variation_weight * total_variation_loss(combination_image)

    @tf.function
    def compute_loss_and_grads(combination_image, base_image, style_reference_image):
        with tf.GradientTape() as tape:
            loss = compute_loss(combination_image, base_image, style_reference_image)
        return loss, tape.gradient(loss, combination_image)

    optimizer = keras.optimizers.SGD(
        keras.optimizers.schedules.ExponentialDecay(
            initial_learning_rate=100.0, decay_steps=100, decay_rate=0.96
        )
    )
    combination_image = tf.Variable(base_image)

    def step() -> float:
        loss, grads = compute_loss_and_grads(combination_image, base_image, style_reference_image)
        optimizer.apply_gradients([(grads, combination_image)])
        return float(loss)

    return step


def matmul_gflops(n: int = 2048, repeats: int = 5) -> float:
    """The machine's float32 matmul rate in GFLOP/s (best of ``repeats``, n x n by n x n)."""
    import tensorflow as tf

    a = tf.random.stateless_normal((n, n), seed=(1, 2))
    b = tf.random.stateless_normal((n, n), seed=(3, 4))
    product = tf.function(lambda: tf.reduce_sum(tf.matmul(a, b)))
    product().numpy()
    best = min(_seconds(lambda: product().numpy()) for _ in range(repeats))
    return 2.0 * n**3 / best / 1e9


def _seconds(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def lbfgs_iterations(evaluator, x0: np.ndarray, iterations: int) -> dict:
    """Time ``iterations`` L-BFGS iterations; the share of it spent outside the tf.function."""
    from .network import pixel_bounds
    from .optimize import minimize

    inside = 0.0
    compute = evaluator.compute

    def timed(image):
        nonlocal inside
        started = time.perf_counter()
        terms, grad = compute(image)
        grad.numpy()  # wait for TensorFlow to finish (a GPU runs asynchronously)
        inside += time.perf_counter() - started
        return terms, grad

    marks: list[tuple[float, float, int]] = []  # (time, time inside TF, evaluations) per iteration

    def mark(iteration: int, x: np.ndarray, terms: np.ndarray) -> None:
        marks.append((time.perf_counter(), inside, evaluator.evaluations))

    # x0 was never evaluated (the timing rounds evaluate points beside it), so the cache
    # answers nothing here that the wrapper would miss.
    evaluator.compute = timed
    evaluations_before = evaluator.evaluations
    try:
        started = time.perf_counter()
        outcome = minimize(
            evaluator, x0, iterations, bounds=pixel_bounds(evaluator.shape), lbfgs_history=20,
            on_iteration=mark,
        )  # fmt: skip
        total = time.perf_counter() - started
    finally:
        evaluator.compute = compute
    evaluations = evaluator.evaluations - evaluations_before
    record = {
        "iterations": outcome.iterations,
        "evaluations": evaluations,
        "s_per_iteration": total / max(outcome.iterations, 1),
        "s_per_evaluation_in_lbfgs": total / max(evaluations, 1),
        "outside_tf_share": max(0.0, 1.0 - inside / total),  # set-up included
    }
    if len(marks) >= 2:  # steady state: from the first iteration's end to the last's
        (t0, in0, e0), (t1, in1, e1) = marks[0], marks[-1]
        record["steady_s_per_iteration"] = (t1 - t0) / (len(marks) - 1)
        record["steady_evaluations_per_iteration"] = (e1 - e0) / (len(marks) - 1)
        record["steady_outside_tf_share"] = max(0.0, 1.0 - (in1 - in0) / (t1 - t0))
        record["steady_outside_tf_s_per_iteration"] = ((t1 - t0) - (in1 - in0)) / (len(marks) - 1)
    return record


def measure_size(
    size: int,
    repeats: int,
    iterations: int,
    *,
    common: bool = True,
    precisions: Sequence[str] = ("float32",),
    weights: str | None = None,
) -> dict:
    """Interleaved rounds of floor / ours (per precision) / common at one size; medians."""
    height, width = image_shape(size)
    ours = {p: build_ours(size, p, weights) for p in precisions}
    evaluator, x0, extractor, deepest = ours[precisions[0]]
    floor = build_floor(extractor, deepest, (height, width, 3))
    candidates: dict[str, Callable[[], object]] = {"floor": floor}
    for precision, (ev, x, _, _) in ours.items():
        candidates[f"ours_{precision}"] = _fresh_call(ev, x)
    if common:
        candidates["common"] = build_common(size, weights)
    for call in candidates.values():  # warm up: trace, allocate
        call()
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, call in candidates.items():
            times[name].append(_seconds(call))
    median = {name: float(np.median(values)) for name, values in times.items()}
    record: dict[str, object] = {
        "size": [width, height],
        "deepest_layer": deepest,
        "repeats": repeats,
        "floor_s": median["floor"],
        "floor_gflop": floor_flops(height, width, deepest) / 1e9,
        "floor_gflops_per_s": floor_flops(height, width, deepest) / median["floor"] / 1e9,
        "times_s": {name: [round(t, 4) for t in values] for name, values in times.items()},
    }
    for precision in precisions:
        seconds = median[f"ours_{precision}"]
        record[f"evaluator_s_{precision}"] = seconds
        record[f"evaluator_over_floor_{precision}"] = seconds / median["floor"]
    if common:
        record["common_step_s"] = median["common"]
        record["speedup_over_common"] = median["common"] / median[f"ours_{precisions[0]}"]
    if iterations:
        record["lbfgs"] = lbfgs_iterations(evaluator, x0, iterations)
        record["lbfgs_iteration_over_floor"] = record["lbfgs"]["s_per_iteration"] / median["floor"]
    record["load_average"] = os.getloadavg()
    return record


def _fresh_call(evaluator, x: np.ndarray) -> Callable[[], object]:
    """An Evaluator call on a new point each time (so its small cache never answers)."""
    state = {"x": x}

    def call():
        state["x"] = state["x"] + 1e-3  # a new point: forces a real evaluation
        return evaluator(state["x"])

    return call


def child_rss(mode: str, size: int, steps: int, precision: str, weights: str | None) -> dict:
    """In this (fresh) process: run ``steps`` of ``mode`` at ``size``; peak RSS and timings."""
    import tensorflow as tf  # noqa: F401  (imported before the baseline reading)

    baseline = peak_rss_bytes()
    started = time.perf_counter()
    if mode == "ours":
        from .api import transfer

        content, style = _images(size)
        result = transfer(
            content, style, size=size, iterations=steps, precision=precision,
            weights=weights, progress=False,
        )  # fmt: skip
        optimizer = result.manifest["optimizer"]
        done, evaluations = optimizer["iterations"], optimizer["function_evaluations"]
        optimize_s = result.manifest["optimize_time_s"]
    else:
        step = build_common(size, weights)
        step_started = time.perf_counter()
        for _ in range(steps):
            step()
        done = evaluations = steps
        optimize_s = time.perf_counter() - step_started
    return {
        "mode": mode,
        "size": list(image_shape(size)[::-1]),
        "precision": precision,
        "iterations": done,
        "evaluations": evaluations,
        "s_per_iteration": optimize_s / max(done, 1),
        "wall_s": time.perf_counter() - started,
        "baseline_rss_bytes": baseline,
        "peak_rss_bytes": peak_rss_bytes(),
        "gpu_peak_bytes": gpu_peak_bytes(),
    }


def measure_rss(
    mode: str, size: int, steps: int, precision: str = "float32", weights: str | None = None
) -> dict:
    """Run :func:`child_rss` in a fresh interpreter; its JSON record (or the error)."""
    command = [
        sys.executable, "-m", "style_transfer.bench", "--child", mode, "--sizes", str(size),
        "--iterations", str(steps), "--precision", precision,
    ]  # fmt: skip
    if weights:
        command += ["--weights", weights]
    process = subprocess.run(command, capture_output=True, text=True)
    if process.returncode != 0:
        tail = " ".join(process.stderr.strip().splitlines()[-1:])
        return {"mode": mode, "size": size, "error": tail or f"exit {process.returncode}"}
    return json.loads(process.stdout.strip().splitlines()[-1])


def time_to_reach(manifest: dict, target: float) -> float | None:
    """Seconds of optimisation until the total loss first falls to ``target`` (None: never).

    Within a scale the time is taken as spread evenly over its iterations (its loss history
    has no timestamps); earlier scales count in full, with the set-up of every scale.
    """
    scales = manifest.get("coarse_to_fine", {}).get("scales") or [manifest]
    elapsed = 0.0
    for index, scale in enumerate(scales):
        totals = scale["loss_history"]["total"]
        last = index == len(scales) - 1
        if last:
            for iteration, value in enumerate(totals):
                if value <= target:
                    share = iteration / max(len(totals) - 1, 1)
                    return elapsed + share * scale["optimize_time_s"]
            return None
        elapsed += scale["wall_time_s"]
    return None


def coarse_to_fine_experiment(
    size: int,
    iterations: int,
    scales: int,
    weights: str | None = None,
    baseline_iterations: int | None = None,
) -> dict:
    """Tübingen x Starry Night at ``size``: one single-scale run of ``baseline_iterations``
    (default ``iterations``), then coarse-to-fine with ``iterations`` at its coarsest scale;
    the time each takes to reach the single-scale run's final objective (at the full size,
    same objective). A larger coarse-to-fine budget than the baseline's shows how long it
    needs to get there at all."""
    baseline_iterations = baseline_iterations or iterations
    from .api import transfer
    from .data import image_path

    content, style = image_path("tubingen"), image_path("starry_night")
    runs = {}
    for name, count, budget in (
        ("single_scale", 1, baseline_iterations),
        ("coarse_to_fine", scales, iterations),
    ):
        result = transfer(
            content, style, size=size, iterations=budget, scales=count, weights=weights,
            progress=False,
        )  # fmt: skip
        runs[name] = result.manifest
    target = runs["single_scale"]["final_loss"]["total"]
    record = {
        "size": size,
        "iterations": iterations,
        "baseline_iterations": baseline_iterations,
        "scales": scales,
        "target_total": target,
    }
    for name, manifest in runs.items():
        record[name] = {
            "schedule": manifest.get("coarse_to_fine", {}).get("schedule"),
            "final_total": manifest["final_loss"]["total"],
            "optimize_time_s": manifest["optimize_time_s"],
            "wall_time_s": manifest["wall_time_s"],
            "function_evaluations": manifest["optimizer"]["function_evaluations"],
            "time_to_target_s": time_to_reach(manifest, target),
        }
    for name, manifest in runs.items():
        scales = manifest.get("coarse_to_fine", {}).get("scales") or [manifest]
        record[name]["per_scale"] = [
            {
                "size": scale.get("size", manifest["sizes"]["output"]),
                "wall_time_s": scale["wall_time_s"],
                "optimize_time_s": scale["optimize_time_s"],
                "total_history": scale["loss_history"]["total"],
            }
            for scale in scales
        ]
    reached = record["coarse_to_fine"]["time_to_target_s"]
    single = record["single_scale"]["time_to_target_s"]
    record["speedup_to_target"] = single / reached if reached else None
    # The other way round: when did the single-scale run reach coarse-to-fine's final value?
    c2f_final = record["coarse_to_fine"]["final_total"]
    record["single_scale"]["time_to_coarse_to_fine_final_s"] = time_to_reach(
        runs["single_scale"], c2f_final
    )
    record["load_average"] = os.getloadavg()
    return record


def precision_experiment(size: int, iterations: int, weights: str | None = None) -> dict:
    """Tübingen x Starry Night at ``size`` for ``iterations``: float32 beside mixed, each
    saved image also scored under the float32 objective."""
    from .api import score, transfer
    from .data import image_path

    content, style = image_path("tubingen"), image_path("starry_night")
    record: dict[str, object] = {"size": size, "iterations": iterations}
    for precision in ("float32", "mixed"):
        result = transfer(
            content, style, size=size, iterations=iterations, precision=precision,
            weights=weights, progress=False,
        )  # fmt: skip
        manifest = result.manifest
        evaluations = manifest["optimizer"]["function_evaluations"]
        rescored = score(result.image, content, style, weights=weights)  # float32 objective
        record[precision] = {
            "final_total": manifest["final_loss"]["total"],
            "saved_image_total_float32": rescored["total_loss"],
            "optimize_time_s": manifest["optimize_time_s"],
            "function_evaluations": evaluations,
            "s_per_evaluation": manifest["optimize_time_s"] / max(evaluations, 1),
        }
    record["load_average"] = os.getloadavg()
    return record


def machine() -> dict:
    """What the figures were measured on."""
    import tensorflow as tf

    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpus = tf.config.list_physical_devices("GPU")
    gpu_names = [
        tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus
    ]
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_bytes": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"),
        "gpus": gpu_names,
        "tensorflow": tf.__version__,
        "threads": {
            "intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
        },
        "load_average_at_start": os.getloadavg(),
    }


def run(
    sizes: Sequence[int] = DEFAULT_SIZES,
    *,
    repeats: int = 3,
    iterations: int = 5,
    common: bool = True,
    precisions: Sequence[str] = ("float32",),
    rss: bool = True,
    rss_steps: int = 3,
    weights: str | None = None,
    output: str | os.PathLike | None = "results/bench.json",
    echo: Callable[[str], None] = print,
) -> dict:
    """Measure every size, print the tables and write the JSON; returns the record."""
    report: dict[str, object] = {"command": sys.argv, "machine": machine()}
    echo(f"machine: {report['machine']['cpu']}, {report['machine']['cores']} cores, "
         f"GPUs: {report['machine']['gpus'] or 'none'}; load {os.getloadavg()[0]:.1f}")  # fmt: skip
    report["matmul_gflops_per_s"] = matmul_gflops()
    echo(f"float32 matmul 2048^3: {report['matmul_gflops_per_s']:.0f} GFLOP/s")
    report["sizes"] = []
    for size in sizes:
        record = measure_size(
            size, repeats, iterations, common=common, precisions=precisions, weights=weights
        )
        record["floor_share_of_matmul"] = (
            record["floor_gflops_per_s"] / report["matmul_gflops_per_s"]
        )
        if rss:
            record["rss"] = {"ours": measure_rss("ours", size, rss_steps, precisions[0], weights)}
            if common:
                record["rss"]["common"] = measure_rss("common", size, rss_steps, weights=weights)
        report["sizes"].append(record)
        echo(f"  measured {size} px (load {os.getloadavg()[0]:.1f})")
    report["load_average_at_end"] = os.getloadavg()
    echo(format_table(report, precisions))
    if output is not None:
        from .manifest import write_json_atomic

        Path(output).parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(output, report)
        echo(f"wrote {output}")
    return report


def format_table(report: dict, precisions: Sequence[str] = ("float32",)) -> str:
    """The report as a Markdown table (one row per size)."""
    head = ["size", "floor s", "GFLOP/s (% matmul)"]
    for precision in precisions:
        head += [f"Evaluator s ({precision})", "x floor"]
    head += ["L-BFGS it. s", "evals/it.", "outside TF/it.", "common step s", "speed-up"]
    head += ["peak RSS ours", "peak RSS common"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in report["sizes"]:
        row = [
            f"{r['size'][0]}x{r['size'][1]}",
            f"{r['floor_s']:.3f}",
            f"{r['floor_gflops_per_s']:.0f} ({100 * r.get('floor_share_of_matmul', 0):.0f}%)",
        ]
        for precision in precisions:
            row += [f"{r[f'evaluator_s_{precision}']:.3f}",
                    f"{r[f'evaluator_over_floor_{precision}']:.3f}"]  # fmt: skip
        lbfgs = r.get("lbfgs")
        steady = bool(lbfgs) and "steady_s_per_iteration" in lbfgs
        row += [
            f"{lbfgs['steady_s_per_iteration']:.3f}" if steady else "-",
            f"{lbfgs['steady_evaluations_per_iteration']:.2f}" if steady else "-",
            f"{100 * lbfgs['steady_outside_tf_share']:.1f}%" if steady else "-",
            f"{r['common_step_s']:.3f}" if "common_step_s" in r else "-",
            f"{r['speedup_over_common']:.2f}x" if "speedup_over_common" in r else "-",
        ]
        for mode in ("ours", "common"):
            entry = r.get("rss", {}).get(mode)
            if entry and "peak_rss_bytes" in entry:
                row.append(f"{entry['peak_rss_bytes'] / 2**30:.2f} GiB")
            else:
                row.append(entry.get("error", "-")[:40] if entry else "-")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``bench`` flags (shared by the CLI subcommand and ``python -m style_transfer.bench``)."""
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES),
                        help="longer sides in px (256 512 1024); images are 4:3")  # fmt: skip
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds per size (3)")
    parser.add_argument("--iterations", type=int, default=5, help="L-BFGS iterations timed (5)")
    parser.add_argument(
        "--precision", choices=("float32", "mixed", "both"), default="float32",
        help="the Evaluator's precision; both = float32 and mixed side by side",
    )  # fmt: skip
    parser.add_argument("--no-common", action="store_true", help="skip the keras-io approach")
    parser.add_argument("--no-rss", action="store_true", help="skip the peak-memory subprocesses")
    parser.add_argument("--rss-steps", type=int, default=3, help="iterations per memory run (3)")
    parser.add_argument("--weights", help="local VGG19 notop .h5 file")
    parser.add_argument("--json", default="results/bench.json", help="where to write the JSON")
    parser.add_argument(
        "--experiment", choices=("speed", "coarse-to-fine", "precision", "memory"),
        default="speed",
        help="speed: the tables above (default); coarse-to-fine: time to the single-scale "
        "objective at --sizes[0] (--scales); precision: float32 vs mixed objective after "
        "--iterations; memory: peak RSS of --rss-steps iterations per size, ours only",
    )  # fmt: skip
    parser.add_argument("--scales", type=int, default=3, help="coarse-to-fine scales (3)")
    parser.add_argument(
        "--baseline-iterations", type=int, default=None,
        help="coarse-to-fine: iterations of the single-scale run that sets the target "
        "(default: --iterations)",
    )  # fmt: skip


def main_from_args(args: argparse.Namespace) -> int:
    precisions = ("float32", "mixed") if args.precision == "both" else (args.precision,)
    if args.experiment != "speed":
        if args.experiment == "coarse-to-fine":
            records = [
                coarse_to_fine_experiment(
                    size, args.iterations, args.scales, args.weights, args.baseline_iterations
                )
                for size in args.sizes
            ]
        elif args.experiment == "precision":
            records = [
                precision_experiment(size, args.iterations, args.weights) for size in args.sizes
            ]
        else:
            records = [
                measure_rss("ours", size, args.rss_steps, precisions[0], args.weights)
                for size in args.sizes
            ]
        report = {"command": sys.argv, "experiment": args.experiment, "machine": machine()}
        report["results"] = records
        print(json.dumps(records, indent=2))
        if args.json:
            from .manifest import write_json_atomic

            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            write_json_atomic(args.json, report)
        return 0
    run(
        args.sizes, repeats=args.repeats, iterations=args.iterations, common=not args.no_common,
        precisions=precisions, rss=not args.no_rss, rss_steps=args.rss_steps,
        weights=args.weights, output=args.json,
    )  # fmt: skip
    return 0


def _main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m style_transfer.bench")
    add_arguments(parser)
    parser.add_argument("--child", choices=("ours", "common"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:  # one peak-memory measurement, printed as one JSON line
        precision = "float32" if args.precision == "both" else args.precision
        record = child_rss(args.child, args.sizes[0], args.iterations, precision, args.weights)
        print(json.dumps(record))
        return 0
    return main_from_args(args)


if __name__ == "__main__":
    sys.exit(_main())
