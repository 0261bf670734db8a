"""The result types MuseTalk reads: `PoseDataSample.pred_instances.keypoints` and friends.

A small stand-in for mmengine's InstanceData/BaseDataElement: attribute access to numpy arrays,
`in`, `len()` and concatenation, which is all `merge_data_samples` and MuseTalk use.
"""

import numpy as np

from .._errors import NotProvidedError

__all__ = ["InstanceData", "PoseDataSample", "merge_data_samples"]


class InstanceData:
    """Per-instance fields (arrays whose first axis is the instance)."""

    def __init__(self, **fields):
        object.__setattr__(self, "_fields", {})
        for key, value in fields.items():
            self.set_field(value, key)

    def set_field(self, value, name):
        self._fields[name] = value

    def __setattr__(self, name, value):
        self.set_field(value, name)

    def __getattr__(self, name):
        fields = object.__getattribute__(self, "_fields")
        if name in fields:
            return fields[name]
        raise AttributeError(f"{type(self).__name__} has no field {name!r} (fields: {sorted(fields)})")

    def __contains__(self, name):
        return name in self._fields

    def __len__(self):
        for value in self._fields.values():
            return len(value)
        return 0

    def keys(self):
        return list(self._fields)

    def items(self):
        return list(self._fields.items())

    all_items = items

    def get(self, name, default=None):
        return self._fields.get(name, default)

    @classmethod
    def cat(cls, instances):
        instances = list(instances)
        if not instances:
            return cls()
        keys = instances[0].keys()
        for other in instances[1:]:
            if other.keys() != keys:
                raise ValueError("cannot concatenate instances with different fields")
        return cls(**{k: np.concatenate([inst.get(k) for inst in instances], axis=0) for k in keys})

    def __repr__(self):
        shapes = ", ".join("{}: {}".format(k, getattr(v, "shape", type(v).__name__)) for k, v in self._fields.items())
        return f"<InstanceData({shapes})>"


class PoseDataSample:
    """One image's (or box's) result: metainfo plus `pred_instances` (and `gt_instances`)."""

    def __init__(self, metainfo=None, **fields):
        object.__setattr__(self, "_metainfo", dict(metainfo or {}))
        object.__setattr__(self, "_fields", {})
        for key, value in fields.items():
            setattr(self, key, value)

    @property
    def metainfo(self):
        return dict(self._metainfo)

    def set_metainfo(self, metainfo):
        self._metainfo.update(metainfo)

    def __setattr__(self, name, value):
        self._fields[name] = value

    def __getattr__(self, name):
        fields = object.__getattribute__(self, "_fields")
        if name in fields:
            return fields[name]
        metainfo = object.__getattribute__(self, "_metainfo")
        if name in metainfo:
            return metainfo[name]
        raise AttributeError(f"PoseDataSample has no {name!r} (fields: {sorted(fields)}, metainfo: {sorted(metainfo)})")

    def __contains__(self, name):
        return name in self._fields or name in self._metainfo

    def __repr__(self):
        return f"<PoseDataSample(fields={sorted(self._fields)}, metainfo={sorted(self._metainfo)})>"


def merge_data_samples(data_samples):
    """One sample holding the instances of all `data_samples` (the metainfo of the first)."""
    data_samples = list(data_samples)
    if not all(isinstance(d, PoseDataSample) for d in data_samples):
        raise ValueError("merge_data_samples expects a list of PoseDataSample")
    if not data_samples:
        return PoseDataSample()
    merged = PoseDataSample(metainfo=data_samples[0].metainfo)
    for field in ("gt_instances", "pred_instances"):
        if field in data_samples[0]._fields:
            setattr(merged, field, InstanceData.cat(getattr(d, field) for d in data_samples))
    return merged


def __getattr__(name):
    if name.startswith("_"):
        raise AttributeError(name)
    raise NotProvidedError(f"mmpose.structures.{name}")
