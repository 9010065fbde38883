"""Which precision the network runs in, and why: ``auto`` takes bfloat16 where the CPU has it.

A request (``Settings.precision``) is one of ``REQUESTS``; what runs is a Keras dtype policy
(``POLICIES``). In every policy the weights, Grams, losses and gradients stay float32
(network.build_feature_extractor casts each returned feature map back to float32).

``auto`` resolves, on this machine, to

- ``mixed_bfloat16`` on a CPU with native bfloat16 arithmetic (the ``amx_bf16`` or
  ``avx512_bf16`` flag in Linux's /proc/cpuinfo) while TensorFlow's oneDNN kernels are on:
  there a 512-px evaluation takes about a quarter of float32's time (issue 17), for images
  of ``BFLOAT16_MIN_SIZE`` px and more (smaller ones keep float32: see there);
- ``float32`` on a GPU: mixed float16 has not been checked against float32 on a GPU for this
  objective (the one GPU lent had no TensorFlow), and float16's range is narrower than
  bfloat16's (the paper's unnormalised style losses reach 1e10), so ``auto`` does not assume
  it holds up; ``--precision mixed`` opts in. TensorFlow runs float32 convolutions in TF32 on
  Ampere and later GPUs; in a JAX proxy of this objective on an H200 that was 4.7× full
  float32 at 512 px, and bfloat16 only 1.25× more (results/BENCHMARKS.md 6);
- ``float32`` everywhere else (no such flag, macOS/Windows, where the flags are not read,
  or oneDNN switched off by ``TF_ENABLE_ONEDNN_OPTS=0``: without it bfloat16 is emulated).

``resolve`` answers for this machine (once per process); ``choose`` is the same decision
from given facts, so it can be tested anywhere. ``satisfies`` is the rule by which an
existing result is reused for a request (``reproduce``, ``sweep`` resume).
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

REQUESTS = ("auto", "float32", "mixed")  # what Settings.precision accepts
POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")  # the Keras dtype policies used
BFLOAT16_FLAGS = ("amx_bf16", "avx512_bf16")  # CPU flags of native bfloat16 (AMX first)
# The smallest longer side at which ``auto`` takes bfloat16. Figure 2's panels after 500
# iterations, saved images scored in float32: at 512 px B, C, D, F ended 0.15-0.31% above
# float32's objective; at 256 px C and F 0.63% and 0.56%, over the 0.5% allowed, because
# bfloat16's iterations gain less than float32's late in a run (results/BENCHMARKS.md 5.4).
BFLOAT16_MIN_SIZE = 512
CPUINFO = Path("/proc/cpuinfo")


@dataclass(frozen=True)
class Precision:
    """A precision request, the Keras policy it resolved to, and why (for the manifest)."""

    requested: str
    used: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def bfloat16_flag(flags: str | Iterable[str]) -> str | None:
    """The first of ``BFLOAT16_FLAGS`` among ``flags`` (a cpuinfo ``flags`` line or names)."""
    names = set(flags.split()) if isinstance(flags, str) else set(flags)
    return next((flag for flag in BFLOAT16_FLAGS if flag in names), None)


def cpu_flags(cpuinfo: Path = CPUINFO) -> set[str] | None:
    """The CPU's feature flags from Linux's /proc/cpuinfo; None where they cannot be read."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return set(value.split())
    return None


def choose(
    requested: str,
    *,
    gpu: bool,
    flags: Iterable[str] | None,
    onednn: bool = True,
    size: int | None = None,
) -> Precision:
    """The policy for ``requested`` given the facts: a GPU present, the CPU flags, oneDNN on,
    and the image's longer side (``size``; None: any size, as for a network built once)."""
    if requested == "float32":
        return Precision(requested, "float32", "requested")
    if requested == "mixed":
        return Precision(requested, "mixed_float16" if gpu else "mixed_bfloat16", "requested")
    if requested != "auto":
        raise ValueError(f"unknown precision request {requested!r}")  # checked in network.py
    if gpu:
        return Precision(
            requested, "float32", "GPU: mixed float16 not verified for this objective; "
            "--precision mixed opts in",
        )  # fmt: skip
    if flags is None:
        return Precision(requested, "float32", f"CPU flags not read on {sys.platform}")
    flag = bfloat16_flag(flags)
    if flag is None:
        return Precision(requested, "float32", "CPU has no native bfloat16 (amx_bf16/avx512_bf16)")
    if not onednn:
        return Precision(requested, "float32", f"CPU has {flag} but TF_ENABLE_ONEDNN_OPTS=0")
    if size is not None and size < BFLOAT16_MIN_SIZE:
        return Precision(
            requested, "float32", f"CPU has {flag}, but at {size} px (under "
            f"{BFLOAT16_MIN_SIZE}) bfloat16 ends over 0.5% above float32's objective",
        )  # fmt: skip
    return Precision(requested, "mixed_bfloat16", f"CPU has {flag}")


@functools.cache
def resolve(requested: str, size: int | None = None) -> Precision:
    """``choose`` for this machine and an image of longer side ``size`` (asks TensorFlow for
    GPUs, so it loads TensorFlow)."""
    import tensorflow as tf

    onednn = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1").strip().lower() not in ("0", "false")
    return choose(
        requested,
        gpu=bool(tf.config.list_physical_devices("GPU")),
        flags=cpu_flags() if sys.platform.startswith("linux") else None,
        onednn=onednn,
        size=size,
    )


def policy(precision: str) -> str:
    """The Keras policy for a request (resolved on this machine) or for a policy (itself)."""
    return precision if precision in POLICIES else resolve(precision).used


def recorded(manifest: dict) -> str:
    """The policy a manifest's run used: its ``precision.used``, else from its settings.

    Manifests before ``auto`` existed name only the request: no ``precision`` setting (it
    did not exist yet) or ``"float32"`` ran float32; ``"mixed"`` is returned as is (its
    policy, bfloat16 or float16, was not recorded).
    """
    entry = manifest.get("precision")
    if isinstance(entry, dict) and entry.get("used") in POLICIES:
        return entry["used"]
    return manifest.get("settings", {}).get("precision", "float32")


def satisfies(used: str, requested: str, size: int | None = None) -> bool:
    """Whether a result computed with policy ``used`` answers a request for ``requested``.

    ``float32`` and ``mixed`` want exactly what they name (an old ``"mixed"`` record counts
    as mixed). ``auto`` promises float32's result, faster where it can: a float32 result is
    that result, so it is reused on any machine; a mixed one only where ``auto`` would run
    the same policy now. So the committed float32 panels are reused under the new default.
    """
    if requested == "float32":
        return used == "float32"
    if requested == "mixed":
        return used in (resolve("mixed").used, "mixed")
    return used in ("float32", resolve("auto", size).used)
