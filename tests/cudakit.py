"""The CUDA mmcv of the slow CUDA tests: mmcv 2.1.0 for PyPI's torch 2.14.1+cu130, sm_90 and sm_120.

Built once by `envdoctor fix --build --cuda-arch "9.0;12.0"` into a wheelhouse kept between runs under
$ENVDOCTOR_TEST_WHEELHOUSE (default <test envs>/wheelhouse), one folder per (mmcv, torch, CUDA, archs).
Compiling its 136 objects (59 of them CUDA, each for two architectures) takes over an hour on 2 cores, so
only the first run builds; later ones find the wheel, and `fix` then says it fits and builds nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from envkit import ENV_ROOT, python_of, torch_index_args, torch_indexes, torch_python, torch_requirements

from envdoctor.uv import find_uv

WHEELHOUSE = Path(os.environ.get("ENVDOCTOR_TEST_WHEELHOUSE", ENV_ROOT / "wheelhouse"))
ARCHS = "9.0;12.0"
HOUSE = WHEELHOUSE / "mmcv-2.1.0-torch-2.14.1-cu130-sm90-sm120"
LABEL = "2.1.0+pt2.14.1cu130"
WHEEL = f"mmcv-{LABEL}-cp311-cp311-linux_x86_64.whl"
BUILD = ("--strategy", "prebuilt", "--build", "--cuda-arch", ARCHS)


def torch_venv(path: Path) -> Path:
    """A fresh venv holding PyPI's torch 2.14.1+cu130 and torchvision 0.29.1 (from the local index)."""
    uv = find_uv()
    uv.venv(path, python=torch_python("vision"))
    uv.pip_install(python_of(path), torch_requirements("vision"), indexes=torch_indexes("vision"))
    return path


def fix_with_the_cuda_wheel(cli: Callable[..., Any], venv: Path) -> Any:
    """`fix --build` for the CUDA archs into HOUSE: a build the first time, the kept wheel afterwards."""
    HOUSE.mkdir(parents=True, exist_ok=True)
    return cli("fix", "--venv", str(venv), "--yes", *BUILD, "--wheelhouse", str(HOUSE), *torch_index_args())
