#!/usr/bin/python3
"""export_detection.py — torchvision's detection models (random weights, nothing downloaded)
exported to ONNX the way users export them, with an input image and PyTorch's outputs, for
run_detection_exports.sh.  Their postprocessing has shapes that depend on the data (NonZero,
TopK of a computed k, NMS, If), so mlufuse runs them in stages (mf_onnx_program).

    /usr/bin/python3 tests/models/export_detection.py OUTDIR [NAME ...]
"""
import os
import re
import sys

import numpy as np
import torch
import torchvision

MODELS = {
    "fasterrcnn_mobilenet_v3_large_320_fpn": (320, 11),
    "ssdlite320_mobilenet_v3_large": (320, 11),
    "retinanet_resnet50_fpn": (256, 11),
    "ssd300_vgg16": (300, 11),
    "fcos_resnet50_fpn": (256, 11),
    "maskrcnn_resnet50_fpn": (256, 11),
    "keypointrcnn_resnet50_fpn": (256, 11),
}

# The heads' last layers: random weights through a deep backbone give logits in the
# hundreds, so every sigmoid score is 1.0 (ties: the boxes kept are arbitrary) and every box
# delta clips.  These are rescaled to a spread (std) of SPREAD[kind] on the image.
HEADS = [(r"\.cls_logits$", "cls"), (r"\.bbox_ctrness$", "cls"), (r"\.bbox_reg$", "reg"),
         (r"\.cls_score$", "cls"), (r"\.bbox_pred$", "reg"),
         (r"classification_head\.module_list\.\d+$", "cls"),
         (r"regression_head\.module_list\.\d+$", "reg")]
SPREAD = {"cls": 1.5, "reg": 0.3}
# SSDlite's random BatchNorm statistics let its ReLU6 saturate: many anchors get the same
# features, and scores that tie (to 1e-6, below float32's rounding) make the boxes kept
# arbitrary.  Its BatchNorms take the image's statistics instead.
# The same holds for the ResNet-50 backbones of Mask and Keypoint R-CNN, whose proposals
# otherwise all clip to empty boxes.
BN_FROM_IMAGE = ("ssdlite320_mobilenet_v3_large", "maskrcnn_resnet50_fpn", "keypointrcnn_resnet50_fpn")


def bn_from_image(model, img):
    def take_stats(mod, inp):
        x = inp[0]
        if x.numel() > x.shape[1]:  # more than one value per channel
            mod.running_mean.copy_(x.mean((0, 2, 3)))
            mod.running_var.copy_(x.var((0, 2, 3), unbiased=False))
    handles = [m.register_forward_pre_hook(take_stats) for m in model.modules()
               if isinstance(m, torch.nn.BatchNorm2d)]
    images, _ = model.transform([img])
    with torch.no_grad():
        model.backbone(images.tensors)
    for h in handles:
        h.remove()


def calibrate(model, img):
    convs = {}
    for name, mod in model.named_modules():
        for pattern, kind in HEADS:
            if re.search(pattern, name):
                last = [m for m in mod.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))][-1]
                convs[name] = (last, SPREAD[kind])
    if not convs:
        return
    spread = {}

    def hook(name):
        def f(mod, inp, out):
            y = out - (mod.bias.view((1, -1) + (1,) * (out.dim() - 2)) if mod.bias is not None else 0)
            spread[name] = max(spread.get(name, 0.0), float(y.std()))
        return f
    handles = [m.register_forward_hook(hook(n)) for n, (m, _) in convs.items()]
    with torch.no_grad():
        model([img])
    for h in handles:
        h.remove()
    with torch.no_grad():
        for name, (mod, target) in convs.items():
            if spread.get(name, 0.0) > 0:
                mod.weight.mul_(target / spread[name])


def main():
    out = sys.argv[1]
    names = sys.argv[2:] or list(MODELS)
    for name in names:
        size, opset = MODELS[name]
        torch.manual_seed(0)
        kw = {"weights": None, "weights_backbone": None}
        if name.split("_")[0] in ("retinanet", "fasterrcnn", "fcos", "maskrcnn",
                                  "keypointrcnn"):
            kw["min_size"], kw["max_size"] = size, size
        model = getattr(torchvision.models.detection, name)(**kw).eval()
        # Fresh heads score every box the same (zero-initialized predictors), and ties make
        # the top boxes arbitrary: perturb every weight so that scores differ.
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p) * 0.05)
        # Random weights score low: lower the threshold so boxes survive.
        for attr in ("score_thresh",):
            for obj in (getattr(model, "roi_heads", None), model):
                if obj is not None and hasattr(obj, attr):
                    setattr(obj, attr, 0.01)
        img = torch.rand(3, size, size)
        if not name.startswith("fasterrcnn"):
            if name in BN_FROM_IMAGE:
                bn_from_image(model, img)
            calibrate(model, img)
        with torch.no_grad():
            ref = model([img])[0]
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        keys = list(ref)  # the dict's order is the outputs' order (it differs per model)
        torch.onnx.export(model, ([img],), os.path.join(d, "model.onnx"), opset_version=opset,
                          input_names=["image"], output_names=keys)
        np.save(os.path.join(d, "input_0.npy"), img.numpy())
        for k, key in enumerate(keys):
            np.save(os.path.join(d, f"output_{k}.npy"), ref[key].numpy())
        print(f"{name}: {tuple(ref['boxes'].shape[:1])} detections")


if __name__ == "__main__":
    main()
