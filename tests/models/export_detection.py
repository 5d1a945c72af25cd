#!/usr/bin/python3
"""export_detection.py — torchvision's detection models (random weights, nothing downloaded)
exported to ONNX the way users export them, with an input image and PyTorch's outputs, for
run_detection_exports.sh.  Their postprocessing has shapes that depend on the data (NonZero,
TopK of a computed k, NMS, If), so mlufuse runs them in stages (mf_onnx_program).

    /usr/bin/python3 tests/models/export_detection.py OUTDIR [NAME ...]
"""
import os
import sys

import numpy as np
import torch
import torchvision

MODELS = {
    "fasterrcnn_mobilenet_v3_large_320_fpn": (320, 11),
    "ssdlite320_mobilenet_v3_large": (320, 11),
    "retinanet_resnet50_fpn": (256, 11),
}


def main():
    out = sys.argv[1]
    names = sys.argv[2:] or list(MODELS)
    for name in names:
        size, opset = MODELS[name]
        torch.manual_seed(0)
        kw = {"weights": None, "weights_backbone": None}
        if name.startswith("retinanet") or name.startswith("fasterrcnn"):
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
