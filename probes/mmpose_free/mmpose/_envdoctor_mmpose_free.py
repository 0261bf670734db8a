"""Marker: this `mmpose` is envdoctor's mmpose-free DWPose port, not OpenMMLab's mmpose.

Tools (envdoctor's facts probe among them) recognise the port by this module's presence, without
importing anything heavy: it is plain data.
"""

DIST_NAME = "envdoctor-mmpose-free"
VERSION = "0.1.0"
STRATEGY = "mmpose-free"
# The OpenMMLab mmpose release whose inference results this port reproduces.
MIMICS = "mmpose 1.3.2 (top-down RTMPose with SimCC, as MuseTalk uses it)"
PROVIDES = ("mmpose.apis.init_model", "mmpose.apis.inference_topdown", "mmpose.structures.merge_data_samples")
