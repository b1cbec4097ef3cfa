#!/usr/bin/python3
"""Writes torchvision networks with seeded random weights as ONNX, with PyTorch's outputs for a
fixed input, for the importer's tests (nothing is downloaded).

usage: make_onnx_models.py OUT_DIR [NAME ...]     (names: see CASES; default: all)

For each case: OUT_DIR/<name>.onnx, <name>.input.f32 and <name>.output.f32 (raw little-endian
float32, C order), and one line in OUT_DIR/manifest.txt:
    <name> <input shape, comma separated> <output shape, comma separated>
Exits 77 (and says why) when torch or torchvision is missing.
"""
import os
import sys

try:
    import torch
    import torchvision
except ImportError as e:  # the C++ test turns this into a skip
    print(f"SKIP: PyTorch is not available to /usr/bin/python3 ({e}); "
          "install python3-torch and python3-torchvision (scripts/setup-deps)")
    sys.exit(77)

# name: (torchvision constructor, side, input channels, batch, opset). Every net once as the
# 3-channel 224x224 original and once at 512x512 with a 1-channel first conv; the opsets vary so
# the importer sees the forms of several (HardSwish needs 14; Clip/Squeeze/Softmax change at 11/13).
CASES = {
    "densenet121_224_c3": ("densenet121", 224, 3, 2, 13),
    "densenet121_512_c1": ("densenet121", 512, 1, 1, 13),
    "resnet50_224_c3": ("resnet50", 224, 3, 2, 11),
    "resnet50_512_c1": ("resnet50", 512, 1, 1, 13),
    "mobilenet_v3_small_224_c3": ("mobilenet_v3_small", 224, 3, 2, 14),
    "mobilenet_v3_small_512_c1": ("mobilenet_v3_small", 512, 1, 1, 13),
    "efficientnet_b0_224_c3": ("efficientnet_b0", 224, 3, 2, 17),
    "efficientnet_b0_512_c1": ("efficientnet_b0", 512, 1, 1, 13),
}
CLASSES = 14  # e.g. the ChestX-ray14 findings


def first_conv_parent(net, arch):
    """The module holding the first convolution, and its attribute name."""
    if arch == "densenet121":
        return net.features, "conv0"
    if arch == "resnet50":
        return net, "conv1"
    return net.features[0], "0"  # mobilenet_v3, efficientnet: features[0] = Conv2dNormActivation


def build(arch, channels, seed):
    torch.manual_seed(seed)
    net = getattr(torchvision.models, arch)(weights=None, num_classes=CLASSES)
    if channels != 3:
        parent, attr = first_conv_parent(net, arch)
        old = getattr(parent, attr)
        setattr(parent, attr, torch.nn.Conv2d(channels, old.out_channels, old.kernel_size, old.stride,
                                              old.padding, old.dilation, old.groups, old.bias is not None))
    # Batch-norm statistics and affine parameters that are not the identity, so they are checked.
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                c = m.num_features
                m.running_mean.copy_(torch.rand(c, generator=g) * 0.2 - 0.1)
                m.running_var.copy_(torch.rand(c, generator=g) + 0.5)
                m.weight.copy_(torch.rand(c, generator=g) + 0.5)
                m.bias.copy_(torch.rand(c, generator=g) * 0.2 - 0.1)
    return net.eval()


def main():
    out = sys.argv[1]
    names = sys.argv[2:] or list(CASES)
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(2)
    lines = []
    for i, name in enumerate(names):
        arch, side, channels, batch, opset = CASES[name]
        net = build(arch, channels, 1000 + i)
        x = torch.rand(batch, channels, side, side, generator=torch.Generator().manual_seed(7 + i))
        with torch.no_grad():
            y = net(x)
        path = os.path.join(out, name + ".onnx")
        torch.onnx.export(net, x, path, opset_version=opset, input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}}, do_constant_folding=True)
        x.numpy().astype("<f4").tofile(os.path.join(out, name + ".input.f32"))
        y.numpy().astype("<f4").tofile(os.path.join(out, name + ".output.f32"))
        shape = lambda t: ",".join(str(d) for d in t.shape)
        lines.append(f"{name} {shape(x)} {shape(y)}\n")
        print(f"{name}: {arch} {side}x{side}, {channels} channel(s), opset {opset}", flush=True)
    with open(os.path.join(out, "manifest.txt"), "w") as f:
        f.writelines(lines)


if __name__ == "__main__":
    main()
