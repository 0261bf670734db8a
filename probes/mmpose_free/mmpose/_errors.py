"""Errors of the mmpose-free port. Each message names the strategy, so a user who meets one knows
which `mmpose` they have and where to look."""

from ._envdoctor_mmpose_free import DIST_NAME, STRATEGY

_WHO = f"this mmpose is {DIST_NAME} (envdoctor's `--strategy {STRATEGY}`)"


class MmposeFreeError(Exception):
    """Base of every error the port raises on purpose."""


class NotProvidedError(MmposeFreeError, ImportError):
    """A part of OpenMMLab's mmpose that the port does not provide."""

    def __init__(self, name):
        super().__init__(
            f"{name} is not available: {_WHO}, which provides only init_model, inference_topdown and "
            "merge_data_samples for the DWPose top-down model MuseTalk uses. For anything else install "
            "OpenMMLab's mmpose (envdoctor fix with another strategy).",
            name=name,
        )


class UnsupportedConfigError(MmposeFreeError, ValueError):
    """A config this port cannot run (another model type, a setting it does not implement)."""

    def __init__(self, config, reason):
        super().__init__(f"cannot run config {config}: {reason}; {_WHO}.")
        self.config = str(config)
        self.reason = reason


class CheckpointError(MmposeFreeError, RuntimeError):
    """The checkpoint does not fit the model: missing, unexpected or misshapen keys."""


class CheckpointNeedsTrustError(MmposeFreeError, RuntimeError):
    """The checkpoint cannot be read with torch.load(weights_only=True)."""


class InstalledBesideMmposeError(MmposeFreeError, ImportError):
    """OpenMMLab's mmpose distribution is installed into the same place: their files overwrite each other."""


def who():
    return _WHO
