"""GPU figures for issue 17 item 5, by proxy: the paper objective in JAX on a lent GPU.

Why a proxy. The GPU machine this project is sometimes lent (one H200) has no TensorFlow,
reaches no package registry, and takes at most 64 MiB of files per call; TensorFlow's GPU
wheel alone is 546 MiB (2.21), and the CUDA 12 libraries it needs are not there (the
machine has CUDA 13's). It does have JAX and optax. So this script computes *the same
function* as our paper preset (VGG19 with the official Keras weights up to conv5_1, average
pooling, ½Σ(F−P)² on conv4_2, Σ_l ⅕·Σ(G−A)²/(4N²M²) on conv1_1 … conv5_1, α/β scaled by
(512/size)²) in JAX, checks it against our TensorFlow Evaluator here on the CPU (``check``),
and on the GPU measures what item 5 is about (``run``):

* one evaluation (loss and gradient) at 256 and 512 px in float32, TF32 (what TensorFlow
  and JAX use for float32 convolutions on this GPU by default) and bfloat16;
* scipy's L-BFGS-B driving it, as our default optimiser does: the image and gradient go to
  the host in float64 every evaluation and ``setulb`` runs on one CPU core; the time outside
  the evaluation per iteration, split into the transfers and the rest;
* an L-BFGS whose state stays on the GPU (optax's ``lbfgs``, memory 10, its zoom line
  search; unbounded, as the authors' PyTorch notebook runs it; clipped to 0..255 at the end)
  on the same problem, for the same iterations.

It says nothing about our TensorFlow code's own speed on a GPU; it measures whether, with a
GPU-fast evaluation, the host-side optimiser dominates an iteration, which is the premise
of item 5 (``--optimizer lbfgs-tf``).

Usage:
  # here: the weights (conv1_1 … conv5_1, float32) and the two images for the device
  python benchmarks/gpu_proxy.py export --weights H5 --images DIR --out .gpu
  # here, CPU: the JAX objective against our Evaluator (needs tensorflow and jax)
  python benchmarks/gpu_proxy.py check --weights H5
  # on the GPU machine (JAX, optax, scipy, pillow there), .gpu named in the call's carry;
  # a call carries at most 64 MiB, so results/ (over 100 MiB) is moved aside for it
  python3 benchmarks/gpu_proxy.py run --data .gpu --json $OUT/gpu_proxy.json
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

# The package's modules below import without TensorFlow, which the GPU machine lacks.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from style_transfer.images import load_image, resize_long_side, resize_to
from style_transfer.network import BGR_MEAN, layers_up_to, pixel_bounds
from style_transfer.presets import PRESETS, RATIO_REFERENCE, content_weight_scale
from style_transfer.settings import LBFGS_HISTORY
from style_transfer.tools.figures import CALIBRATION

PAPER = PRESETS["paper"]
CONTENT, STYLE = PAPER.content_layer, PAPER.style_layers  # Keras names, w_l = 1/5
LAYERS = layers_up_to(STYLE[-1])  # VGG19 up to conv5_1, the deepest the objective needs
RATIO = 1e-3 * CALIBRATION["original"].k  # Figure 2 panel C's alpha/beta, calibrated
IMAGES = ("tubingen.jpg", "starry_night.jpg")


def read_h5(path: str) -> dict[str, np.ndarray]:
    """The kernels and biases of ``LAYERS`` from the Keras VGG19 weights file."""
    import h5py

    params = {}
    with h5py.File(path, "r") as weights:
        for layer in LAYERS:
            for array in weights[layer.name].values():  # kernel (4-D) and bias (1-D)
                kind = "kernel" if array.ndim == 4 else "bias"
                params[f"{layer.name}/{kind}"] = np.asarray(array, np.float32)
    return params


def preprocess(rgb: np.ndarray) -> np.ndarray:
    """network.preprocess without Keras: RGB 0..255 -> BGR minus the ImageNet mean."""
    return (rgb[..., ::-1] - BGR_MEAN).astype(np.float32)


# --------------------------------------------------------------------------- the objective


def make_objective(params, content_bgr, style_bgr, content_weight, style_weight, precision):
    """(value_and_grad, value) of the paper objective on a (1, H, W, 3) BGR image, jitted.

    ``precision``: "float32" (every convolution in full float32), "tf32" (the backend's
    default for float32, TF32 on this GPU) or "bfloat16" (network in bfloat16, Grams and
    losses in float32, targets in float32, as our ``--precision auto``).
    """
    import jax
    import jax.numpy as jnp

    dtype = jnp.bfloat16 if precision == "bfloat16" else jnp.float32
    conv_precision = jax.lax.Precision.HIGHEST if precision == "float32" else None
    weights = {k: jnp.asarray(v, dtype) for k, v in params.items()}
    weights32 = {k: jnp.asarray(v) for k, v in params.items()}

    def features(image, weights, dtype, conv_precision):
        h, out, pooled = image.astype(dtype), {}, 0
        for layer in LAYERS:
            if layer.poolings > pooled:  # 2x2 average, "valid" (odd edges dropped, as Keras)
                _, height, width, channels = h.shape
                h = h[:, : height // 2 * 2, : width // 2 * 2]
                h = h.reshape(1, height // 2, 2, width // 2, 2, channels).mean(axis=(2, 4))
                pooled += 1
            h = jax.lax.conv_general_dilated(
                h, weights[f"{layer.name}/kernel"], (1, 1), "SAME",
                dimension_numbers=("NHWC", "HWIO", "NHWC"), precision=conv_precision,
            )  # fmt: skip
            h = jax.nn.relu(h + weights[f"{layer.name}/bias"])
            out[layer.name] = h
        return out

    def gram(f):
        f = f.astype(jnp.float32).reshape(-1, f.shape[-1])
        return jnp.matmul(f.T, f, precision=jax.lax.Precision.HIGHEST)

    highest = jax.lax.Precision.HIGHEST
    content_target = features(jnp.asarray(content_bgr[None]), weights32, jnp.float32, highest)[
        CONTENT
    ]
    style_features = features(jnp.asarray(style_bgr[None]), weights32, jnp.float32, highest)
    style_targets = {layer: gram(style_features[layer]) for layer in STYLE}

    def terms(image):
        feats = features(image, weights, dtype, conv_precision)
        content = 0.5 * jnp.sum((feats[CONTENT].astype(jnp.float32) - content_target) ** 2)
        style = 0.0
        for layer in STYLE:
            n = feats[layer].shape[-1]
            m = feats[layer].shape[1] * feats[layer].shape[2]
            difference = gram(feats[layer]) - style_targets[layer]
            style += jnp.sum(difference**2) / (4.0 * n**2 * m**2) / len(STYLE)
        total = content_weight * content + style_weight * style
        return total, (content, style)

    def total(image):
        return terms(image)[0]

    return jax.jit(jax.value_and_grad(terms, has_aux=True)), jax.jit(total)


def shape_images(data: Path, size: int) -> tuple[np.ndarray, np.ndarray]:
    content, style = (load_image(data / name) for name in IMAGES)
    content = resize_long_side(content, size)
    style = resize_to(style, *content.shape[:2])  # the paper preset: style at the content's size
    return preprocess(content), preprocess(style)


def weights_at(size: int) -> tuple[float, float]:
    """alpha and beta at ``size``: alpha scaled as the paper preset does, beta 1."""
    return RATIO * content_weight_scale(size, RATIO_REFERENCE), PAPER.style_weight


# --------------------------------------------------------------------------- measurements


def median_ms(call, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


def noise_start(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    rgb = np.random.default_rng(seed).uniform(0, 255, shape).astype(np.float32)
    return preprocess(rgb)


def time_evaluation(
    params, data: Path, size: int, precision: str, repeats: int, float32: dict
) -> dict:
    """Median time of one evaluation; its value and gradient against full float32's, which
    ``float32`` holds by size (filled by the float32 call, so time float32 first)."""
    import jax

    content, style = shape_images(data, size)
    alpha, beta = weights_at(size)
    start = time.perf_counter()
    value_and_grad, _ = make_objective(params, content, style, alpha, beta, precision)
    x = jax.device_put(noise_start(content.shape)[None])

    def once():
        (value, _), grad = value_and_grad(x)
        return jax.block_until_ready((value, grad))

    value, grad = once()
    compile_s = time.perf_counter() - start
    for _ in range(3):
        once()
    record = {
        "size": size, "precision": precision, "shape": list(content.shape),
        "compile_s": round(compile_s, 2), "evaluation_ms": round(median_ms(once, repeats), 3),
    }  # fmt: skip
    value, grad = float(value), np.asarray(grad, np.float64)
    if precision == "float32":
        float32[size] = value, grad
    elif size in float32:
        value32, grad32 = float32[size]
        record["value_vs_float32"] = abs(value - value32) / abs(value32)
        record["gradient_vs_float32"] = float(
            np.linalg.norm(grad - grad32) / np.linalg.norm(grad32)
        )
    return record


def scipy_lbfgs(params, data: Path, size: int, precision: str, iterations: int) -> dict:
    """Our default optimiser's pattern: scipy's L-BFGS-B, float64 on the host, pixel bounds."""
    import jax
    import jax.numpy as jnp
    from scipy.optimize import Bounds, minimize

    content, style = shape_images(data, size)
    alpha, beta = weights_at(size)
    value_and_grad, total = make_objective(params, content, style, alpha, beta, precision)
    shape = (1, *content.shape)
    x0 = noise_start(content.shape).astype(np.float64).ravel()
    lower, upper = pixel_bounds(content.shape)
    spent = {"to_device": 0.0, "evaluation": 0.0, "to_host": 0.0, "evaluations": 0}
    value_and_grad(jnp.asarray(x0.astype(np.float32).reshape(shape)))  # compile

    def fun(x):
        t0 = time.perf_counter()
        image = jax.device_put(x.astype(np.float32).reshape(shape))
        jax.block_until_ready(image)
        t1 = time.perf_counter()
        (value, _), grad = value_and_grad(image)
        jax.block_until_ready((value, grad))
        t2 = time.perf_counter()
        result = float(value), np.asarray(grad, np.float64).ravel()
        t3 = time.perf_counter()
        spent["to_device"] += t1 - t0
        spent["evaluation"] += t2 - t1
        spent["to_host"] += t3 - t2
        spent["evaluations"] += 1
        return result

    start = time.perf_counter()
    result = minimize(
        fun, x0, jac=True, method="L-BFGS-B", bounds=Bounds(lower, upper),
        options={"maxiter": iterations, "maxcor": LBFGS_HISTORY, "ftol": 0.0, "gtol": 0.0},
    )  # fmt: skip
    wall = time.perf_counter() - start
    final = float(total(jnp.asarray(result.x.astype(np.float32).reshape(shape))))
    return optimiser_record("scipy L-BFGS-B (host, float64, bounded)", size, precision,
                            wall, result.nit, spent, final)  # fmt: skip


def optax_lbfgs(params, data: Path, size: int, precision: str, iterations: int) -> dict:
    """An L-BFGS whose state stays on the GPU: optax's, one jitted step per iteration."""
    import jax
    import jax.numpy as jnp
    import optax

    content, style = shape_images(data, size)
    alpha, beta = weights_at(size)
    _, total = make_objective(params, content, style, alpha, beta, precision)
    shape = (1, *content.shape)
    lower, upper = (jnp.asarray(b.reshape(shape), jnp.float32) for b in pixel_bounds(shape[1:]))
    optimizer = optax.lbfgs(memory_size=LBFGS_HISTORY)
    value_and_grad = optax.value_and_grad_from_state(total)

    @jax.jit
    def step(x, state):
        value, grad = value_and_grad(x, state=state)
        updates, state = optimizer.update(grad, state, x, value=value, grad=grad, value_fn=total)
        return optax.apply_updates(x, updates), state, value

    x = jax.device_put(noise_start(content.shape)[None])
    state = optimizer.init(x)
    compiled = step.lower(x, state).compile()
    spent = {"evaluations": None}
    linesearch_steps = 0
    start = time.perf_counter()
    for _ in range(iterations):
        x, state, value = compiled(x, state)
        float(value)  # the loss comes to the host every iteration (progress), as in ours
        steps = optax.tree_utils.tree_get(state, "num_linesearch_steps")
        if steps is not None:
            linesearch_steps += int(steps)
    jax.block_until_ready(x)
    wall = time.perf_counter() - start
    # the value and gradient at each new x come from the line search's last trial
    spent["evaluations"] = 1 + linesearch_steps if linesearch_steps else None
    clipped = jnp.clip(x, lower, upper)
    final = float(total(clipped))
    record = optimiser_record("optax lbfgs (on the GPU, float32, unbounded)", size, precision,
                              wall, iterations, spent, final)  # fmt: skip
    record["final_objective_unclipped"] = float(total(x))
    return record


def optimiser_record(name, size, precision, wall, iterations, spent, final) -> dict:
    record = {
        "optimiser": name, "size": size, "precision": precision, "iterations": int(iterations),
        "wall_s": round(wall, 3), "ms_per_iteration": round(1e3 * wall / max(iterations, 1), 3),
        "final_objective": final,
    }  # fmt: skip
    if "evaluation" in spent:
        outside = wall - spent["evaluation"]
        record.update(
            evaluations=spent["evaluations"],
            evaluation_ms=round(1e3 * spent["evaluation"] / spent["evaluations"], 3),
            transfers_ms_per_iteration=round(
                1e3 * (spent["to_device"] + spent["to_host"]) / max(iterations, 1), 3
            ),
            outside_ms_per_iteration=round(1e3 * outside / max(iterations, 1), 3),
            outside_share=round(outside / wall, 4),
        )
    else:
        record["evaluations"] = spent["evaluations"]
    return record


def machine() -> dict:
    import jax

    info = {
        "python": platform.python_version(), "jax": jax.__version__,
        "devices": [str(d) for d in jax.devices()], "cpu": platform.processor(),
    }  # fmt: skip
    try:
        import tensorflow

        info["tensorflow"] = tensorflow.__version__
    except ImportError as error:
        info["tensorflow"] = f"not importable: {error}"
    if shutil.which("nvidia-smi"):
        query = "name,driver_version,memory.total,clocks.sm,clocks.max.sm"
        info["nvidia_smi"] = subprocess.run(
            ["nvidia-smi", f"--query-gpu={query}", "--format=csv,noheader"],
            capture_output=True, text=True, check=False,
        ).stdout.strip()  # fmt: skip
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        info["cpu"] = next(x.split(":", 1)[1].strip() for x in lines if x.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return info


def run(args: argparse.Namespace) -> None:
    data = Path(args.data)
    params = dict(np.load(data / "vgg19_conv5_1.npz"))
    records: list[dict] = []
    out = Path(args.json)

    def keep(record: dict) -> None:
        records.append(record)
        print(json.dumps(record), flush=True)
        out.write_text(json.dumps(records, indent=1) + "\n")  # after each: a timeout keeps them

    keep({"machine": machine()})
    float32: dict = {}
    for size in args.sizes:
        for precision in args.precisions:
            keep(time_evaluation(params, data, size, precision, args.repeats, float32))
    for size, iterations in zip(args.lbfgs_sizes, args.lbfgs_iterations):
        keep(scipy_lbfgs(params, data, size, args.lbfgs_precision, iterations))
        record = optax_lbfgs(params, data, size, args.lbfgs_precision, iterations)
        timed = [r for r in records if r.get("size") == size and "compile_s" in r
                 and r["precision"] == args.lbfgs_precision]  # fmt: skip
        if timed and record["evaluations"]:  # the evaluations' time, as timed alone
            outside = record["wall_s"] - record["evaluations"] * timed[0]["evaluation_ms"] / 1e3
            record["evaluation_ms"] = timed[0]["evaluation_ms"]
            record["outside_ms_per_iteration"] = round(1e3 * outside / iterations, 3)
            record["outside_share"] = round(outside / record["wall_s"], 4)
        keep(record)
    print("\nsize precision  evaluation ms  value, gradient vs float32")
    for r in records:
        if "compile_s" in r:
            print(
                f"{r['size']:>4} {r['precision']:<9} {r['evaluation_ms']:>8.2f}      "
                f"{r.get('value_vs_float32', 0):.1e}, {r.get('gradient_vs_float32', 0):.1e}"
            )
    print("\noptimiser" + " " * 35 + "size its evals  ms/it  eval ms outside obj")
    for r in records:
        if "optimiser" in r:
            print(
                f"{r['optimiser'][:43]:<43} {r['size']:>4} {r['iterations']:>3} "
                f"{r['evaluations'] or 0:>5} "
                f"{r['ms_per_iteration']:>6.1f} {r.get('evaluation_ms', float('nan')):>8.2f} "
                f"{r.get('outside_share', float('nan')):>7.1%}  {r['final_objective']:.4g}"
            )


# --------------------------------------------------------------------------- here


def export(args: argparse.Namespace) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / "vgg19_conv5_1.npz", **read_h5(args.weights))
    for name in IMAGES:
        shutil.copyfile(Path(args.images) / name, out / name)
    print(f"wrote {out}: " + ", ".join(sorted(p.name for p in out.iterdir())))


def check(args: argparse.Namespace) -> None:
    """The JAX objective against our TensorFlow Evaluator, same images, same point."""
    from style_transfer.tools.workload import build_ours

    evaluator, x0, _, _ = build_ours(args.size, "float32", args.weights)
    settings = evaluator.objective.settings
    print(
        f"ours: {settings.preset}, pooling {settings.pooling}, content {settings.content_layer}, "
        f"style {settings.style_layers}, tv {settings.tv_weight}, alpha "
        f"{settings.content_weight:.6g}, beta {settings.style_weight:.6g}"
    )
    terms, grad = evaluator.evaluate(x0)
    names = evaluator.objective.term_names
    from style_transfer.network import preprocess as ours_preprocess
    from style_transfer.tools.workload import synthetic_images

    content, style = (ours_preprocess(image) for image in synthetic_images(args.size))
    value_and_grad, _ = make_objective(
        read_h5(args.weights), content, style, settings.content_weight, settings.style_weight,
        "float32",
    )  # fmt: skip
    (total, (content_loss, style_loss)), jax_grad = value_and_grad(
        np.asarray(x0, np.float32).reshape(1, *evaluator.shape)
    )
    jax_grad = np.asarray(jax_grad, np.float64).ravel()
    pairs = {
        "total": (terms[names.index("total")], float(total)),
        "content": (terms[names.index("content")], float(content_loss)),
        "style": (terms[names.index("style")], float(style_loss)),
    }
    worst = 0.0
    for name, (theirs, mine) in pairs.items():
        relative = abs(mine - theirs) / abs(theirs)
        worst = max(worst, relative)
        print(f"{name:8s} ours {theirs:.8g}  jax {mine:.8g}  relative difference {relative:.2e}")
    gradient = np.linalg.norm(jax_grad - grad) / np.linalg.norm(grad)
    print(f"gradient relative difference (2-norm) {gradient:.2e}")
    if worst > 1e-4 or gradient > 1e-3:
        sys.exit("the JAX objective does not match ours")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("export", help="weights and images for the GPU machine")
    p.add_argument("--weights", required=True)
    p.add_argument("--images", required=True)
    p.add_argument("--out", required=True)
    p = commands.add_parser("check", help="the JAX objective against our Evaluator (CPU)")
    p.add_argument("--weights", required=True)
    p.add_argument("--size", type=int, default=64)
    p = commands.add_parser("run", help="the measurements (on the GPU machine)")
    p.add_argument("--data", required=True)
    p.add_argument("--json", required=True)
    # 1024 px is left out by default: there XLA asked for 129 GiB to compile full float32
    # on an H200 (results/BENCHMARKS.md 6); --sizes 1024 --precisions tf32 bfloat16 for it
    p.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    p.add_argument("--precisions", nargs="+", default=["float32", "tf32", "bfloat16"])
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--lbfgs-sizes", type=int, nargs="+", default=[512])
    p.add_argument("--lbfgs-iterations", type=int, nargs="+", default=[500])
    p.add_argument("--lbfgs-precision", default="tf32")
    args = parser.parse_args()
    {"export": export, "check": check, "run": run}[args.command](args)


if __name__ == "__main__":
    main()
