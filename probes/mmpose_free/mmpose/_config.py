"""Read what inference needs from an mmpose config file, without executing it.

mmpose configs are Python files run by mmengine (with `_base_` inheritance, `dict(...)` calls and
references between assignments). The port never executes them: it evaluates the module-level
assignments with a small literal evaluator (constants, tuples, lists, dicts, `dict(...)`, names
assigned earlier, subscripts and arithmetic) and ignores statements it cannot evaluate unless a
value it needs depends on them. Anything outside the one model family the port implements (top-down
RTMPose: CSPNeXt backbone, RTMCC head, SimCC codec) is refused with an error naming the strategy.
"""

import ast
import operator
from pathlib import Path

from ._errors import UnsupportedConfigError

_UNKNOWN = object()
_INDEX = getattr(ast, "Index", None)
_BINOPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}


class _Unevaluable(Exception):
    pass


def _eval(node, env):
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.Tuple, ast.List)):
        items = [_eval(e, env) for e in node.elts]
        return tuple(items) if isinstance(node, ast.Tuple) else items
    if isinstance(node, ast.Dict):
        if any(k is None for k in node.keys):  # {**other}
            raise _Unevaluable("dict unpacking")
        return {_eval(k, env): _eval(v, env) for k, v in zip(node.keys, node.values)}
    if isinstance(node, ast.Name):
        value = env.get(node.id, _UNKNOWN)
        if value is _UNKNOWN:
            raise _Unevaluable(f"name {node.id!r}")
        return value
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict":
        if node.args or any(kw.arg is None for kw in node.keywords):
            raise _Unevaluable("dict() with positional or ** arguments")
        return {kw.arg: _eval(kw.value, env) for kw in node.keywords}
    if isinstance(node, ast.Subscript):
        container = _eval(node.value, env)
        index = node.slice
        if _INDEX is not None and isinstance(index, _INDEX):  # Python 3.8 wraps subscripts
            index = index.value
        try:
            return container[_eval(index, env)]
        except (KeyError, IndexError, TypeError) as exc:
            raise _Unevaluable(f"subscript: {exc}") from None
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        try:
            return _BINOPS[type(node.op)](_eval(node.left, env), _eval(node.right, env))
        except Exception as exc:  # arithmetic on config values that do not support it
            raise _Unevaluable(f"arithmetic: {exc}") from None
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_eval(node.operand, env)
    raise _Unevaluable(type(node).__name__)


def read_assignments(path):
    """The module-level `name = value` assignments of a config file that evaluate as literals.

    Returns (values, skipped): skipped maps a name to why its value could not be evaluated.
    """
    source = Path(path).read_text(encoding="utf-8")
    tree = ast.parse(source, filename=str(path))
    env = {}
    skipped = {}
    for stmt in tree.body:
        if not isinstance(stmt, ast.Assign):
            continue  # loops, imports, augmented assignments: nothing inference needs
        try:
            value = _eval(stmt.value, env)
        except _Unevaluable as exc:
            value = _UNKNOWN
            reason = str(exc)
        for target in stmt.targets:
            if isinstance(target, ast.Name):
                if value is _UNKNOWN:
                    skipped[target.id] = reason
                    env.pop(target.id, None)
                else:
                    env[target.id] = value
    return env, skipped


class ModelSpec:
    """Everything the port needs to build the network and run top-down inference."""

    __slots__ = (
        "arch",
        "bbox_padding",
        "bgr_to_rgb",
        "bn_eps",
        "channel_attention",
        "config",
        "deepen_factor",
        "expand_ratio",
        "featuremap_size",
        "final_kernel",
        "flip_test",
        "gau_expansion",
        "gau_hidden",
        "gau_s",
        "in_channels",
        "input_size",
        "mean",
        "num_keypoints",
        "simcc_split_ratio",
        "spp_kernel_sizes",
        "std",
        "widen_factor",
    )

    def __init__(self, **values):
        for name in self.__slots__:
            setattr(self, name, values[name])

    def as_dict(self):
        return {name: getattr(self, name) for name in self.__slots__}

    def __repr__(self):
        return "ModelSpec({})".format(", ".join(f"{k}={v!r}" for k, v in self.as_dict().items()))


def _need(cfg, key, config, where):
    if not isinstance(cfg, dict) or key not in cfg:
        raise UnsupportedConfigError(config, f"{where} has no {key!r}")
    return cfg[key]


def _expect(value, allowed, config, what):
    if value not in allowed:
        raise UnsupportedConfigError(
            config, "{} is {!r}; the port implements {}".format(what, value, " or ".join(repr(a) for a in allowed))
        )


def _stage(pipeline, name):
    for step in pipeline or ():
        if isinstance(step, dict) and step.get("type") == name:
            return step
    return None


def parse_config(path):
    """A ModelSpec from an mmpose top-down RTMPose config file, or UnsupportedConfigError."""
    config = str(path)
    if not Path(path).is_file():
        raise UnsupportedConfigError(config, "the file does not exist")
    env, skipped = read_assignments(path)
    if "model" not in env:
        why = skipped.get("model")
        if why:
            reason = f"its `model` could not be read without executing the file ({why})"
        elif "_base_" in env:
            reason = "`model` comes from its `_base_` files, which the port does not merge"
        else:
            reason = "it defines no `model`"
        raise UnsupportedConfigError(config, reason)
    model = env["model"]
    _expect(model.get("type"), ("TopdownPoseEstimator",), config, "model.type")
    if model.get("neck"):
        raise UnsupportedConfigError(config, "the model has a neck; the port implements backbone + head only")
    backbone = _need(model, "backbone", config, "model")
    head = _need(model, "head", config, "model")
    _expect(backbone.get("type"), ("CSPNeXt", "mmdet.CSPNeXt"), config, "model.backbone.type")
    _expect(backbone.get("arch", "P5"), ("P5",), config, "model.backbone.arch")
    _expect(bool(backbone.get("use_depthwise", False)), (False,), config, "model.backbone.use_depthwise")
    _expect(backbone.get("arch_ovewrite"), (None,), config, "model.backbone.arch_ovewrite")
    _expect(tuple(backbone.get("out_indices", (2, 3, 4))), ((4,),), config, "model.backbone.out_indices")
    _expect((backbone.get("act_cfg") or {}).get("type", "SiLU"), ("SiLU",), config, "model.backbone.act_cfg.type")
    norm = backbone.get("norm_cfg") or {"type": "BN"}
    _expect(norm.get("type"), ("BN", "SyncBN"), config, "model.backbone.norm_cfg.type")

    _expect(head.get("type"), ("RTMCCHead",), config, "model.head.type")
    gau = dict(head.get("gau_cfg") or {})
    _expect(gau.get("act_fn", "ReLU"), ("SiLU",), config, "model.head.gau_cfg.act_fn")
    _expect(bool(gau.get("use_rel_bias", False)), (False,), config, "model.head.gau_cfg.use_rel_bias")
    _expect(bool(gau.get("pos_enc", False)), (False,), config, "model.head.gau_cfg.pos_enc")
    decoder = _need(head, "decoder", config, "model.head")
    _expect(decoder.get("type"), ("SimCCLabel",), config, "model.head.decoder.type")
    _expect(bool(decoder.get("use_dark", False)), (False,), config, "model.head.decoder.use_dark")
    _expect(bool(decoder.get("decode_visibility", False)), (False,), config, "model.head.decoder.decode_visibility")

    test_cfg = model.get("test_cfg") or {}
    for key in ("output_keypoint_indices", "output_heatmaps"):
        if test_cfg.get(key):
            raise UnsupportedConfigError(config, f"model.test_cfg.{key} is set")
    pre = model.get("data_preprocessor") or {}
    _expect(pre.get("type", "PoseDataPreprocessor"), ("PoseDataPreprocessor",), config, "data_preprocessor.type")

    pipeline = _test_pipeline(env, skipped, config)
    centre = _stage(pipeline, "GetBBoxCenterScale")
    affine = _stage(pipeline, "TopdownAffine")
    if centre is None or affine is None:
        raise UnsupportedConfigError(config, "the test pipeline lacks GetBBoxCenterScale or TopdownAffine")
    _expect(bool(affine.get("use_udp", False)), (False,), config, "TopdownAffine.use_udp")
    known = {"LoadImage", "GetBBoxCenterScale", "TopdownAffine", "PackPoseInputs"}
    extra = [step.get("type") for step in pipeline if isinstance(step, dict) and step.get("type") not in known]
    if extra:
        raise UnsupportedConfigError(config, f"the test pipeline has steps the port does not run: {extra}")

    input_size = tuple(int(v) for v in _need(head, "input_size", config, "model.head"))
    if tuple(int(v) for v in affine["input_size"]) != input_size:
        raise UnsupportedConfigError(config, "TopdownAffine.input_size differs from the head's input_size")
    return ModelSpec(
        config=config,
        arch="P5",
        deepen_factor=float(backbone.get("deepen_factor", 1.0)),
        widen_factor=float(backbone.get("widen_factor", 1.0)),
        expand_ratio=float(backbone.get("expand_ratio", 0.5)),
        channel_attention=bool(backbone.get("channel_attention", True)),
        spp_kernel_sizes=tuple(backbone.get("spp_kernel_sizes", (5, 9, 13))),
        # mmcv builds BN/SyncBN with torch's defaults unless the config says otherwise.
        bn_eps=float(norm.get("eps", 1e-5)),
        in_channels=int(_need(head, "in_channels", config, "model.head")),
        num_keypoints=int(_need(head, "out_channels", config, "model.head")),
        input_size=input_size,
        featuremap_size=tuple(int(v) for v in _need(head, "in_featuremap_size", config, "model.head")),
        final_kernel=int(head.get("final_layer_kernel_size", 1)),
        gau_hidden=int(gau.get("hidden_dims", 256)),
        gau_s=int(gau.get("s", 128)),
        gau_expansion=float(gau.get("expansion_factor", 2)),
        simcc_split_ratio=float(head.get("simcc_split_ratio", 2.0)),
        flip_test=bool(test_cfg.get("flip_test", False)),
        mean=tuple(float(v) for v in pre.get("mean") or (0.0, 0.0, 0.0)),
        std=tuple(float(v) for v in pre.get("std") or (1.0, 1.0, 1.0)),
        bgr_to_rgb=bool(pre.get("bgr_to_rgb", False) or pre.get("rgb_to_bgr", False)),
        bbox_padding=float(centre.get("padding", 1.25)),
    )


def _test_pipeline(env, skipped, config):
    loader = env.get("test_dataloader")
    if loader is None:
        why = skipped.get("test_dataloader")
        raise UnsupportedConfigError(
            config, "its test_dataloader could not be read ({})".format(why or "not defined in the file itself")
        )
    try:
        return list(loader["dataset"]["pipeline"])
    except (KeyError, TypeError):
        raise UnsupportedConfigError(config, "test_dataloader.dataset.pipeline is missing") from None
