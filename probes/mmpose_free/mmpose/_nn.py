"""The RTMPose network in plain PyTorch: a CSPNeXt-P5 backbone and an RTMCC head.

Module and parameter names follow the layout of mmpose/mmdet checkpoints (`backbone.stage2.1.blocks.0.
conv2.depthwise_conv.bn.weight`, `head.gau.uv.weight`, ...), so a checkpoint trained with mmpose loads
by key without any renaming. Only the inference path exists: no training losses, no dropout.
"""

import math

import torch
from torch import nn
from torch.nn import functional as F

# CSPNeXt-P5 stages: input channels, output channels, blocks, identity shortcut in blocks, SPP.
_P5 = ((64, 128, 3, True, False), (128, 256, 6, True, False), (256, 512, 6, True, False), (512, 1024, 3, False, True))


class ConvBNAct(nn.Module):
    """conv (no bias: the norm has one) -> batch norm -> SiLU."""

    def __init__(self, cin, cout, kernel, stride=1, groups=1, eps=1e-5):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=eps)
        self.activate = nn.SiLU(inplace=True)

    def forward(self, x):
        return self.activate(self.bn(self.conv(x)))

    @torch.no_grad()
    def fuse(self):
        """Fold the (eval-mode) batch norm into the convolution: one pass over memory instead of two.

        Changes the result only by float rounding (about 1e-6 relative).
        """
        if isinstance(self.bn, nn.Identity):
            return
        conv, bn = self.conv, self.bn
        factor = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        fused = nn.Conv2d(
            conv.in_channels,
            conv.out_channels,
            conv.kernel_size,
            conv.stride,
            conv.padding,
            groups=conv.groups,
            bias=True,
        ).to(conv.weight.device, conv.weight.dtype)
        fused.weight.copy_(conv.weight * factor.view(-1, 1, 1, 1))
        fused.bias.copy_(bn.bias - bn.running_mean * factor)
        self.conv = fused
        self.bn = nn.Identity()


class DepthwiseSeparable(nn.Module):
    def __init__(self, cin, cout, kernel, eps):
        super().__init__()
        self.depthwise_conv = ConvBNAct(cin, cin, kernel, groups=cin, eps=eps)
        self.pointwise_conv = ConvBNAct(cin, cout, 1, eps=eps)

    def forward(self, x):
        return self.pointwise_conv(self.depthwise_conv(x))


class CSPNeXtBlock(nn.Module):
    def __init__(self, channels, shortcut, eps):
        super().__init__()
        self.conv1 = ConvBNAct(channels, channels, 3, eps=eps)
        self.conv2 = DepthwiseSeparable(channels, channels, 5, eps)
        self.shortcut = shortcut

    def forward(self, x):
        out = self.conv2(self.conv1(x))
        return out + x if self.shortcut else out


class ChannelAttention(nn.Module):
    """Squeeze-and-excite without the squeeze: global mean -> 1x1 conv -> hard sigmoid -> scale."""

    def __init__(self, channels):
        super().__init__()
        self.fc = nn.Conv2d(channels, channels, 1, bias=True)
        self.act = nn.Hardsigmoid(inplace=True)

    def forward(self, x):
        return x * self.act(self.fc(F.adaptive_avg_pool2d(x, 1)))


class CSPLayer(nn.Module):
    def __init__(self, cin, cout, blocks, shortcut, expand_ratio, attention, eps):
        super().__init__()
        mid = int(cout * expand_ratio)
        self.main_conv = ConvBNAct(cin, mid, 1, eps=eps)
        self.short_conv = ConvBNAct(cin, mid, 1, eps=eps)
        self.final_conv = ConvBNAct(2 * mid, cout, 1, eps=eps)
        self.blocks = nn.Sequential(*[CSPNeXtBlock(mid, shortcut, eps) for _ in range(blocks)])
        self.attention = ChannelAttention(2 * mid) if attention else None

    def forward(self, x):
        y = torch.cat((self.blocks(self.main_conv(x)), self.short_conv(x)), dim=1)
        if self.attention is not None:
            y = self.attention(y)
        return self.final_conv(y)


class SPPBottleneck(nn.Module):
    def __init__(self, cin, cout, kernels, eps):
        super().__init__()
        mid = cin // 2
        self.conv1 = ConvBNAct(cin, mid, 1, eps=eps)
        self.poolings = nn.ModuleList([nn.MaxPool2d(k, stride=1, padding=k // 2) for k in kernels])
        self.conv2 = ConvBNAct(mid * (len(kernels) + 1), cout, 1, eps=eps)

    def forward(self, x):
        x = self.conv1(x)
        return self.conv2(torch.cat([x] + [pool(x) for pool in self.poolings], dim=1))


class CSPNeXt(nn.Module):
    """The P5 backbone; returns the last stage's feature map only (out_indices=(4,))."""

    def __init__(self, spec):
        super().__init__()
        widen, eps = spec.widen_factor, spec.bn_eps
        stem = int(_P5[0][0] * widen)
        self.stem = nn.Sequential(
            ConvBNAct(3, stem // 2, 3, stride=2, eps=eps),
            ConvBNAct(stem // 2, stem // 2, 3, eps=eps),
            ConvBNAct(stem // 2, stem, 3, eps=eps),
        )
        for i, (cin, cout, blocks, shortcut, spp) in enumerate(_P5):
            cin, cout = int(cin * widen), int(cout * widen)
            blocks = max(round(blocks * spec.deepen_factor), 1)
            layers = [ConvBNAct(cin, cout, 3, stride=2, eps=eps)]
            if spp:
                layers.append(SPPBottleneck(cout, cout, spec.spp_kernel_sizes, eps))
            layers.append(CSPLayer(cout, cout, blocks, shortcut, spec.expand_ratio, spec.channel_attention, eps))
            self.add_module(f"stage{i + 1}", nn.Sequential(*layers))

    def forward(self, x):
        x = self.stem(x)
        return self.stage4(self.stage3(self.stage2(self.stage1(x))))


class ScaleNorm(nn.Module):
    def __init__(self, dim, eps=1e-5):
        super().__init__()
        self.scale = dim**-0.5
        self.eps = eps
        self.g = nn.Parameter(torch.ones(1))

    def forward(self, x):
        norm = torch.norm(x, dim=-1, keepdim=True) * self.scale
        return x / norm.clamp(min=self.eps) * self.g


class Scale(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * self.scale


class GatedAttentionUnit(nn.Module):
    """Self-attention GAU over the keypoint tokens (no relative bias, no rotary encoding)."""

    def __init__(self, dims, s, expansion):
        super().__init__()
        self.e = int(dims * expansion)
        self.s = s
        self.uv = nn.Linear(dims, 2 * self.e + s, bias=False)
        self.o = nn.Linear(self.e, dims, bias=False)
        self.gamma = nn.Parameter(torch.rand((2, s)))
        self.beta = nn.Parameter(torch.rand((2, s)))
        self.ln = ScaleNorm(dims)
        self.res_scale = Scale(dims)
        self.act = nn.SiLU(inplace=True)
        self.sqrt_s = math.sqrt(s)

    def forward(self, x):
        uv = self.act(self.uv(self.ln(x)))
        u, v, base = torch.split(uv, [self.e, self.e, self.s], dim=2)
        base = base.unsqueeze(2) * self.gamma[None, None, :] + self.beta
        q, k = torch.unbind(base, dim=2)
        kernel = torch.square(torch.relu(torch.bmm(q, k.permute(0, 2, 1)) / self.sqrt_s))
        return self.res_scale(x) + self.o(u * torch.bmm(kernel, v))


class RTMCCHead(nn.Module):
    def __init__(self, spec):
        super().__init__()
        k = spec.final_kernel
        flat = spec.featuremap_size[0] * spec.featuremap_size[1]
        self.final_layer = nn.Conv2d(spec.in_channels, spec.num_keypoints, k, padding=k // 2)
        self.mlp = nn.Sequential(ScaleNorm(flat), nn.Linear(flat, spec.gau_hidden, bias=False))
        self.gau = GatedAttentionUnit(spec.gau_hidden, spec.gau_s, spec.gau_expansion)
        self.cls_x = nn.Linear(spec.gau_hidden, int(spec.input_size[0] * spec.simcc_split_ratio), bias=False)
        self.cls_y = nn.Linear(spec.gau_hidden, int(spec.input_size[1] * spec.simcc_split_ratio), bias=False)

    def forward(self, feats):
        tokens = self.gau(self.mlp(torch.flatten(self.final_layer(feats), 2)))
        return self.cls_x(tokens), self.cls_y(tokens)


class RTMPose(nn.Module):
    """image batch (N, 3, H, W), normalised -> SimCC logits (N, K, W*r), (N, K, H*r)."""

    def __init__(self, spec):
        super().__init__()
        self.spec = spec
        self.backbone = CSPNeXt(spec)
        self.head = RTMCCHead(spec)

    def forward(self, x):
        return self.head(self.backbone(x))

    def fuse(self):
        """For inference only: fold every batch norm into its convolution (see ConvBNAct.fuse).

        The state dict then no longer has mmpose's layout; load checkpoints before calling this.
        """
        for module in self.modules():
            if isinstance(module, ConvBNAct):
                module.fuse()
        self.fused = True
        return self
