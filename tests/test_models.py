"""`envdoctor models verify|fetch` against a stand-in Hub on loopback (tests/hubserve.py), with the real
huggingface_hub client doing the downloads, and a manifest of small stand-in files with their own hashes."""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from envkit import python_of
from hubserve import Fault, Hub, serve
from txenv import pure_wheel

from envdoctor.models import fetch as fetch_mod
from envdoctor.models import hashing
from envdoctor.uv import find_uv

REPO_ROOT = Path(__file__).resolve().parent.parent
REV = "0123456789abcdef0123456789abcdef01234567"
DW, V1, VAE = "dwpose/dw-ll_ucoco_384.pth", "musetalk/pytorch_model.bin", "sd-vae/diffusion_pytorch_model.bin"


def _bytes(seed: int, n: int) -> bytes:
    return random.Random(seed).randbytes(n)


@dataclass(frozen=True)
class Standin:
    path: str
    repo: str
    filename: str
    data: bytes
    root: str = "models"
    needed_for: tuple[str, ...] = ("v15-inference",)
    url: bool = False
    alternative: tuple[str, str, bytes] | None = None
    """(path, filename in the same repository, bytes) of a file the loader takes instead."""
    first_url: str | None = None
    """A source listed before the file's own (the manifest's fallback order: its own source, then another)."""


def standins(big: int = 300_000) -> list[Standin]:
    return [
        Standin("musetalkV15/unet.pth", "test/musetalk", "musetalkV15/unet.pth", _bytes(1, big)),
        Standin("sd-vae/config.json", "test/vae", "config.json", b'{"vae": true}\n'),
        Standin(
            "sd-vae/diffusion_pytorch_model.bin",
            "test/vae",
            "diffusion_pytorch_model.bin",
            _bytes(6, 40_000),
            alternative=(
                "sd-vae/diffusion_pytorch_model.safetensors",
                "diffusion_pytorch_model.safetensors",
                _bytes(7, 39_000),
            ),
        ),
        Standin("whisper/config.json", "test/whisper", "config.json", b'{"whisper": true}\n'),
        Standin("dwpose/dw-ll_ucoco_384.pth", "test/dwpose", "dw-ll_ucoco_384.pth", _bytes(2, 70_000)),
        Standin(
            "musetalk/pytorch_model.bin",
            "test/musetalk",
            "musetalk/pytorch_model.bin",
            _bytes(3, big),
            needed_for=("v1-inference",),
        ),
        Standin(
            "hub/checkpoints/s3fd-test.pth", "test/s3fd", "s3fd-test.pth", _bytes(4, 50_000), "torch_home", url=True
        ),
    ]


def write_manifest(path: Path, files: list[Standin], base: str) -> Path:
    lines = [
        '[purposes.inference]\nv15 = ["v15-inference"]\nv1 = ["v1-inference"]\n',
    ]
    for f in files:
        lines.append(
            f'[[file]]\npath = "{f.path}"\nroot = "{f.root}"\nsize = {len(f.data)}\n'
            f'sha256 = "{hashlib.sha256(f.data).hexdigest()}"\nneeded_for = {json.dumps(list(f.needed_for))}\n'
            f'why = "stand-in for {f.path}"\n'
        )
        if f.first_url:
            lines.append(f'[[file.source]]\nurl = "{f.first_url}"\n')
        lines.append("[[file.source]]\n")
        if f.url:
            lines.append(f'url = "{base}/{f.repo}/resolve/{REV}/{f.filename}"\n')
        else:
            lines.append(f'repo = "{f.repo}"\nrevision = "{REV}"\nfilename = "{f.filename}"\n')
        if f.alternative:
            alt_path, alt_name, data = f.alternative
            lines.append(
                f'[[file.alternative]]\npath = "{alt_path}"\nfilename = "{alt_name}"\nsize = {len(data)}\n'
                f'sha256 = "{hashlib.sha256(data).hexdigest()}"\n'
            )
    path.write_text("\n".join(lines))
    return path


@dataclass
class World:
    hub: Hub
    files: list[Standin]
    models: Path
    torch: Path
    manifest: Path

    def args(self, *extra: str, endpoint: bool = True) -> list[str]:
        out = ["--models", str(self.models), "--torch-home", str(self.torch)]
        return [*out, *(["--endpoint", self.hub.url] if endpoint else []), *extra]

    def file(self, path: str) -> Standin:
        return next(f for f in self.files if f.path == path)

    def target(self, f: Standin) -> Path:
        return (self.torch if f.root == "torch_home" else self.models) / f.path


def _world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: list[Standin], hub: Hub) -> World:
    for f in files:
        hub.add(f.repo, REV, f.filename, f.data)
    manifest = write_manifest(tmp_path / "manifest.toml", files, hub.url)
    monkeypatch.setenv("ENVDOCTOR_MODELS_MANIFEST", str(manifest))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    # use_endpoint turns Xet and telemetry off for a mirror, in the environment and in huggingface_hub's
    # constants: undone after.
    monkeypatch.delenv("HF_HUB_DISABLE_XET", raising=False)
    monkeypatch.delenv("HF_HUB_DISABLE_TELEMETRY", raising=False)
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", constants.HF_HUB_DISABLE_XET)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", constants.HF_HUB_DISABLE_TELEMETRY)
    models = tmp_path / "models"
    models.mkdir()
    return World(hub, files, models, tmp_path / "torch", manifest)


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with serve(Hub()) as hub:
        yield _world(tmp_path, monkeypatch, standins(), hub)


@dataclass(frozen=True)
class AppEnv:
    path: Path
    state: dict[str, tuple[int, int]]
    """Every file in it as it was made: size and mtime."""


@pytest.fixture(scope="module")
def app_env(tmp_path_factory: pytest.TempPathFactory) -> AppEnv:
    """An environment standing for MuseTalk's: huggingface_hub below 1.0 in it (a stand-in wheel of that name
    and version), which its transformers 4.39 needs and which MuseTalk's own download script upgrades."""
    root = tmp_path_factory.mktemp("app-env")
    (root / "wheels").mkdir()
    env = root / "env"
    uv = find_uv()
    uv.venv(env, python=sys.executable)
    wheel = pure_wheel(root / "wheels", "huggingface_hub", "0.25.2")
    uv.pip_install(python_of(env), [str(wheel)], extra=["--offline", "--no-deps"])
    return AppEnv(env, _env_state(env))


def _env_state(env: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(env)): (p.lstat().st_size, p.lstat().st_mtime_ns) for p in sorted(env.rglob("*"))}


@pytest.fixture(autouse=True)
def app_env_unchanged(app_env: AppEnv, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test here runs with that environment active (VIRTUAL_ENV, its bin first on PATH, inherited by the
    fetches run as processes of their own), and ends with every file in it as it was: whatever a fetch does,
    fresh, resumed, repaired, refused, failing, from a mirror or a folder, it installs nothing and runs nothing
    there."""
    monkeypatch.setenv("VIRTUAL_ENV", str(app_env.path))
    monkeypatch.setenv("PATH", f"{app_env.path / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    yield
    assert _env_state(app_env.path) == app_env.state, "the active environment changed"


def _v15(w: World) -> list[Standin]:
    return [f for f in w.files if "v15-inference" in f.needed_for]


def _leftovers(w: World) -> list[Path]:
    """Anything half-written: staging folders, temporary names."""
    found = [p for root in (w.models, w.torch) if root.exists() for p in root.rglob("*")]
    return [p for p in found if ".envdoctor-partial" in p.parts or p.name.endswith((".incomplete", "-tmp"))]


def test_a_fresh_fetch_places_every_file_verified(cli, world: World) -> None:
    run = cli("models", "fetch", *world.args("--json"))
    assert run.code == 0, (run.out, run.err)
    doc = run.json()
    assert (doc["schema"], doc["schema_version"]) == ("envdoctor.models.fetch", 1)
    assert {f["state"] for f in doc["files"]} == {"placed"}
    for f in _v15(world):
        assert world.target(f).read_bytes() == f.data
    assert not world.target(world.file(V1)).exists(), "v1.0's UNet is not fetched for v1.5"
    assert _leftovers(world) == []
    # The mirror's Xet note is said once, and only once.
    assert sum("HF_HUB_DISABLE_XET" in n for n in doc["notes"]) == 1
    again = cli("models", "fetch", *world.args("--json"))
    assert again.code == 0 and again.json()["transferred_bytes"] == 0
    assert {f["state"] for f in again.json()["files"]} == {"alreadythere"}


def test_version_v1_fetches_v1s_unet(cli, world: World) -> None:
    run = cli("models", "fetch", *world.args("--version", "v1"))
    assert run.code == 0, run.out
    assert world.target(world.file(V1)).read_bytes() == world.file(V1).data
    assert not world.target(world.files[0]).exists()


def test_a_killed_fetch_resumes_with_only_the_rest(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Killed half way through a 24 MiB file, run again: the second run asks for the rest with a Range request.

    huggingface_hub's transfer writes what it received in chunks (10 MiB), so what survives the kill is what
    reached the disk, and the second run transfers exactly the bytes that did not."""
    size, pause = 24 << 20, 14 << 20
    files = [Standin("musetalkV15/unet.pth", "test/musetalk", "musetalkV15/unet.pth", _bytes(9, size))]
    with serve(Hub()) as hub:
        w = _world(tmp_path, monkeypatch, files, hub)
        hub.faults["musetalkV15/unet.pth"] = Fault(pause_after=pause)
        proc = subprocess.Popen(
            [sys.executable, "-m", "envdoctor", "models", "fetch", *w.args()],
            cwd=REPO_ROOT,
            env=os.environ.copy(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        partial: list[Path] = []
        while time.monotonic() < deadline:
            partial = [p for p in w.models.rglob("*.part") if p.stat().st_size > 0]
            if partial and hub.served["musetalkV15/unet.pth"] >= pause:
                break
            time.sleep(0.05)
        assert partial, "the download never got under way"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        kept = partial[0].stat().st_size
        assert 0 < kept < size
        assert not w.target(files[0]).exists(), "nothing is placed before it is complete and verified"
        hub.faults.pop("musetalkV15/unet.pth")  # the killed transfer stays paused: its bytes are not counted again
        before = hub.served["musetalkV15/unet.pth"]
        run = cli("models", "fetch", *w.args("--json"))
        assert run.code == 0, (run.out, run.err)
        assert hub.served["musetalkV15/unet.pth"] - before == size - kept
        assert ("GET", f"/test/musetalk/resolve/{REV}/musetalkV15/unet.pth", f"bytes={kept}-") in hub.requests
        assert w.target(files[0]).read_bytes() == files[0].data
        assert _leftovers(w) == []


def test_a_transfer_dropped_part_way_is_retried_from_where_it_stopped(cli, world: World) -> None:
    """The connection closes after 14 MiB of a 24 MiB file: the same run asks again for the bytes that did not
    reach the disk (huggingface_hub writes what it receives in chunks of DOWNLOAD_CHUNK_SIZE, 10 MiB) with a
    Range request, and places the file."""
    from huggingface_hub import constants

    name, size, cut = "musetalkV15/unet.pth", 24 << 20, 14 << 20
    data = _bytes(11, size)
    world.hub.add("test/musetalk", REV, name, data)
    world.files[0] = Standin(name, "test/musetalk", name, data)
    write_manifest(world.manifest, world.files, world.hub.url)
    world.hub.faults[name] = Fault(cut_after=cut)
    run = cli("models", "fetch", *world.args("--json"))
    assert run.code == 0, (run.out, run.err)
    assert world.target(world.files[0]).read_bytes() == data
    kept = cut // constants.DOWNLOAD_CHUNK_SIZE * constants.DOWNLOAD_CHUNK_SIZE
    assert kept > 0
    gets = [r for m, p, r in world.hub.requests if m == "GET" and p.endswith(name)]
    assert gets == [None, f"bytes={kept}-"], gets
    assert world.hub.served[name] == cut + size - kept


def test_a_busy_server_is_asked_again_after_it_says_when(cli, world: World) -> None:
    """429 Too Many Requests (Retry-After) twice, then the file: retried with backoff, placed in one run."""
    world.hub.faults[Path(DW).name] = Fault(busy=2)
    run = cli("models", "fetch", *world.args())
    assert run.code == 0, run.out
    assert world.target(world.file(DW)).read_bytes() == world.file(DW).data
    gets = [m for m, p, _ in world.hub.requests if m == "GET" and p.endswith(Path(DW).name)]
    assert len(gets) == 3


def test_a_source_that_fails_falls_back_to_the_next_and_says_so(cli, world: World) -> None:
    """A file with two sources (the face parser's: a URL of its own, then a Hub repository): the first answers
    404, the file comes from the second, and the fallback is said, in the text and in the document."""
    dead = f"{world.hub.url}/elsewhere/dw-ll_ucoco_384.pth"
    world.files[world.files.index(world.file(DW))] = replace(world.file(DW), first_url=dead)
    write_manifest(world.manifest, world.files, world.hub.url)
    run = cli("models", "fetch", *world.args())
    assert run.code == 0, run.out
    assert world.target(world.file(DW)).read_bytes() == world.file(DW).data
    lines = run.out.splitlines()
    at = next(i for i, x in enumerate(lines) if x.startswith(f"placed   models/{DW}"))
    why = f"{dead}: the server answered 404 Not Found with an HTML page"
    assert "test/dwpose" in lines[at] and lines[at + 1].strip() == f"(first tried {why})", lines
    world.target(world.file(DW)).unlink()
    doc = cli("models", "fetch", *world.args("--json")).json()
    placed = next(f for f in doc["files"] if f["path"] == DW)
    assert placed["state"] == "placed" and placed["fell_back"] == [why], placed


def test_the_files_download_at_once(world: World) -> None:
    """While the UNet's transfer is held after its first bytes, the other files arrive and are placed."""
    held = Fault(pause_after=1000)
    world.hub.faults[world.files[0].filename] = held
    done: list[fetch_mod.FetchReport] = []
    worker = threading.Thread(target=lambda: done.append(_fetch_v15(world, Recorder([]))))
    worker.start()
    others = [f for f in _v15(world) if f is not world.files[0]]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not all(world.target(f).exists() for f in others):
        time.sleep(0.05)
    placed_while_held = [f.path for f in others if world.target(f).exists()]
    unet_there = world.target(world.files[0]).exists()
    held.release.set()
    worker.join(60)
    assert placed_while_held == [f.path for f in others] and not unet_there
    assert done and done[0].ok


def test_one_byte_changed_is_named_and_repair_fetches_only_it(cli, world: World) -> None:
    assert cli("models", "fetch", *world.args()).code == 0
    dw = world.target(world.file(DW))
    data = bytearray(dw.read_bytes())
    data[1000] ^= 0xFF
    dw.write_bytes(bytes(data))
    run = cli("models", "verify", *world.args(endpoint=False))
    assert run.code == 1
    bad = [line for line in run.out.splitlines() if line.startswith("WRONG")]
    assert len(bad) == 1 and "dwpose/dw-ll_ucoco_384.pth" in bad[0] and "right size with other bytes" in bad[0]
    kept = cli("models", "fetch", *world.args("--json"))
    assert kept.code == 1 and {f["state"] for f in kept.json()["files"]} == {"alreadythere", "kept"}
    served = dict(world.hub.served)
    fixed = cli("models", "fetch", *world.args("--repair"))
    assert fixed.code == 0, fixed.out
    delta = {k: v - served.get(k, 0) for k, v in world.hub.served.items() if v != served.get(k, 0)}
    assert delta == {"dw-ll_ucoco_384.pth": len(world.file(DW).data)}
    assert dw.read_bytes() == world.file(DW).data


def test_other_bytes_than_the_manifests_are_refused(cli, world: World) -> None:
    world.hub.faults["dw-ll_ucoco_384.pth"] = Fault(other_bytes=_bytes(77, 70_000))
    run = cli("models", "fetch", *world.args())
    assert run.code == 1
    line = next(x for x in run.out.splitlines() if x.startswith("REFUSED"))
    assert hashlib.sha256(_bytes(77, 70_000)).hexdigest() in line
    assert hashlib.sha256(world.file(DW).data).hexdigest() in line and "nothing placed" in line
    assert not world.target(world.file(DW)).exists()
    assert _leftovers(world) == []


@pytest.mark.parametrize(
    ("fault", "said"),
    [
        (Fault(status=404), "404 Not Found"),
        (Fault(status=500), "500 Internal Server Error with an HTML page"),
        (Fault(html=True), "an HTML page saved instead of the file"),
    ],
    ids=["404", "500", "html-page"],
)
def test_a_failing_file_is_said_and_not_placed(cli, world: World, fault: Fault, said: str) -> None:
    world.hub.faults["dw-ll_ucoco_384.pth"] = fault
    run = cli("models", "fetch", *world.args())
    assert run.code == 1
    assert said in run.out, run.out
    assert not world.target(world.file(DW)).exists()
    assert world.target(world.files[0]).exists(), "the other files are still fetched"
    assert _leftovers(world) == []


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_endpoint_that_does_not_answer_is_one_sentence(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dead = f"http://127.0.0.1:{_closed_port()}"
    hub = Hub(url=dead)
    w = _world(tmp_path, monkeypatch, standins(), hub)
    started = time.monotonic()
    run = cli("models", "fetch", *w.args())
    assert run.code == 1
    reasons = [line for line in run.out.splitlines() if line.startswith(dead)]
    assert len(reasons) == 1 and "could not connect" in reasons[0], run.out
    assert time.monotonic() - started < 20
    assert _leftovers(w) == [] and list(w.models.iterdir()) == []


def test_hf_endpoint_reaches_the_mirror(cli, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", world.hub.url)
    run = cli("models", "fetch", *world.args(endpoint=False))
    assert run.code == 0, run.out
    assert run.out.count("HF_HUB_DISABLE_XET=1") == 1
    assert os.environ["HF_HUB_DISABLE_XET"] == "1"
    assert any(m == "GET" for m, _, _ in world.hub.requests)


@pytest.mark.parametrize("hf_endpoint", ["elsewhere", "unset"])
def test_with_a_mirror_every_request_is_at_it_and_none_elsewhere(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hf_endpoint: str
) -> None:
    """--endpoint: every request of the fetch is at the mirror and none anywhere else, whether HF_ENDPOINT
    names another host or nothing (huggingface.co). A second server stands for everything else: it is the
    process's HTTP(S) proxy for every host but loopback, and, in the first case, HF_ENDPOINT's host too, with
    the same files, so a request sent there is seen in its log even where it would have succeeded. The mirror
    advertises Xet as the Hub does, with the token route on that host. A fresh process: huggingface_hub does
    some of its requests once per process (and per day, remembered under HF_HOME)."""
    with serve(Hub()) as elsewhere:
        for f in world.files:
            elsewhere.add(f.repo, REV, f.filename, f.data)
        world.hub.xet_auth = f"{elsewhere.url}/api/models/test/musetalk/xet-read-token/{REV}"
        env = {k: v for k, v in os.environ.items() if not k.upper().endswith("_PROXY")}
        env.update(HTTP_PROXY=elsewhere.url, HTTPS_PROXY=elsewhere.url, NO_PROXY="127.0.0.1,localhost")
        env.pop("HF_ENDPOINT", None)
        if hf_endpoint == "elsewhere":
            env["HF_ENDPOINT"] = elsewhere.url
        run = subprocess.run(
            [sys.executable, "-m", "envdoctor", "models", "fetch", *world.args("--json")],
            cwd=REPO_ROOT,
            env={**env, "HF_HOME": str(tmp_path / "fresh-hf-home")},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, (run.stdout, run.stderr)
        assert elsewhere.requests == [], ("a request went elsewhere than the mirror", elsewhere.requests)
    asked = {(method, path) for method, path, _ in world.hub.requests}
    for f in _v15(world):
        for method in ("HEAD", "GET"):
            assert (method, f"/{f.repo}/resolve/{REV}/{f.filename}") in asked, (method, f.path)
    doc = json.loads(run.stdout)
    assert doc["endpoint"] == world.hub.url
    notes = [n for n in doc["notes"] if world.hub.url in n]
    assert len(notes) == 1 and "Xet transfers disabled (HF_HUB_DISABLE_XET=1)" in notes[0], doc["notes"]


def test_from_a_flat_folder_and_a_models_tree(cli, world: World, tmp_path: Path) -> None:
    flat = tmp_path / "downloads"
    for f in _v15(world):
        # Two files are named config.json: one lies flat, the other in a models/-like tree.
        place = flat / (f.path if f.path == "whisper/config.json" else Path(f.path).name)
        place.parent.mkdir(parents=True, exist_ok=True)
        place.write_bytes(f.data)
    # A file of the right name and size with other bytes, where the models/ tree would hold it: looked at
    # first, verified, passed over for the right one lying flat.
    decoy = flat / DW
    decoy.parent.mkdir(parents=True)
    decoy.write_bytes(_bytes(78, len(world.file(DW).data)))
    run = cli("models", "fetch", *world.args("--from", str(flat), "--json", endpoint=False))
    assert run.code == 0, run.out
    files = run.json()["files"]
    assert {f["how"] for f in files} == {"hard link"}
    assert next(f for f in files if f["path"] == DW)["source"] == str(flat / Path(DW).name)
    assert world.hub.requests == []
    for f in _v15(world):
        assert world.target(f).read_bytes() == f.data
        assert (
            os.stat(world.target(f)).st_ino
            == os.stat(flat / f.path if f.path == "whisper/config.json" else flat / Path(f.path).name).st_ino
        )


def test_from_a_folder_a_wrong_file_is_named_and_not_placed(cli, world: World, tmp_path: Path) -> None:
    flat = tmp_path / "downloads"
    flat.mkdir()
    for f in _v15(world):
        (flat / Path(f.path).name).write_bytes(f.data)
    other = _bytes(79, len(world.file(DW).data))
    (flat / Path(DW).name).write_bytes(other)
    run = cli("models", "fetch", *world.args("--from", str(flat), endpoint=False))
    assert run.code == 1
    line = next(x for x in run.out.splitlines() if str(flat / Path(DW).name) in x)
    assert hashlib.sha256(other).hexdigest() in line and hashlib.sha256(world.file(DW).data).hexdigest() in line, line
    assert not world.target(world.file(DW)).exists()
    assert world.target(world.files[0]).read_bytes() == world.files[0].data, "the other files are placed"


def _hub_cache(hub: Path, files: list[Standin], revision: str, *, links: bool) -> dict[str, Path]:
    """A huggingface_hub cache as hf_hub_download leaves it: each file's bytes in blobs/ under its ETag (an LFS
    file's sha256; a plain git file's, here the JSON ones, git blob sha1), the revision's snapshot of relative
    symlinks into them, refs/main naming the revision. Returns each file's blob."""
    blobs: dict[str, Path] = {}
    for f in files:
        repo = hub / ("models--" + f.repo.replace("/", "--"))
        etag = (
            hashlib.sha1(b"blob %d\0" % len(f.data) + f.data).hexdigest()
            if f.path.endswith(".json")
            else hashlib.sha256(f.data).hexdigest()
        )
        blob = repo / "blobs" / etag
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(f.data)
        blobs[f.path] = blob
        (repo / "refs").mkdir(exist_ok=True)
        (repo / "refs" / "main").write_text(revision)
        if links:
            link = repo / "snapshots" / revision / f.filename
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(os.path.relpath(blob, link.parent))
    return blobs


@pytest.mark.parametrize(
    ("layout", "revision", "links"),
    [
        ("hub", REV, True),  # the cache itself (HF_HUB_CACHE), at the manifest's revision
        ("hf-home", REV, True),  # an HF_HOME holding hub/
        ("hub", "fedcba9876543210fedcba9876543210fedcba98", True),  # refs/main at another revision
        ("hub", REV, False),  # copied without its symlinks: the blobs alone (an LFS file's name is its sha256)
    ],
    ids=["hub-cache", "hf-home", "other-revision", "blobs-only"],
)
def test_from_a_hub_cache(cli, world: World, tmp_path: Path, layout: str, revision: str, links: bool) -> None:
    given = tmp_path / "hf"
    hub = given / "hub" if layout == "hf-home" else given
    from_hub = [f for f in _v15(world) if not f.url]
    blobs = _hub_cache(hub, from_hub, revision, links=links)
    run = cli("models", "fetch", *world.args("--from", str(given), "--json", endpoint=False))
    # The stand-in S3FD comes from a URL, not a hub repository: a hub cache cannot hold it, and that is said.
    assert run.code == 1
    states = {f["path"]: f for f in run.json()["files"]}
    s3fd = states.pop(next(f.path for f in _v15(world) if f.url))
    assert s3fd["state"] == "failed" and s3fd["reasons"][0].startswith(f"not in {given}"), s3fd
    if not links:  # a plain git file's blob is named by its git sha1: without the snapshot nothing names it
        for f in [f for f in from_hub if f.path.endswith(".json")]:
            assert states.pop(f.path)["state"] == "failed"
            from_hub.remove(f)
    assert {(f["state"], f["how"]) for f in states.values()} == {("placed", "hard link")}, states
    for f in from_hub:
        target = world.target(f)
        assert target.read_bytes() == f.data and not target.is_symlink()
        assert os.stat(target).st_ino == os.stat(blobs[f.path]).st_ino, "a hard link to the blob, no second copy"
    assert world.hub.requests == []


def test_from_another_filesystem_is_a_copy(cli, world: World) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(world.models).st_dev:
        pytest.skip("no second filesystem (tmpfs at /dev/shm) to copy from")
    with tempfile.TemporaryDirectory(dir=shm) as tmp:
        for f in _v15(world):  # a copy of a models/ tree
            (Path(tmp) / f.path).parent.mkdir(parents=True, exist_ok=True)
            (Path(tmp) / f.path).write_bytes(f.data)
        run = cli("models", "fetch", *world.args("--from", tmp, "--json", endpoint=False))
    assert run.code == 0, run.out
    assert {f["how"] for f in run.json()["files"]} == {"copy"}
    for f in _v15(world):
        assert world.target(f).read_bytes() == f.data
    assert _leftovers(world) == []


def test_not_enough_space_is_refused_before_any_download(cli, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fetch_mod, "free_bytes", lambda path: 1000)
    run = cli("models", "fetch", *world.args("--json"))
    assert run.code == 1
    doc = run.json()
    assert doc["code"] == "not-enough-space" and "nothing was downloaded" in doc["message"]
    assert world.hub.requests == []


@pytest.mark.parametrize("short", [1, 0], ids=["one-byte-short", "just-enough"])
def test_the_space_needed_is_the_set_plus_room_for_the_largest(
    cli, world: World, monkeypatch: pytest.MonkeyPatch, short: int
) -> None:
    sizes = [len(f.data) for f in _v15(world)]
    need = sum(sizes) + max(sizes)
    monkeypatch.setattr(fetch_mod, "free_bytes", lambda path: need - short)
    run = cli("models", "fetch", *world.args("--json"))
    if short:
        assert (run.code, run.json()["code"]) == (1, "not-enough-space") and world.hub.requests == []
    else:
        assert run.code == 0, run.out


def test_a_repeat_verify_costs_stats_not_hashes(cli, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli("models", "fetch", *world.args()).code == 0
    hashed: list[Path] = []
    real = hashing.sha256_file

    def counting(path: Path) -> str:
        hashed.append(path)
        return real(path)

    monkeypatch.setattr(hashing, "sha256_file", counting)
    first = cli("models", "verify", *world.args(endpoint=False))
    assert first.code == 0 and hashed == [], "fetch remembered the hashes of what it placed"
    world.target(world.files[0]).touch()  # a new mtime: the remembered hash no longer holds
    assert cli("models", "verify", *world.args(endpoint=False)).code == 0
    assert hashed == [world.target(world.files[0])]
    assert cli("models", "verify", *world.args(endpoint=False)).code == 0
    assert len(hashed) == 1
    check = cli("check", "--models", str(world.models), "--only", "models.files", "--json")
    found = {r["title"]: r["found"] for r in check.json()["results"]}
    assert "sha256 verified" in found["models/musetalkV15/unet.pth"]


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (b"<!DOCTYPE html><html>Sign in</html>", "an HTML page"),
        (b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 300000\n", "git-LFS pointer"),
        (None, "zip directory is missing"),
        ("v1", "musetalk/pytorch_model.bin"),
    ],
    ids=["html", "lfs-pointer", "truncated-zip", "v1-unet-under-v15"],
)
def test_verify_names_what_a_wrong_file_is(
    cli, world: World, tmp_path: Path, content: bytes | str | None, said: str
) -> None:
    unet = world.target(world.files[0])
    unet.parent.mkdir(parents=True)
    if content is None:
        import zipfile

        with zipfile.ZipFile(tmp_path / "ckpt.zip", "w") as z:
            z.writestr("archive/data.pkl", _bytes(5, 200_000))
        unet.write_bytes((tmp_path / "ckpt.zip").read_bytes()[:-100])
    elif content == "v1":
        unet.write_bytes(world.file(V1).data)
    else:
        assert isinstance(content, bytes)
        unet.write_bytes(content)
    run = cli("models", "verify", *world.args("--json", endpoint=False))
    assert run.code == 1
    entry = next(f for f in run.json()["files"] if f["path"] == "musetalkV15/unet.pth")
    assert entry["state"] == "wrong" and said in entry["detail"], entry


def test_an_accepted_alternative_satisfies_its_entry(cli, world: World) -> None:
    """diffusers loads the .safetensors beside the .bin: present and verified, it is the file."""
    path, _, data = world.file(VAE).alternative or ("", "", b"")
    (world.models / path).parent.mkdir(parents=True)
    (world.models / path).write_bytes(data)
    run = cli("models", "verify", *world.args("--json", endpoint=False))
    entry = next(f for f in run.json()["files"] if f["path"] == VAE)
    assert (entry["state"], entry["alternative"]) == ("verified", path)
    assert run.json()["schema"] == "envdoctor.models.verify"
    fetched = cli("models", "fetch", *world.args())
    assert fetched.code == 0 and not world.target(world.file(VAE)).exists(), "the .bin is not fetched beside it"


def test_fetch_starts_no_process(cli, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing runs in (or is installed into) an environment: the downloader is envdoctor's own."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a process was started: {args}")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    run = cli("models", "fetch", *world.args())
    assert run.code == 0, run.out


def test_a_failed_transfer_leaves_no_empty_partial_file(cli, world: World) -> None:
    """HEAD answers, GET fails: nothing to resume, so no trace."""
    world.hub.faults[Path(DW).name] = Fault(get_status=500)
    run = cli("models", "fetch", *world.args())
    assert run.code == 1 and "500 Internal Server Error" in run.out, run.out
    assert _leftovers(world) == []


def test_an_endpoint_must_be_a_url(cli, world: World) -> None:
    run = cli("models", "fetch", "--models", str(world.models), "--endpoint", "hf-mirror.com", "--json")
    assert run.code == 2 and run.json()["code"] == "usage" and world.hub.requests == []


def test_a_partial_file_another_fetch_holds_is_left_to_it(cli, world: World) -> None:
    import fcntl

    from envdoctor.models.manifest import Roots, active

    dw = next(f for f in active().files if f.path == DW)
    part = fetch_mod.partial_path(Roots(world.models, world.torch), dw)
    part.parent.mkdir(parents=True)
    with open(part, "ab") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        run = cli("models", "fetch", *world.args())
    assert run.code == 1 and "another envdoctor is downloading into" in run.out, run.out
    assert world.hub.served[Path(DW).name] == 0 and not world.target(world.file(DW)).exists()
    assert world.target(world.files[0]).exists()


def test_check_models_remembers_what_it_verified(cli, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """`check --models` hashes each file once and remembers it: the repeat costs a stat per file. Proven twice:
    no file goes through the hasher, and bytes changed in place under the same stamp (size, mtime, inode,
    device) are still reported verified, which only a check that read no bytes can say."""
    monkeypatch.setenv("TORCH_HOME", str(world.torch))
    for f in _v15(world):  # placed by hand, not by fetch: nothing remembered yet
        world.target(f).parent.mkdir(parents=True, exist_ok=True)
        world.target(f).write_bytes(f.data)
    hashed: list[Path] = []
    real = hashing.sha256_file

    def counting(path: Path) -> str:
        hashed.append(path)
        return real(path)

    monkeypatch.setattr(hashing, "sha256_file", counting)

    def check() -> dict[str, tuple[str, str]]:
        run = cli("check", "--models", str(world.models), "--only", "models", "--json")
        return {r["title"]: (r["status"], r["found"]) for r in run.json()["results"] if r["id"].startswith("models")}

    first = check()
    assert sorted(hashed) == sorted(world.target(f) for f in _v15(world)), "the first check hashes every file"
    for f in _v15(world):
        status, found = next(v for k, v in first.items() if f.path in k or f.path in v[1])
        assert status == "ok" and "sha256 verified" in found, (f.path, found)

    hashed.clear()
    unet = world.target(world.files[0])
    st = os.stat(unet)
    with open(unet, "r+b") as fh:
        fh.write(bytes(100))
    os.utime(unet, ns=(st.st_atime_ns, st.st_mtime_ns))
    second = check()
    assert hashed == [], "a repeat reads no file's bytes"
    assert second["models/musetalkV15/unet.pth"][0] == "ok", second

    unet.touch()  # a new mtime: the remembered hash no longer holds, and the changed bytes are found
    third = check()
    assert hashed == [unet]
    assert (
        third["models/musetalkV15/unet.pth"][0] == "fail" and "other bytes" in third["models/musetalkV15/unet.pth"][1]
    )


@dataclass
class Recorder:
    """A progress sink that keeps what it was told, in order."""

    events: list[tuple[str, object]]

    def start(self, files: int, total_bytes: int) -> None:
        self.events.append(("start", (files, total_bytes)))

    def advance(self, n: int) -> None:
        self.events.append(("advance", n))

    def file_done(self, title: str) -> None:
        self.events.append(("file_done", title))

    def stop(self) -> None:
        self.events.append(("stop", None))


def _fetch_v15(world: World, sink: fetch_mod.Sink) -> fetch_mod.FetchReport:
    from envdoctor.models.manifest import Roots, from_file

    manifest = from_file(world.manifest)
    return fetch_mod.fetch(
        manifest,
        manifest.for_purpose("inference", "v15"),
        Roots(world.models, world.torch),
        endpoint=world.hub.url,
        sink=sink,
    )


def test_one_progress_display_counts_the_whole_set(world: World) -> None:
    """The sink hears of the whole set once (files, bytes), every byte as it comes from any of the files
    fetched at once, each file as it is done, and the end."""
    recorder = Recorder([])
    report = _fetch_v15(world, recorder)
    assert report.ok
    files = _v15(world)
    total = sum(len(f.data) for f in files)
    kinds = [kind for kind, _ in recorder.events]
    assert kinds[0] == "start" and kinds[-1] == "stop" and kinds.count("start") == kinds.count("stop") == 1
    assert recorder.events[0] == ("start", (len(files), total))
    advanced = [n for kind, n in recorder.events if kind == "advance" and isinstance(n, int)]
    assert sum(advanced) == total and len([n for n in advanced if n]) >= len(files)
    done = [str(title) for kind, title in recorder.events if kind == "file_done"]
    assert sorted(done) == sorted(r.file.title for r in report.results)
    again = Recorder([])
    assert _fetch_v15(world, again).ok
    assert again.events[0] == ("start", (0, 0)), "nothing left to fetch: an empty set"


def test_the_display_shows_bytes_speed_and_time_left(world: World) -> None:
    import re

    from rich.console import Console

    from envdoctor.report.models_progress import Bar

    out = io.StringIO()
    assert _fetch_v15(world, Bar(Console(file=out, force_terminal=True, width=160))).ok
    frames = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.getvalue()).replace("\r", "\n").splitlines()
    n = len(_v15(world))
    last = [line for line in frames if line.startswith(f"fetching {n}/{n} files")]
    assert last, frames
    # One line for the set: bytes done of the total (all of it), the speed, the time left.
    assert re.search(r" (\d+(?:\.\d+)?)/\1 (?:kB|MB) ", last[-1]), last[-1]
    assert re.search(r" \d+(?:\.\d+)? (?:bytes|kB|MB|GB)/s ", last[-1]), last[-1]
    assert re.search(r" \d+:\d\d:\d\d$", last[-1].rstrip()), last[-1]
