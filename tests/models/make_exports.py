#!/usr/bin/python3
"""make_exports.py — small transformer and detection models exported from PyTorch to ONNX
the way users export them (torch.onnx.export at opsets 11 to 17, with and without dynamic
axes), with random weights and a golden output from PyTorch.  Writes
tests/models/exports/NAME/{model.onnx, input_K.npy, output_K.npy}; test_onnx_exports runs
every folder fused and layer by layer.  Needs Debian's python3-torch, python3-torchvision
and python3-onnx (torch 1.13); nothing is downloaded.

    /usr/bin/python3 tests/models/make_exports.py [OUTDIR [ssd]]
"""
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "exports")


# --- transformers -------------------------------------------------------------------------

class BertLayer(nn.Module):
    """A hand-written BERT layer: the MatMul/Transpose/Softmax graph exporters emit."""

    def __init__(self, d, heads, ff, gelu_tanh):
        super().__init__()
        self.h, self.dh = heads, d // heads
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.ff1, self.ff2 = nn.Linear(d, ff), nn.Linear(ff, d)
        self.act = nn.GELU(approximate="tanh" if gelu_tanh else "none")

    def split(self, x):
        b, t, _ = x.shape
        return x.view(b, t, self.h, self.dh).transpose(1, 2)

    def forward(self, x, bias):
        q, k, v = self.split(self.q(x)), self.split(self.k(x)), self.split(self.v(x))
        att = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.dh) + bias
        ctx = torch.matmul(att.softmax(-1), v).transpose(1, 2)
        ctx = ctx.reshape(x.shape[0], x.shape[1], -1)
        x = self.ln1(x + self.o(ctx))
        return self.ln2(x + self.ff2(self.act(self.ff1(x))))


class Bert(nn.Module):
    def __init__(self, vocab=50, d=32, heads=4, ff=64, layers=2, maxlen=16, gelu_tanh=False,
                 where_mask=False):
        super().__init__()
        self.tok, self.pos, self.typ = nn.Embedding(vocab, d), nn.Embedding(maxlen, d), nn.Embedding(2, d)
        self.ln = nn.LayerNorm(d)
        self.layers = nn.ModuleList(BertLayer(d, heads, ff, gelu_tanh) for _ in range(layers))
        self.pool = nn.Linear(d, d)
        self.where_mask = where_mask

    def forward(self, ids, mask):
        pos = torch.arange(ids.shape[1], device=ids.device).unsqueeze(0).expand_as(ids)
        x = self.ln(self.tok(ids) + self.pos(pos) + self.typ(torch.zeros_like(ids)))
        if self.where_mask:
            bias = torch.where(mask[:, None, None, :] == 0, torch.tensor(-1e4), torch.tensor(0.0))
        else:
            bias = (1.0 - mask[:, None, None, :].to(torch.float32)) * -10000.0
        for layer in self.layers:
            x = layer(x, bias)
        return x, torch.tanh(self.pool(x[:, 0]))


class TorchEncoder(nn.Module):
    """nn.TransformerEncoder with a key padding mask, as nn.MultiheadAttention exports it."""

    def __init__(self, d=32, heads=4, ff=64, layers=2, activation="relu"):
        super().__init__()
        layer = nn.TransformerEncoderLayer(d, heads, ff, dropout=0.0, batch_first=True,
                                           activation=activation)
        self.enc = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)

    def forward(self, x, pad):
        return self.enc(x, src_key_padding_mask=pad)


class Mha(nn.Module):
    def __init__(self, d=32, heads=4):
        super().__init__()
        self.mha = nn.MultiheadAttention(d, heads, kdim=24, vdim=20)

    def forward(self, q, k, v):
        out, w = self.mha(q, k, v)
        return out, w


class GptBlock(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.h = heads
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.fc, self.out = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def forward(self, x, causal):
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=2)
        q, k, v = (y.view(b, t, self.h, d // self.h).transpose(1, 2) for y in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(d // self.h))
        att = att.masked_fill(causal[:, :, :t, :t] == 0, float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).contiguous().view(b, t, d)
        x = x + self.proj(y)
        return x + self.out(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class Gpt(nn.Module):
    """A GPT-2-style decoder; the causal mask by tril (Trilu) or by comparing two ranges."""

    def __init__(self, vocab=60, d=32, heads=4, layers=2, tril=True):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(vocab, d), nn.Embedding(32, d)
        self.blocks = nn.ModuleList(GptBlock(d, heads) for _ in range(layers))
        self.lnf, self.head = nn.LayerNorm(d), nn.Linear(d, vocab, bias=False)
        self.tril = tril

    def forward(self, ids):
        t = ids.shape[1]
        if self.tril:
            causal = torch.tril(torch.ones(t, t, dtype=torch.float32))
        else:
            r = torch.arange(t)
            causal = (r[None, :] <= r[:, None]).to(torch.float32)
        causal = causal.view(1, 1, t, t)
        pos = torch.arange(0, t, dtype=torch.long).unsqueeze(0)
        x = self.wte(ids) + self.wpe(pos)
        for blk in self.blocks:
            x = blk(x, causal)
        logits = self.head(self.lnf(x))
        # a last-token decode step: the logits of the last position, and its top 5
        last = logits[:, -1, :]
        top, idx = last.topk(5, dim=-1)
        return logits, top, idx


class Gpt2Attention(nn.Module):
    """Hugging Face GPT-2's block: Conv1D as addmm (Gemm), a bool causal buffer sliced by
    the key length and applied by Where with float32's lowest value, gelu_new by Pow."""

    def __init__(self, d=32, heads=4, ctx=16):
        super().__init__()
        self.h, self.d = heads, d
        self.c_attn_w, self.c_attn_b = nn.Parameter(torch.randn(d, 3 * d) * 0.1), nn.Parameter(torch.zeros(3 * d))
        self.c_proj = nn.Linear(d, d)
        self.ln = nn.LayerNorm(d)
        self.fc, self.out = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)
        self.register_buffer("bias", torch.tril(torch.ones(ctx, ctx, dtype=torch.bool)).view(1, 1, ctx, ctx))

    def forward(self, x):
        size_out = x.size()[:-1] + (3 * self.d,)
        qkv = torch.addmm(self.c_attn_b, self.ln(x).view(-1, x.size(-1)), self.c_attn_w).view(size_out)
        q, k, v = qkv.split(self.d, dim=2)
        shape = lambda t: t.view(t.size()[:-1] + (self.h, self.d // self.h)).permute(0, 2, 1, 3)
        q, k, v = shape(q), shape(k), shape(v)
        w = torch.matmul(q, k.transpose(-1, -2)) / torch.tensor(v.size(-1) ** 0.5, dtype=w_dtype())
        ql, kl = q.size(-2), k.size(-2)
        causal = self.bias[:, :, kl - ql: kl, :kl]
        w = torch.where(causal, w, torch.tensor(torch.finfo(w.dtype).min, dtype=w.dtype)).softmax(-1)
        a = torch.matmul(w, v).permute(0, 2, 1, 3).contiguous()
        x = x + self.c_proj(a.view(a.size()[:-2] + (self.d,)))
        h = self.fc(x)
        h = 0.5 * h * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (h + 0.044715 * torch.pow(h, 3.0))))
        return x + self.out(h)


def w_dtype():
    return torch.float32


class Seq2SeqDecoder(nn.Module):
    """nn.TransformerDecoder over an encoder memory, the target mask built in forward from
    generate_square_subsequent_mask (triu of -inf: Trilu)."""

    def __init__(self, d=32, heads=4, layers=2):
        super().__init__()
        layer = nn.TransformerDecoderLayer(d, heads, 64, dropout=0.0)
        self.dec = nn.TransformerDecoder(layer, layers)

    def forward(self, tgt, memory):
        mask = nn.Transformer.generate_square_subsequent_mask(tgt.shape[0])
        return self.dec(tgt, memory, tgt_mask=mask)


class Vit(nn.Module):
    def __init__(self, img=32, patch=8, d=32, heads=4, layers=2, classes=10):
        super().__init__()
        self.patch = nn.Conv2d(3, d, patch, patch)
        n = (img // patch) ** 2
        self.cls = nn.Parameter(torch.randn(1, 1, d))
        self.pos = nn.Parameter(torch.randn(1, n + 1, d) * 0.1)
        layer = nn.TransformerEncoderLayer(d, heads, 2 * d, dropout=0.0, batch_first=True,
                                           activation="gelu", norm_first=True)
        self.enc = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.ln, self.head = nn.LayerNorm(d), nn.Linear(d, classes)

    def forward(self, img):
        x = self.patch(img).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.pos
        x = self.enc(x)
        return self.head(self.ln(x[:, 0]))


# --- detection ----------------------------------------------------------------------------

class Nms(nn.Module):
    def forward(self, boxes, scores):
        keep = torchvision.ops.nms(boxes, scores, 0.5)
        return keep, boxes[keep], scores[keep]


class BatchedNms(nn.Module):
    def forward(self, boxes, scores, classes):
        keep = torchvision.ops.batched_nms(boxes, scores, classes, 0.4)
        return keep[:10]


class RoiAlign(nn.Module):
    def __init__(self, aligned):
        super().__init__()
        self.conv = nn.Conv2d(4, 8, 3, padding=1)
        self.aligned = aligned

    def forward(self, feat, rois):
        return torchvision.ops.roi_align(self.conv(feat), rois, (3, 4), spatial_scale=0.5,
                                         sampling_ratio=2, aligned=self.aligned)


class Interp(nn.Module):
    def forward(self, x):
        a = F.interpolate(x, scale_factor=2.0, mode="nearest")
        b = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
        c = F.interpolate(x, size=(5, 7), mode="bilinear", align_corners=True)
        d = F.interpolate(x, size=(12, 9), mode="nearest")
        return a + b, c, d


class YoloHead(nn.Module):
    """A YOLO-style head with its post-processing: box decoding (Sigmoid, Exp, Split, Concat),
    class scores by Max/ArgMax, and the top candidates by TopK and Gather."""

    def __init__(self, classes=3, anchors=((10, 14), (23, 27), (37, 58))):
        super().__init__()
        self.na, self.nc = len(anchors), classes
        self.body = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1), nn.LeakyReLU(0.1),
                                  nn.Conv2d(16, 16, 3, 2, 1), nn.LeakyReLU(0.1))
        self.det = nn.Conv2d(16, self.na * (5 + classes), 1)
        self.register_buffer("anchors", torch.tensor(anchors, dtype=torch.float32).view(1, -1, 1, 1, 2))

    def forward(self, img):
        p = self.det(self.body(img))
        b, _, h, w = p.shape
        p = p.view(b, self.na, 5 + self.nc, h, w).permute(0, 1, 3, 4, 2)
        gy, gx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
        grid = torch.stack((gx, gy), 2).view(1, 1, h, w, 2).float()
        xy, wh, obj, cls = p.split((2, 2, 1, self.nc), dim=-1)
        xy = (xy.sigmoid() + grid) * 4.0
        wh = wh.exp() * self.anchors
        boxes = torch.cat((xy - wh / 2, xy + wh / 2), -1).reshape(b, -1, 4)
        score = (obj.sigmoid() * cls.sigmoid()).reshape(b, -1, self.nc)
        best, label = score.max(-1)
        top, idx = best.topk(20, dim=1)
        sel = torch.gather(boxes, 1, idx.unsqueeze(-1).expand(-1, -1, 4))
        return sel, top, torch.gather(label, 1, idx)


class SsdPost(nn.Module):
    """An SSD-style head: anchors decoded, scores thresholded (NonZero), and NMS."""

    def __init__(self, classes=3):
        super().__init__()
        self.nc = classes
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), nn.ReLU(), nn.Conv2d(8, 8, 3, 2, 1), nn.ReLU())
        self.loc, self.conf = nn.Conv2d(8, 2 * 4, 3, padding=1), nn.Conv2d(8, 2 * classes, 3, padding=1)
        ys, xs = torch.meshgrid(torch.arange(8.0), torch.arange(8.0), indexing="ij")
        c = torch.stack([xs + 0.5, ys + 0.5], -1).view(-1, 1, 2).expand(-1, 2, 2).reshape(-1, 2) / 8
        s = torch.tensor([[0.2, 0.2], [0.3, 0.15]]).repeat(64, 1)
        self.register_buffer("anchors", torch.cat([c, s], 1))

    def forward(self, img):
        f = self.body(img)
        loc = self.loc(f).permute(0, 2, 3, 1).reshape(-1, 4)
        conf = self.conf(f).permute(0, 2, 3, 1).reshape(-1, self.nc).softmax(-1)
        cxcy = self.anchors[:, :2] + loc[:, :2] * 0.1 * self.anchors[:, 2:]
        wh = self.anchors[:, 2:] * torch.exp(loc[:, 2:] * 0.2)
        boxes = torch.cat([cxcy - wh / 2, cxcy + wh / 2], 1)
        scores, labels = conf[:, 1:].max(1)
        keep = torch.nonzero(scores > 0.3).squeeze(1)
        boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
        keep = torchvision.ops.batched_nms(boxes, scores, labels, 0.45)
        return boxes[keep], scores[keep], labels[keep]


# --- export -------------------------------------------------------------------------------

def export(name, model, inputs, opset, dynamic=None, input_names=None, output_names=None):
    model.eval()
    torch.manual_seed(0)
    with torch.no_grad():
        outs = model(*inputs)
    outs = outs if isinstance(outs, (tuple, list)) else (outs,)
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    input_names = input_names or [f"in{i}" for i in range(len(inputs))]
    output_names = output_names or [f"out{i}" for i in range(len(outs))]
    torch.onnx.export(model, tuple(inputs), os.path.join(d, "model.onnx"), opset_version=opset,
                      input_names=input_names, output_names=output_names,
                      dynamic_axes=dynamic or {}, do_constant_folding=True)
    for i, x in enumerate(inputs):
        np.save(os.path.join(d, f"input_{i}.npy"), x.numpy())
    for i, y in enumerate(outs):
        np.save(os.path.join(d, f"output_{i}.npy"), y.numpy())
    size = os.path.getsize(os.path.join(d, "model.onnx"))
    print(f"{name}: opset {opset}, {size // 1024} KiB, outputs {[tuple(y.shape) for y in outs]}")


def main():
    torch.manual_seed(0)
    ids = torch.randint(0, 50, (2, 8))
    mask = torch.ones(2, 8, dtype=torch.int64)
    mask[1, 5:] = 0
    bert_dyn = {"in0": {0: "batch", 1: "seq"}, "in1": {0: "batch", 1: "seq"}}
    for opset, tanh, where, dyn in ((11, False, False, False), (13, True, True, False),
                                    (14, False, False, True), (17, True, False, True)):
        torch.manual_seed(opset)
        name = f"bert_op{opset}" + ("_dyn" if dyn else "")
        export(name, Bert(gelu_tanh=tanh, where_mask=where), [ids, mask], opset,
               bert_dyn if dyn else None)

    x = torch.randn(2, 7, 32)
    pad = torch.zeros(2, 7, dtype=torch.bool)
    pad[0, 5:] = True
    for opset, act, dyn in ((12, "relu", False), (14, "gelu", True), (17, "gelu", False)):
        torch.manual_seed(opset)
        export(f"encoder_op{opset}" + ("_dyn" if dyn else ""), TorchEncoder(activation=act), [x, pad], opset,
               {"in0": {0: "batch", 1: "seq"}, "in1": {0: "batch", 1: "seq"}} if dyn else None)
    torch.manual_seed(1)
    export("mha_op13", Mha(), [torch.randn(5, 2, 32), torch.randn(6, 2, 24), torch.randn(6, 2, 20)], 13)

    gids = torch.randint(0, 60, (2, 9))
    for opset, tril, dyn in ((11, False, False), (14, True, False), (16, True, True), (13, False, True)):
        torch.manual_seed(opset)
        export(f"gpt_op{opset}_{'tril' if tril else 'range'}" + ("_dyn" if dyn else ""), Gpt(tril=tril), [gids], opset,
               {"in0": {0: "batch", 1: "seq"}} if dyn else None)

    for opset, dyn in ((13, False), (15, True)):
        torch.manual_seed(opset)
        export(f"gpt2_hf_op{opset}" + ("_dyn" if dyn else ""), Gpt2Attention(), [torch.randn(2, 7, 32)], opset,
               {"in0": {0: "batch", 1: "seq"}} if dyn else None)
    torch.manual_seed(5)
    export("decoder_op14", Seq2SeqDecoder(), [torch.randn(6, 2, 32), torch.randn(9, 2, 32)], 14)

    img = torch.randn(2, 3, 32, 32)
    for opset, dyn in ((11, False), (15, True)):
        torch.manual_seed(opset)
        export(f"vit_op{opset}" + ("_dyn" if dyn else ""), Vit(), [img], opset,
               {"in0": {0: "batch"}} if dyn else None)

    torch.manual_seed(2)
    xy = torch.rand(40, 2) * 50
    boxes = torch.cat([xy, xy + 5 + torch.rand(40, 2) * 20], 1)
    scores = torch.rand(40)
    for opset in (11, 16):
        export(f"nms_op{opset}", Nms(), [boxes, scores], opset)
    export("batched_nms_op13", BatchedNms(), [boxes, scores, torch.randint(0, 3, (40,))], 13)
    feat = torch.randn(2, 4, 12, 10)
    rois = torch.tensor([[0, 1.0, 2.0, 11.0, 15.0], [1, 0.0, 0.0, 19.0, 23.0], [0, 4.5, 3.25, 9.0, 8.0]])
    export("roi_align_op11", RoiAlign(False), [feat, rois], 11)
    export("roi_align_op16_aligned", RoiAlign(True), [feat, rois], 16)
    small = torch.randn(1, 3, 6, 4)
    for opset in (11, 13):
        export(f"interpolate_op{opset}", Interp(), [small], opset)
    yimg = torch.randn(1, 3, 32, 32)
    for opset, dyn in ((11, False), (13, True)):
        torch.manual_seed(3)
        export(f"yolo_head_op{opset}" + ("_dyn" if dyn else ""), YoloHead(), [yimg], opset,
               {"in0": {0: "batch"}} if dyn else None)
    # SsdPost thresholds its scores (NonZero) and runs NMS on computed boxes: a number of
    # boxes only the run knows, which static shapes cannot import yet (docs/onnx.md).
    # Exported on request: make_exports.py OUTDIR ssd.
    if "ssd" in sys.argv[2:]:
        for opset in (11, 17):
            torch.manual_seed(4)
            export(f"ssd_post_op{opset}", SsdPost(), [torch.randn(1, 3, 32, 32)], opset)


if __name__ == "__main__":
    main()
