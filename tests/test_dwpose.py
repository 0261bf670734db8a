"""The mmpose-free port without torch: its config reader, its wheel, its Python 3.8-3.13 syntax.

The parts of the payload that need no torch (the config reader, the result structures, the errors) are
loaded from the source folder under another package name, in this interpreter and in every other
CPython 3.8-3.13 found on the machine.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import importlib.util
import io
import shutil
import sys
import zipfile
from pathlib import Path

import pytest

from envdoctor import dwpose

ALIAS = "mmpose_free_payload"
PAYLOAD = dwpose.PAYLOAD

# A config shaped like MuseTalk's DWPose config (written for this test): an mmengine-style file
# with `_base_`, dict() calls, references between assignments and a loop that cannot be evaluated.
CONFIG = """
_base_ = ['default_runtime.py']
codec = dict(type='SimCCLabel', input_size=(288, 384), sigma=(6., 6.93), simcc_split_ratio=2.0,
             normalize=False, use_dark=False)
model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    backbone=dict(_scope_='mmdet', type='CSPNeXt', arch='P5', expand_ratio=0.5, deepen_factor=1.,
                  widen_factor=1., out_indices=(4, ), channel_attention=True, norm_cfg=dict(type='SyncBN'),
                  act_cfg=dict(type='SiLU')),
    head=dict(type='RTMCCHead', in_channels=1024, out_channels=133, input_size=codec['input_size'],
              in_featuremap_size=(9, 12), simcc_split_ratio=codec['simcc_split_ratio'],
              final_layer_kernel_size=7,
              gau_cfg=dict(hidden_dims=256, s=128, expansion_factor=2, dropout_rate=0., drop_path=0.,
                           act_fn='SiLU', use_rel_bias=False, pos_enc=False),
              decoder=codec),
    test_cfg=dict(flip_test=True, ))
scenes = ['A', 'B']
train_datasets = []
for scene in scenes:
    train_datasets.append(dict(type='X', ann_file=f'{scene}.json'))
val_pipeline = [dict(type='LoadImage'), dict(type='GetBBoxCenterScale'),
                dict(type='TopdownAffine', input_size=codec['input_size']), dict(type='PackPoseInputs')]
val_dataloader = dict(batch_size=32, dataset=dict(type='CocoWholeBodyDataset', pipeline=val_pipeline))
test_dataloader = val_dataloader
"""


def load_payload(name: str = ALIAS):
    """The payload package under another name (it uses relative imports only)."""
    if name in sys.modules:
        return sys.modules[name]
    init = PAYLOAD / "__init__.py"
    spec = importlib.util.spec_from_file_location(name, init, submodule_search_locations=[str(PAYLOAD)])
    assert spec is not None and spec.loader is not None, init
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "rtmpose-l_wholebody-384x288.py"
    path.write_text(CONFIG)
    return path


def test_config_reader_reads_musetalks_model_without_executing_it(config: Path) -> None:
    load_payload()
    from mmpose_free_payload._config import parse_config

    spec = parse_config(config)
    assert spec.input_size == (288, 384)
    assert spec.num_keypoints == 133
    assert spec.featuremap_size == (9, 12)
    assert spec.flip_test is True
    assert spec.bbox_padding == 1.25  # GetBBoxCenterScale's default, not written in the config
    assert spec.bgr_to_rgb is True
    assert spec.mean == (123.675, 116.28, 103.53)
    assert spec.bn_eps == 1e-5


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        ("type='RTMCCHead'", "type='HeatmapHead'", "model.head.type is 'HeatmapHead'"),
        ("use_dark=False", "use_dark=True", "use_dark"),
        ("arch='P5'", "arch='P6'", "arch is 'P6'"),
        (
            "dict(type='TopdownAffine', input_size=codec['input_size'])",
            "dict(type='TopdownAffine', input_size=codec['input_size'], use_udp=True)",
            "use_udp",
        ),
        ("model = dict(", "model = make_model(", "could not be read"),
    ],
)
def test_unsupported_configs_are_refused_naming_the_strategy(config: Path, old: str, new: str, says: str) -> None:
    load_payload()
    from mmpose_free_payload._config import parse_config
    from mmpose_free_payload._errors import UnsupportedConfigError

    text = config.read_text()
    assert old in text
    config.write_text(text.replace(old, new))
    with pytest.raises(UnsupportedConfigError) as err:
        parse_config(config)
    assert says in str(err.value)
    assert "--strategy mmpose-free" in str(err.value)


def test_a_config_whose_model_lives_in_base_files_is_refused(tmp_path: Path) -> None:
    load_payload()
    from mmpose_free_payload._config import parse_config
    from mmpose_free_payload._errors import UnsupportedConfigError

    path = tmp_path / "child.py"
    path.write_text("_base_ = ['parent.py']\nmodel = None\n".replace("model = None\n", ""))
    with pytest.raises(UnsupportedConfigError, match="_base_"):
        parse_config(path)


def test_other_mmpose_names_raise_an_error_naming_the_strategy() -> None:
    port = load_payload()
    from mmpose_free_payload._errors import NotProvidedError

    with pytest.raises(NotProvidedError, match="mmpose-free"):
        port.datasets  # noqa: B018
    with pytest.raises(NotProvidedError, match=f"{ALIAS}.models"):
        importlib.import_module(f"{ALIAS}.models")
    structures = importlib.import_module(f"{ALIAS}.structures")
    with pytest.raises(ImportError, match="mmpose-free"):
        exec(f"from {ALIAS}.structures import PoseDataSampleX", {})
    assert structures.merge_data_samples  # the provided names stay reachable
    assert not hasattr(structures, "_private")  # dunder/private probing stays an AttributeError


def test_merge_data_samples_concatenates_instances() -> None:
    load_payload()
    import numpy as np
    from mmpose_free_payload.structures import InstanceData, PoseDataSample, merge_data_samples

    samples = [
        PoseDataSample(
            metainfo={"input_size": (288, 384)},
            pred_instances=InstanceData(
                keypoints=np.full((1, 133, 2), i, np.float32), keypoint_scores=np.ones((1, 133), np.float32)
            ),
        )
        for i in range(3)
    ]
    merged = merge_data_samples(samples)
    assert merged.pred_instances.keypoints.shape == (3, 133, 2)
    assert merged.pred_instances.keypoints[2, 0, 0] == 2
    assert merged.input_size == (288, 384)
    assert len(merged.pred_instances) == 3


def test_the_flip_table_mirrors_every_point_once() -> None:
    load_payload()
    from mmpose_free_payload._wholebody import flip_indices

    flips = flip_indices()
    assert sorted(flips) == list(range(133))
    assert all(flips[flips[i]] == i for i in range(133))  # an involution
    assert flips[23 + 8] == 23 + 8  # the chin is its own mirror
    assert flips[23 + 36] == 23 + 45  # outer eye corners swap


def _record_ok(zf: zipfile.ZipFile, record_name: str) -> list[str]:
    bad = []
    for name, digest, size in csv.reader(io.StringIO(zf.read(record_name).decode())):
        if name == record_name:
            continue
        data = zf.read(name)
        want = "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        if digest != want or int(size) != len(data):
            bad.append(name)
    return bad


def test_wheel_is_reproducible_and_recognisable(tmp_path: Path) -> None:
    first = dwpose.build_hashed(tmp_path / "a")
    second = dwpose.build_hashed(tmp_path / "b")
    assert first.sha256 == second.sha256
    assert first.path.name == "envdoctor_mmpose_free-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(first.path) as zf:
        names = zf.namelist()
        dist_info = "envdoctor_mmpose_free-0.1.0.dist-info"
        assert dwpose.MARKER_FILE in names
        assert "mmpose/apis/__init__.py" in names and "mmpose/structures/__init__.py" in names
        assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
        meta = zf.read(f"{dist_info}/METADATA").decode()
        assert "Name: envdoctor-mmpose-free" in meta
        assert "Requires-Dist: torch" in meta and "Requires-Dist: numpy" in meta
        assert "NOT OpenMMLab's mmpose" in meta
        assert zf.read(f"{dist_info}/top_level.txt").decode().split() == ["mmpose"]
        assert _record_ok(zf, f"{dist_info}/RECORD") == []
    assert dwpose.is_port("envdoctor_mmpose_free")
    assert dwpose.is_port(files=["mmpose/__init__.py", "mmpose/_envdoctor_mmpose_free.py"])
    assert not dwpose.is_port("mmpose", files=["mmpose/__init__.py"])
    req = dwpose.requirements(first.path)
    assert req == [f"envdoctor-mmpose-free @ {first.path.resolve().as_uri()}"]


def _other_pythons() -> list[str]:
    from envkit import find_pythons

    return list(find_pythons([f"3.{minor}" for minor in range(8, 14)]).values())


_SCRIPT = """
import importlib.util, json, sys
init = sys.argv[1] + '/__init__.py'
spec = importlib.util.spec_from_file_location('p', init, submodule_search_locations=[sys.argv[1]])
m = importlib.util.module_from_spec(spec); sys.modules['p'] = m; spec.loader.exec_module(m)
import compileall
assert compileall.compile_dir(sys.argv[1], quiet=1, legacy=False, force=True, workers=1)
from p._config import parse_config
from p._wholebody import flip_indices
s = parse_config(sys.argv[2])
assert s.input_size == (288, 384) and len(flip_indices()) == 133, s
print(json.dumps({'python': '%d.%d' % sys.version_info[:2], 'input_size': list(s.input_size)}))
"""


def test_payload_compiles_and_reads_configs_on_python_3_8_to_3_13(config: Path, tmp_path: Path) -> None:
    pythons = _other_pythons()
    if len(pythons) < 2:
        pytest.skip("fewer than two CPython 3.8-3.13 interpreters on this machine")
    copy = tmp_path / "payload"
    shutil.copytree(PAYLOAD, copy)  # compileall writes __pycache__: keep it out of the source tree
    from envkit import run_inside

    series = set()
    for py in pythons:
        out = run_inside(py, ["-c", _SCRIPT, str(copy), str(config)], what="the port's config reader", timeout=120)
        assert out["input_size"] == [288, 384], out
        series.add(out["python"])
    assert "3.8" in series or len(series) >= 2
