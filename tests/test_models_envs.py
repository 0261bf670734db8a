"""Where `envdoctor models fetch` puts S3FD is where MuseTalk's preprocessing looks for it, offline, and the
fetch leaves the environment it serves as it was."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from envkit import build_env, python_of
from hubserve import Hub, serve

from envdoctor.models.manifest import TORCH_HOME, UrlSource, builtin

pytestmark = pytest.mark.envs

REV = "0123456789abcdef0123456789abcdef01234567"


def _tree(prefix: Path) -> dict[str, int]:
    return {str(p.relative_to(prefix)): p.stat().st_mtime_ns for p in prefix.rglob("*") if p.is_file()}


def test_preprocessing_finds_s3fd_where_envdoctor_put_it(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = build_env("smoke-torch-only", ["numpy<2"], torch="cpu")
    python = str(python_of(env))
    standin = tmp_path / "s3fd-standin.pth"
    # A real torch checkpoint, so the loader's own unpickling is what proves the file was found.
    subprocess.run([python, "-c", f"import torch; torch.save({{'w': torch.ones(3)}}, {str(standin)!r})"], check=True)
    data = standin.read_bytes()
    s3fd = next(f for f in builtin().files if f.root == TORCH_HOME)
    official_url = next(s.url for s in s3fd.sources if isinstance(s, UrlSource))
    before = _tree(env)
    with serve(Hub()) as hub:
        hub.add("test/s3fd", REV, s3fd.name, data)
        manifest = tmp_path / "manifest.toml"
        manifest.write_text(
            '[purposes.inference]\nv15 = ["v15-inference"]\nv1 = ["v1-inference"]\n'
            f'[[file]]\npath = "{s3fd.path}"\nroot = "torch_home"\nsize = {len(data)}\n'
            f'sha256 = "{hashlib.sha256(data).hexdigest()}"\nneeded_for = ["v15-inference"]\nwhy = "stand-in"\n'
            f'[[file.source]]\nurl = "{hub.url}/test/s3fd/resolve/{REV}/{s3fd.name}"\n'
        )
        monkeypatch.setenv("ENVDOCTOR_MODELS_MANIFEST", str(manifest))
        torch_home = tmp_path / "torch"
        (tmp_path / "models").mkdir()
        run = cli("models", "fetch", "--models", str(tmp_path / "models"), "--torch-home", str(torch_home))
        assert run.code == 0, run.out
    # The call MuseTalk's vendored face_detection makes at import of musetalk.utils.preprocessing, by the
    # official URL; this machine cannot reach it, so only the cached file can answer.
    load = f"from torch.utils.model_zoo import load_url; print(float(load_url({official_url!r})['w'].sum()))"
    found = subprocess.run(
        [python, "-c", load],
        env={**os.environ, "TORCH_HOME": str(torch_home)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (found.returncode, found.stdout.strip()) == (0, "3.0"), found.stderr
    assert _tree(env) == before, "the fetch changed the environment"


# MuseTalk's own way to its face detector: musetalk.utils puts its folder on sys.path, face_detection is then
# imported as a top-level package, and FaceAlignment picks the S3FD module by name.
BUILD_DETECTOR = """\
import musetalk.utils
from face_detection import FaceAlignment, LandmarksType
fa = FaceAlignment(LandmarksType._2D, flip_input=False, device="cpu")
net = fa.face_detector.face_detector
print(sum(float(p.double().sum()) for p in net.state_dict().values()))
"""

# A stand-in for the checkout's face_detection where none is given: the same package layout and the same
# calls (torch.utils.model_zoo.load_url of the official URL, then load_state_dict), a small network.
STANDIN_DETECTOR = {
    "musetalk/utils/__init__.py": "import os, sys\nsys.path.append(os.path.dirname(os.path.abspath(__file__)))\n",
    "musetalk/utils/face_detection/__init__.py": "from .api import FaceAlignment, LandmarksType\n",
    "musetalk/utils/face_detection/api.py": """\
import enum


class LandmarksType(enum.Enum):
    _2D = 1


class FaceAlignment:
    def __init__(self, landmarks_type, device="cuda", flip_input=False, face_detector="sfd"):
        module = __import__("face_detection.detection." + face_detector, globals(), locals(), [face_detector], 0)
        self.face_detector = module.FaceDetector(device=device)
""",
    "musetalk/utils/face_detection/detection/__init__.py": "",
    "musetalk/utils/face_detection/detection/sfd/__init__.py": (
        "from .sfd_detector import SFDDetector as FaceDetector\n"
    ),
    "musetalk/utils/face_detection/detection/sfd/net_s3fd.py": """\
import torch.nn as nn


class s3fd(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1_1 = nn.Conv2d(3, 8, kernel_size=3, padding=1)
        self.conv3_3_norm_mbox_conf = nn.Conv2d(8, 4, kernel_size=3, padding=1)
""",
    "musetalk/utils/face_detection/detection/sfd/sfd_detector.py": """\
from torch.utils.model_zoo import load_url

from .net_s3fd import s3fd

URL = "https://www.adrianbulat.com/downloads/python-fan/s3fd-619a316812.pth"


class SFDDetector:
    def __init__(self, device):
        self.face_detector = s3fd()
        self.face_detector.load_state_dict(load_url(URL))
        self.face_detector.to(device).eval()
""",
}


def _detector_checkout(tmp_path: Path) -> Path:
    given = os.environ.get("ENVDOCTOR_TEST_MUSETALK")
    if given and (Path(given) / "musetalk/utils/face_detection/detection/sfd/net_s3fd.py").is_file():
        return Path(given)
    root = tmp_path / "checkout"
    for rel, text in STANDIN_DETECTOR.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def _offline(python: str, script: str, cwd: Path, torch_home: Path) -> subprocess.CompletedProcess[str]:
    """`script` in a network namespace with only loopback up: any download attempt fails."""
    return subprocess.run(
        ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$0" -c "$1"', python, script],
        cwd=cwd,
        # A checkout may be read-only, and is not ours to write bytecode into.
        env={**os.environ, "TORCH_HOME": str(torch_home), "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_offline_the_face_detector_is_built_from_the_s3fd_envdoctor_placed(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no network at all, MuseTalk's face detector (the checkout's, or a stand-in making the same calls)
    is built from the S3FD file `models fetch` put in the torch hub cache: found there, never downloaded.
    The same build with an empty torch hub cache fails in the same namespace: the namespace is offline."""
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"):
        pytest.skip("a network namespace needs root, unshare and ip")
    env = build_env("s3fd-offline", ["numpy<2", "opencv-python-headless<=4.11.0.86", "scipy", "tqdm"], torch="cpu")
    python = str(python_of(env))
    checkout = _detector_checkout(tmp_path)
    net_file = checkout / "musetalk/utils/face_detection/detection/sfd/net_s3fd.py"
    weights = tmp_path / "s3fd-synthetic.pth"
    # Synthetic weights: the checkout's own S3FD network as initialised, so its load_state_dict accepts them.
    make = (
        "import importlib.util, torch\n"
        f"spec = importlib.util.spec_from_file_location('net_s3fd', {str(net_file)!r})\n"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
        "torch.manual_seed(0); sd = m.s3fd().state_dict()\n"
        f"torch.save(sd, {str(weights)!r})\n"
        "print(sum(float(p.double().sum()) for p in sd.values()))\n"
    )
    made = subprocess.run([python, "-c", make], capture_output=True, text=True, check=True, timeout=300)
    data = weights.read_bytes()
    s3fd = next(f for f in builtin().files if f.root == TORCH_HOME)
    torch_home = tmp_path / "torch"
    with serve(Hub()) as hub:
        hub.add("test/s3fd", REV, s3fd.name, data)
        manifest = tmp_path / "manifest.toml"
        manifest.write_text(
            '[purposes.inference]\nv15 = ["v15-inference"]\nv1 = ["v1-inference"]\n'
            f'[[file]]\npath = "{s3fd.path}"\nroot = "torch_home"\nsize = {len(data)}\n'
            f'sha256 = "{hashlib.sha256(data).hexdigest()}"\nneeded_for = ["v15-inference"]\nwhy = "synthetic S3FD"\n'
            f'[[file.source]]\nurl = "{hub.url}/test/s3fd/resolve/{REV}/{s3fd.name}"\n'
        )
        monkeypatch.setenv("ENVDOCTOR_MODELS_MANIFEST", str(manifest))
        (tmp_path / "models").mkdir()
        run = cli("models", "fetch", "--models", str(tmp_path / "models"), "--torch-home", str(torch_home))
        assert run.code == 0, run.out
    assert (torch_home / "hub/checkpoints/s3fd-619a316812.pth").read_bytes() == data

    built = _offline(python, BUILD_DETECTOR, checkout, torch_home)
    assert built.returncode == 0, built.stderr[-3000:]
    assert built.stdout.split()[-1] == made.stdout.split()[-1], "the detector holds the weights envdoctor placed"

    empty = tmp_path / "empty-torch-home"
    empty.mkdir()
    control = _offline(python, BUILD_DETECTOR, checkout, empty)
    assert control.returncode != 0 and "urlopen error" in control.stderr, control.stderr[-2000:]


PREPROCESSING = """\
import musetalk.utils.preprocessing as p
net = p.fa.face_detector.face_detector
print(type(p.model).__name__, sum(float(t.double().sum()) for t in net.state_dict().values()))
"""


@pytest.mark.slow
def test_offline_musetalks_preprocessing_imports_on_every_file_envdoctor_placed(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every file of v1.5 inference placed by `models fetch --from` (synthetic weights in MuseTalk's formats,
    held to a manifest of their own hashes), then, with no network at all, the real checkout's
    musetalk.utils.preprocessing imports: it builds DWPose from models/dwpose and the face detector from the
    S3FD file in the torch hub cache where envdoctor put it. The same import with an empty torch hub cache
    fails in the same namespace trying to download S3FD."""
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"):
        pytest.skip("a network namespace needs root, unshare and ip")
    given = os.environ.get("ENVDOCTOR_TEST_MUSETALK")
    if not given or not (Path(given) / "musetalk/utils/preprocessing.py").is_file():
        pytest.skip("no MuseTalk checkout: set ENVDOCTOR_TEST_MUSETALK to one")
    from test_smoke_musetalk import app_python

    from envdoctor.smoke import synthetic
    from envdoctor.smoke.runner import shadow_checkout

    checkout = Path(given)
    python = str(app_python())
    downloads = tmp_path / "downloads"
    built = synthetic.build(Path(python), checkout, downloads)
    assert built.ok, built.summary()
    # The folder as a copy of a models/ tree, S3FD lying flat beside it.
    s3fd = next(f for f in builtin().files if f.root == TORCH_HOME)
    os.link(downloads / synthetic.TORCH_HOME / s3fd.path, downloads / s3fd.name)
    lines = ['[purposes.inference]\nv15 = ["v15-inference"]\nv1 = ["v1-inference"]\n']
    for f in builtin().for_purpose("inference", "v15"):
        data = downloads / (f.name if f.root == TORCH_HOME else f.path)
        assert data.is_file(), f"the synthetic tree has no {f.title}"
        digest = hashlib.sha256()
        with open(data, "rb") as fh:
            while chunk := fh.read(1 << 22):
                digest.update(chunk)
        lines.append(
            f'[[file]]\npath = "{f.path}"\nroot = "{f.root}"\nsize = {data.stat().st_size}\n'
            f'sha256 = "{digest.hexdigest()}"\nneeded_for = ["v15-inference"]\nwhy = "synthetic"\n'
        )
    manifest = tmp_path / "manifest.toml"
    manifest.write_text("\n".join(lines))
    monkeypatch.setenv("ENVDOCTOR_MODELS_MANIFEST", str(manifest))
    models, torch_home = tmp_path / "placed" / "models", tmp_path / "placed" / "torch"
    models.mkdir(parents=True)
    run = cli("models", "fetch", "--models", str(models), "--torch-home", str(torch_home), "--from", str(downloads))
    assert run.code == 0, run.out
    assert cli("models", "verify", "--models", str(models), "--torch-home", str(torch_home)).code == 0

    cwd = shadow_checkout(checkout, models, tmp_path / "checkout")
    imported = _offline(python, PREPROCESSING, cwd, torch_home)
    assert imported.returncode == 0, imported.stderr[-3000:]
    placed = torch_home / s3fd.path
    load = (
        f"import torch; sd = torch.load({str(placed)!r}, map_location='cpu')\n"
        "print(sum(float(t.double().sum()) for t in sd.values()))"
    )
    expected = subprocess.run([python, "-c", load], capture_output=True, text=True, check=True, timeout=300)
    assert imported.stdout.split()[-1] == expected.stdout.split()[-1], "the detector holds the S3FD envdoctor placed"

    empty = tmp_path / "empty-torch-home"
    empty.mkdir()
    control = _offline(python, PREPROCESSING, cwd, empty)
    assert control.returncode != 0 and "urlopen error" in control.stderr, control.stderr[-2000:]
