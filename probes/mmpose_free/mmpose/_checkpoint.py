"""Load an mmpose-format checkpoint into the port's network: safely first, strictly by key.

`torch.load(weights_only=True)` is tried first. A file that needs more than tensors and plain
containers (pickled numpy arrays or mmengine objects in its metadata) is loaded only when the user
says they trust it: the `trust` argument or ENVDOCTOR_DWPOSE_TRUST_CHECKPOINT=1, because MuseTalk
calls init_model() with no room for a flag.
"""

import inspect
import os
import pickle
import re
import sys

import torch

from ._errors import CheckpointError, CheckpointNeedsTrustError, who

TRUST_ENV = "ENVDOCTOR_DWPOSE_TRUST_CHECKPOINT"
# mmpose drops these before loading (they are rebuilt from the config); so does the port.
_IGNORED_PREFIXES = ("data_preprocessor.",)
# Written by BatchNorm during training, never read in eval mode; old checkpoints lack them.
_OPTIONAL_SUFFIX = ".num_batches_tracked"


def trusted_by_env():
    return os.environ.get(TRUST_ENV, "").strip().lower() in ("1", "true", "yes")


def _unsafe_globals(path, error):
    finder = getattr(torch.serialization, "get_unsafe_globals_in_checkpoint", None)
    if finder is not None:
        try:
            return list(finder(path))
        except Exception:  # an old or odd file: fall back to what the error said
            pass
    # torch 2.4+ says "Unsupported global: GLOBAL numpy.core.multiarray._reconstruct", older ones
    # "Unsupported class numpy.core.multiarray._reconstruct".
    names = re.findall(r"(?:GLOBAL|Unsupported class) ([\w.]+)", str(error))
    return sorted(set(names)) or [f"more than tensors (torch's message: {_first_line(error)})"]


def _first_line(error):
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0][:300] if lines else type(error).__name__


def read_checkpoint(path, trust=False):
    """The checkpoint object from `path`, read with weights_only=True unless the user trusts it."""
    path = str(path)
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint {path} does not exist ({who()}).")
    trusted = trust or trusted_by_env()
    if not _has_weights_only():
        # torch < 1.13: a safe load is impossible there.
        if not trusted:
            raise CheckpointNeedsTrustError(
                f"this torch ({torch.__version__}) cannot load {path} without running the pickle code in it "
                f"(it has no weights_only). "
                f"If you trust the file, set {TRUST_ENV}=1. ({who()})"
            )
        print(f"mmpose-free: loading {path} with full pickle because you trust it ({TRUST_ENV}).", file=sys.stderr)
        return _load(path)
    try:
        return _load(path, weights_only=True)
    except pickle.UnpicklingError as exc:
        if not trusted:
            raise CheckpointNeedsTrustError(
                "{} is not a weights-only checkpoint: unpickling it needs {}, i.e. running code the file "
                "names. If you trust this file, set {}=1 (or pass trust_checkpoint=True to init_model) and it "
                "is loaded with weights_only=False. ({})".format(
                    path, ", ".join(_unsafe_globals(path, exc)), TRUST_ENV, who()
                )
            ) from exc
    print(
        f"mmpose-free: {path} needs more than weights_only=True allows; loading it with weights_only=False "
        f"because you trust it ({TRUST_ENV}).",
        file=sys.stderr,
    )
    return _load(path, weights_only=False)


def _load(path, **kwargs):
    try:
        return torch.load(path, map_location="cpu", **kwargs)
    except pickle.UnpicklingError:
        raise
    except Exception as exc:  # a truncated download, not a torch file at all
        raise CheckpointError(f"cannot read checkpoint {path}: {type(exc).__name__}: {exc} ({who()}).") from exc


def _has_weights_only():
    try:
        return "weights_only" in inspect.signature(torch.load).parameters
    except (TypeError, ValueError):
        return False


def state_dict_of(checkpoint, path):
    """The parameter mapping inside an mmpose checkpoint (`{'state_dict': ...}`) or a bare one."""
    if isinstance(checkpoint, dict) and isinstance(checkpoint.get("state_dict"), dict):
        state = checkpoint["state_dict"]
    elif isinstance(checkpoint, dict) and checkpoint and all(torch.is_tensor(v) for v in checkpoint.values()):
        state = checkpoint
    else:
        keys = sorted(checkpoint)[:8] if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise CheckpointError(f"{path} holds neither a 'state_dict' nor a bare mapping of tensors (found {keys}).")
    out = {}
    for key, value in state.items():
        # Checkpoints saved from DataParallel/DistributedDataParallel carry a `module.` prefix,
        # which mmengine strips too.
        if key.startswith("module."):
            key = key[len("module.") :]
        if key.startswith(_IGNORED_PREFIXES):
            continue
        out[key] = value
    return out


def _listing(keys, limit=12):
    keys = sorted(keys)
    shown = ", ".join(keys[:limit])
    return shown + (f" ... and {len(keys) - limit} more" if len(keys) > limit else "")


def load_into(model, state, path):
    """Copy `state` into `model`, or raise CheckpointError naming every key that does not fit."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state and not k.endswith(_OPTIONAL_SUFFIX)]
    unexpected = [k for k in state if k not in expected]
    misshapen = [
        f"{k} {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in expected
        if k in state and torch.is_tensor(state[k]) and state[k].shape != expected[k].shape
    ]
    if missing or unexpected or misshapen:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing key(s): {_listing(missing)}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected key(s): {_listing(unexpected)}")
        if misshapen:
            parts.append(f"{len(misshapen)} key(s) of the wrong shape: {_listing(misshapen, 6)}")
        raise CheckpointError(
            "checkpoint {} does not fit the model of this config: {}. ({})".format(path, "; ".join(parts), who())
        )
    fill = {k: v for k, v in expected.items() if k not in state}  # optional counters only
    model.load_state_dict(dict(state, **fill), strict=True)


def dataset_meta_of(checkpoint):
    """mmpose 1.x checkpoints may carry the dataset's metadata; mmpose prefers it to the config's."""
    if isinstance(checkpoint, dict):
        meta = checkpoint.get("meta")
        if isinstance(meta, dict) and isinstance(meta.get("dataset_meta"), dict):
            return meta["dataset_meta"]
    return None
