#!/usr/bin/python3
"""compare_detections.py — compares a detection model's outputs (mlufuse run -o GOT: output0.npy,
...) with PyTorch's (WANT: output_0.npy, ...), allowing for ties, for run_detection_exports.sh.

With random weights many detections score within float rounding of each other (Mask R-CNN:
pairs 2e-6 apart), and the order of such a pair, or which of the two makes the top 100,
follows the last bit of a ResNet-50's sums: onnxruntime swaps other pairs than mlufuse does.
So detections are matched as a set: each got row pairs with an unused wanted row whose score
is within 1e-3 of its own (of the largest score), and the boxes, labels and scores of a pair
must match (1e-3 of the largest |want|; integers exactly).  A detection without a partner
must be a near-tie at the cut (its score within 1e-3 of the lowest kept score).  The other
per-detection outputs (masks, keypoints and their scores) come from heads that amplify the
same rounding and from argmaxes over heatmaps with near-equal peaks: at least 99 % of their
elements must match.  Exits 1 on a mismatch.

    /usr/bin/python3 tests/models/compare_detections.py GOT_DIR WANT_DIR
"""
import os
import sys

import numpy as np

STRICT = 3      # boxes, labels, scores: the first outputs of torchvision's detectors
LOOSE_SHARE = 0.99


def load(d, pattern):
    out, k = [], 0
    while os.path.exists(os.path.join(d, pattern % k)):
        out.append(np.load(os.path.join(d, pattern % k)))
        k += 1
    return out


def tolerance(want):
    return 0 if want.dtype.kind in "iub" else 1e-3 * max(float(np.abs(want).max(initial=0)), 1e-6)


def rows_match(got, want, i, j):
    return all(float(np.abs(got[k][i].astype(np.float64) - want[k][j]).max(initial=0)) <= tolerance(want[k])
               for k in range(STRICT))


def pair(got, want):
    """Pairs got rows with wanted rows among near-equal scores; returns (pairs, unpaired got)."""
    gs, ws = got[2].astype(np.float64), want[2].astype(np.float64)
    window = 1e-3 * max(float(np.abs(ws).max(initial=0)), 1e-6)
    used, pairs, lost = set(), [], []
    for i in range(len(gs)):
        cands = [j for j in np.nonzero(np.abs(ws - gs[i]) <= window)[0] if j not in used and rows_match(got, want, i, j)]
        if cands:
            j = min(cands, key=lambda j: abs(int(j) - i))
            used.add(j)
            pairs.append((i, j))
        else:
            lost.append(i)
    return pairs, lost, window


def main():
    got, want = load(sys.argv[1], "output%d.npy"), load(sys.argv[2], "output_%d.npy")
    if len(got) != len(want) or len(want) < STRICT:
        print(f"mismatch: {len(got)} outputs, want {len(want)}")
        return 1
    for k, (g, w) in enumerate(zip(got, want)):
        if g.shape != w.shape or g.dtype != w.dtype:
            print(f"mismatch: output {k} is {g.dtype}{list(g.shape)}, want {w.dtype}{list(w.shape)}")
            return 1
    pairs, lost, window = pair(got, want)
    lowest = float(want[2].min()) if want[2].size else 0.0
    cut_ties = [i for i in lost if abs(float(got[2][i]) - lowest) <= window]
    status = 0
    if len(cut_ties) != len(lost):
        print(f"mismatch: detections {[i for i in lost if i not in cut_ties]} have no partner")
        status = 1
    swaps = sum(i != j for i, j in pairs)
    line = f"{len(pairs)} of {len(got[2])} detections match ({swaps} in another order among near-equal scores"
    line += f", {len(cut_ties)} swapped at the cut)" if cut_ties else ")"
    gi = [i for i, _ in pairs]
    wi = [j for _, j in pairs]
    for k in range(STRICT, len(got)):
        g, w = got[k][gi].astype(np.float64), want[k][wi].astype(np.float64)
        ok = float(np.mean(np.abs(g - w) <= tolerance(want[k]))) if g.size else 1.0
        line += f"; output {k}: {100 * ok:.2f} % of elements match"
        if ok < LOOSE_SHARE:
            status = 1
    print(("matches: " if status == 0 else "MISMATCH: ") + line)
    return status


if __name__ == "__main__":
    sys.exit(main())
