# The DWPose model MuseTalk v1.5 loads: RTMPose-l, top-down, COCO-WholeBody's 133 keypoints,
# 288x384 input, SimCC decoding, flip test on. Written for envdoctor (mmengine config syntax) so that
# `smoke --deps` can build the model without a MuseTalk checkout; weights stay random.
codec = dict(
    type="SimCCLabel", input_size=(288, 384), sigma=(6.0, 6.93), simcc_split_ratio=2.0, normalize=False, use_dark=False
)
model = dict(
    type="TopdownPoseEstimator",
    data_preprocessor=dict(
        type="PoseDataPreprocessor", mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], bgr_to_rgb=True
    ),
    backbone=dict(
        _scope_="mmdet",
        type="CSPNeXt",
        arch="P5",
        expand_ratio=0.5,
        deepen_factor=1.0,
        widen_factor=1.0,
        out_indices=(4,),
        channel_attention=True,
        norm_cfg=dict(type="SyncBN"),
        act_cfg=dict(type="SiLU"),
    ),
    head=dict(
        type="RTMCCHead",
        in_channels=1024,
        out_channels=133,
        input_size=codec["input_size"],
        in_featuremap_size=(9, 12),
        simcc_split_ratio=codec["simcc_split_ratio"],
        final_layer_kernel_size=7,
        gau_cfg=dict(
            hidden_dims=256,
            s=128,
            expansion_factor=2,
            dropout_rate=0.0,
            drop_path=0.0,
            act_fn="SiLU",
            use_rel_bias=False,
            pos_enc=False,
        ),
        decoder=codec,
    ),
    test_cfg=dict(
        flip_test=True,
    ),
)
val_pipeline = [
    dict(type="LoadImage"),
    dict(type="GetBBoxCenterScale"),
    dict(type="TopdownAffine", input_size=codec["input_size"]),
    dict(type="PackPoseInputs"),
]
val_dataloader = dict(batch_size=32, dataset=dict(type="CocoWholeBodyDataset", pipeline=val_pipeline))
test_dataloader = val_dataloader
