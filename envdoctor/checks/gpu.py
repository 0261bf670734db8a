"""GPU: the driver, the GPUs, and whether torch can run on them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from envdoctor.checks.base import CheckContext, CheckResult, ResultFactory, Status, check
from envdoctor.checks.texts import said
from envdoctor.cuda import fatbin


def _sm(capability: str) -> int | None:
    """8.6 -> 86; None for what is not a compute capability (it comes from the target or the user)."""
    m = re.fullmatch(r"\s*([0-9]{1,3})(?:\.([0-9]{1,2}))?\s*", capability)
    return int(m.group(1)) * 10 + int(m.group(2) or 0) if m else None


@check("gpu.driver", "GPU", "NVIDIA driver and GPUs")
def driver(ctx: CheckContext, result: ResultFactory) -> Iterator[CheckResult]:
    g = ctx.facts.gpu
    gpus = ctx.facts.visible_gpus
    if not g.driver_version and not gpus:
        yield result(
            Status.OK,
            found="no NVIDIA driver or GPU",
            expected="none needed: MuseTalk runs on the CPU, slowly",
        )
        return
    names = ", ".join(f"{x.name} (sm {x.compute_capability})" for x in gpus) or "no GPU listed"
    yield result(
        Status.OK,
        found=f"driver {g.driver_version or '?'} (from {g.driver_source or '?'}); {names}",
    )


@check("gpu.torch", "GPU", "torch can use the GPU", needs_imports=True)
def torch_cuda(ctx: CheckContext, result: ResultFactory) -> Iterator[CheckResult]:
    gpus = ctx.facts.visible_gpus
    t = ctx.facts.torch
    if not gpus:
        yield result(Status.SKIP, found="no GPU on this machine")
        return
    if t is None:
        yield result(Status.SKIP, found="torch did not import")
        return
    if not t.cuda:
        yield result(
            Status.FAIL,
            found=f"torch {t.version} is a CPU build; {len(gpus)} GPU(s) present",
            expected="a CUDA build of torch",
            **said("gpu.torch", "cpu-build"),
            breaker=20,
        )
    elif not t.cuda_available:
        yield result(
            Status.FAIL,
            found=f"torch {t.version} (CUDA {t.cuda}) cannot see the GPU",
            expected="torch.cuda.is_available() is True",
            **said("gpu.torch", "gpu-hidden", cuda=t.cuda),
        )
    else:
        yield result(Status.OK, found=f"torch {t.version} (CUDA {t.cuda}, cuDNN {t.cudnn})")


@check("gpu.arch", "GPU", "torch has kernels for each GPU", needs_imports=True)
def arch(ctx: CheckContext, result: ResultFactory) -> Iterator[CheckResult]:
    gpus = ctx.facts.visible_gpus
    t = ctx.facts.torch
    if not gpus or t is None or not t.cuda:
        yield result(Status.SKIP, found="no GPU, or torch without CUDA")
        return
    arch_list = t.arch_list
    sms = {int(a.split("_")[1]) for a in arch_list if a.startswith("sm_") and a.split("_")[1].isdecimal()}
    ptx = {int(a.split("_")[1]) for a in arch_list if a.startswith("compute_") and a.split("_")[1].isdecimal()}
    for gpu in gpus:
        cap = _sm(gpu.compute_capability)
        if cap is None:
            yield result(
                Status.WARN,
                found=f"{gpu.name}: compute capability {gpu.compute_capability[:20]!r} is not a version like 8.6",
                **said("gpu.arch", "not-a-capability"),
            )
            continue
        # Same major and not newer: SASS runs; PTX of an older arch can be JIT-compiled for newer GPUs.
        ok = any(s // 10 == cap // 10 and s <= cap for s in sms) or any(p <= cap for p in ptx)
        found = f"{gpu.name}: sm_{cap}; torch {t.version} has {' '.join(arch_list) or 'no archs'}"
        if ok:
            yield result(Status.OK, found=found)
        else:
            yield result(
                Status.FAIL,
                found=found,
                expected=f"sm_{cap} (or older PTX) in torch.cuda.get_arch_list()",
                **said("gpu.arch", "no-kernels"),
                breaker=20,
            )


@check("gpu.mmcv-arch", "GPU", "mmcv's compiled ops have kernels for each GPU", needs_imports=True)
def mmcv_arch(ctx: CheckContext, result: ResultFactory) -> Iterator[CheckResult]:
    """Read from the `_ext` binary itself (its .nv_fatbin section), not from how it was said to be built."""
    gpus = ctx.facts.visible_gpus
    mmcv = ctx.facts.mmcv
    ext = mmcv.ext
    compiled = [f for f in ext.files if f.endswith((".so", ".pyd"))]
    if not gpus or ext.state != "compiled" or not compiled or not mmcv.package_dir:
        yield result(Status.SKIP, found="no GPU, or no compiled mmcv ops")
        return
    path = Path(mmcv.package_dir) / compiled[0]
    try:
        code = fatbin.read(path)
    except (OSError, fatbin.NotReadable) as exc:
        yield result(Status.SKIP, found=f"{path.name}: its device code cannot be read ({exc})")
        return
    held = code.describe()
    if not held:
        yield result(
            Status.WARN,
            found=f"{path.name} holds no GPU code: mmcv {mmcv.version or '?'} was built with CPU ops only",
            expected="kernels for " + ", ".join(f"sm {g.compute_capability}" for g in gpus),
            **said("gpu.mmcv-arch", "cpu-only"),
        )
        return
    for gpu in gpus:
        cap = _sm(gpu.compute_capability)
        if cap is None:
            continue  # gpu.arch says what is wrong with the capability
        found = f"{gpu.name}: sm_{cap}; {path.name} holds {held}"
        if code.runs_on(cap):
            yield result(Status.OK, found=found)
        else:
            yield result(
                Status.FAIL,
                found=found,
                expected=f"sm_{cap} (or older PTX) in mmcv's _ext",
                **said("gpu.mmcv-arch", "no-kernels", capability=gpu.compute_capability),
            )
