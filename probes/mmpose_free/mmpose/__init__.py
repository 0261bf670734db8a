"""envdoctor's mmpose-free DWPose port, installed as `mmpose` (distribution envdoctor-mmpose-free).

It provides exactly what MuseTalk calls: `mmpose.apis.init_model`, `mmpose.apis.inference_topdown`
and `mmpose.structures.merge_data_samples`, for the top-down RTMPose model of MuseTalk's DWPose config,
in plain PyTorch: no mmcv, mmengine, mmdet, xtcocotools or chumpy. Any other part of mmpose raises an
error that says so. It must never share site-packages with OpenMMLab's mmpose (their files overwrite
each other), and it refuses to import when it finds itself in that state.
"""

import sys

from ._envdoctor_mmpose_free import DIST_NAME, STRATEGY, VERSION
from ._errors import InstalledBesideMmposeError, NotProvidedError

__version__ = VERSION
__mmpose_free__ = True

# Submodules that exist; importing any other `mmpose.<name>` raises NotProvidedError.
_PROVIDED = frozenset(["apis", "structures"])


def _check_not_beside_real_mmpose():
    # Both distributions put files under the same `mmpose/` folder: if OpenMMLab's is recorded as
    # installed where this file lives, the folder is a mix of the two and nothing in it can be trusted.
    try:
        from importlib import metadata
    except ImportError:  # Python < 3.8 is not supported anyway
        return
    try:
        dist = metadata.distribution("mmpose")
    except metadata.PackageNotFoundError:
        return
    import os

    here = os.path.dirname(os.path.abspath(__file__))
    for file in dist.files or ():
        if str(file).replace("\\", "/") == "mmpose/__init__.py":
            if os.path.dirname(os.path.abspath(str(dist.locate_file(file)))) == here:
                raise InstalledBesideMmposeError(
                    f"OpenMMLab's mmpose {dist.version} is installed in the same place as {DIST_NAME} "
                    f"(envdoctor's `--strategy {STRATEGY}`): "
                    "their files overwrite each other. Uninstall both and reinstall the one you want."
                )
            return


class _RefuseOtherSubmodules:
    """A meta path finder that turns `import mmpose.<anything else>` into a NotProvidedError."""

    @staticmethod
    def find_spec(fullname, path=None, target=None):
        if fullname.startswith(__name__ + "."):
            rest = fullname[len(__name__) + 1 :]
            if rest not in _PROVIDED and not any(part.startswith("_") for part in rest.split(".")):
                raise NotProvidedError(fullname)
        return None


_check_not_beside_real_mmpose()
if not any(isinstance(f, _RefuseOtherSubmodules) for f in sys.meta_path):
    sys.meta_path.insert(0, _RefuseOtherSubmodules())


def __getattr__(name):
    if name in _PROVIDED:  # `from mmpose import apis` asks for the attribute before importing it
        import importlib

        return importlib.import_module("." + name, __name__)
    if name.startswith("_"):
        raise AttributeError(name)
    raise NotProvidedError(f"mmpose.{name}")
