#!/usr/bin/python3
"""make_helper_models.py — small models of ops PyTorch does not export (Scan,
TfIdfVectorizer, MelWeightMatrix) built with onnx.helper, their outputs computed with numpy, into
tests/models/exports (test_onnx_exports runs them layer by layer and fused), and the Scans
the importer refuses into tests/frontends/onnx/bad (test_onnx_import).
Needs Debian's python3-onnx only.

    /usr/bin/python3 tests/models/make_helper_models.py
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "exports")
BAD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "frontends", "onnx", "bad")
F = TensorProto.FLOAT


def vi(name, shape):
    return helper.make_tensor_value_info(name, F, shape)


def save(name, model, inputs, outputs):
    onnx.checker.check_model(model)
    d = os.path.join(HERE, name)
    os.makedirs(d, exist_ok=True)
    onnx.save(model, os.path.join(d, "model.onnx"))
    for k, a in enumerate(inputs):
        np.save(os.path.join(d, f"input_{k}.npy"), a)
    for k, a in enumerate(outputs):
        np.save(os.path.join(d, f"output_{k}.npy"), a.astype(np.float32))


def scan_axes_op11():
    """Two states, two scan inputs along axes 1 and 0 (the second read last element first), a
    body that reads a value of the outer graph, and scan outputs stacked along the last axis
    and, in reverse, along axis 0."""
    body = helper.make_graph([
        helper.make_node("Unsqueeze", ["y_t"], ["y_col"], axes=[1]),
        helper.make_node("Mul", ["x_t", "y_col"], ["xy"]),
        helper.make_node("Mul", ["s_in", "decay"], ["s_decayed"]),
        helper.make_node("Add", ["s_decayed", "xy"], ["s_out"]),
        helper.make_node("Add", ["c_in", "one"], ["c_out"]),
        helper.make_node("ReduceSum", ["s_out"], ["row_sum"], axes=[1], keepdims=0),
        helper.make_node("Add", ["row_sum", "c_out"], ["o2"]),
        helper.make_node("Identity", ["s_out"], ["o1"]),
    ], "body", [vi("s_in", [3, 4]), vi("c_in", [1]), vi("x_t", [3, 4]), vi("y_t", [3])],
        [vi("s_out", [3, 4]), vi("c_out", [1]), vi("o1", [3, 4]), vi("o2", [3])],
        [numpy_helper.from_array(np.ones(1, np.float32), "one")])
    decay = numpy_helper.from_array(np.array(0.5, np.float32), "decay")
    c0 = numpy_helper.from_array(np.zeros(1, np.float32), "c0")
    scan = helper.make_node("Scan", ["s0", "c0", "x", "y"], ["s_final", "c_final", "o1_all", "o2_all"], body=body,
                            num_scan_inputs=2, scan_input_axes=[1, 0], scan_input_directions=[0, 1],
                            scan_output_axes=[-1, 0], scan_output_directions=[0, 1])
    g = helper.make_graph([scan], "scan_axes", [vi("s0", [3, 4]), vi("x", [3, 5, 4]), vi("y", [5, 3])],
                          [vi("s_final", [3, 4]), vi("c_final", [1]), vi("o1_all", [3, 4, 5]), vi("o2_all", [5, 3])],
                          [decay, c0])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 11)])
    rng = np.random.default_rng(3)
    s0, x, y = (rng.standard_normal(shape).astype(np.float32) for shape in ((3, 4), (3, 5, 4), (5, 3)))
    s, c, o1, o2 = s0.copy(), np.zeros(1, np.float32), [], []
    for t in range(5):
        s = s * 0.5 + x[:, t, :] * y[4 - t][:, None]
        c = c + 1
        o1.append(s)
        o2.append(s.sum(1) + c)
    save("scan_axes_op11", model, [s0, x, y], [s, c, np.stack(o1, -1), np.stack(o2[::-1], 0)])


def scan_op8(batch=1, lens=False):
    """Opset 8's Scan: a batch dim on every input and output, the sequence on dim 1, read in
    reverse (directions); with lens, the optional sequence_lens input."""
    body = helper.make_graph([
        helper.make_node("Add", ["sum_in", "next"], ["sum_out"]),
        helper.make_node("Mul", ["sum_out", "next"], ["scan_out"]),
    ], "body", [vi("sum_in", [2]), vi("next", [2])], [vi("sum_out", [2]), vi("scan_out", [2])])
    scan = helper.make_node("Scan", ["lens" if lens else "", "initial", "x"], ["y", "z"], body=body,
                            num_scan_inputs=1, directions=[1], name="scan0")
    inputs = [vi("initial", [batch, 2]), vi("x", [batch, 3, 2])]
    if lens:
        inputs.insert(0, helper.make_tensor_value_info("lens", TensorProto.INT32, [batch]))
    g = helper.make_graph([scan], "scan_batch", inputs, [vi("y", [batch, 2]), vi("z", [batch, 3, 2])])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 8)])


def scan_batch_op8():
    model = scan_op8()
    initial = np.array([[1.0, -2.0]], np.float32)
    x = np.arange(1, 7, dtype=np.float32).reshape(1, 3, 2)
    s, z = initial[0].copy(), []
    for t in (2, 1, 0):
        s = s + x[0, t]
        z.append(s * x[0, t])
    save("scan_batch_op8", model, [initial, x], [s[None], np.stack(z)[None]])


def tfidf_counts(x, pool, counts, min_n, max_n, max_skip):
    """Occurrences of each pool n-gram in the row x, in pool order (ONNX's TfIdfVectorizer)."""
    grams, out = [], []
    for n in range(1, len(counts) + 1):
        end = counts[n] if n < len(counts) else len(pool)
        grams += [(n, tuple(pool[i:i + n])) for i in range(counts[n - 1], end, n)]
    for n, g in grams:
        c = 0
        if min_n <= n <= max_n:
            for skip in range(max_skip + 1 if n > 1 else 1):
                step = skip + 1
                c += sum(tuple(x[i:i + (n - 1) * step + 1:step]) == g for i in range(len(x) - (n - 1) * step))
        out.append(c)
    return np.array(out, np.float32)


def tfidf(mode):
    """TfIdfVectorizer on int32 tokens [2, 9]: uni-, bi- and trigrams with skips of up to 1,
    ngram_indexes in another order than the pool's, weights (IDF and TFIDF)."""
    pool = [4, 7, 2, 9, 4, 7, 7, 2, 2, 9, 4, 7, 2]
    counts = [0, 4, 10]  # unigrams 4 7 2 9; bigrams (4,7) (7,2) (2,9); trigram (4,7,2)
    indexes = [6, 0, 5, 1, 4, 2, 3, 7]
    weights = [0.5, 1.5, 2.0, 0.25, 3.0, 1.0, 0.75, 2.5]
    node = helper.make_node("TfIdfVectorizer", ["x"], ["y"], mode=mode, min_gram_length=1, max_gram_length=3,
                            max_skip_count=1, pool_int64s=pool, ngram_counts=counts, ngram_indexes=indexes,
                            weights=weights)
    g = helper.make_graph([node], "tfidf", [helper.make_tensor_value_info("x", TensorProto.INT32, [2, 9])],
                          [vi("y", [2, 8])])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 9)])
    x = np.array([[4, 7, 2, 9, 4, 2, 7, 2, 2], [7, 7, 4, 1, 7, 2, 9, 9, 4]], np.int32)
    y = np.zeros((2, 8), np.float32)
    for b in range(2):
        c = tfidf_counts(x[b].tolist(), pool, counts, 1, 3, 1)
        c = np.minimum(c, 1) if mode == "IDF" else c
        y[b, indexes] = c * np.array(weights, np.float32)
    save(f"tfidf_{mode.lower()}_op9", model, [x], [y])


def mel_weights(mels, dft, rate, low_hz, high_hz):
    """ONNX's reference MelWeightMatrix (its step divides the mel range by mels + 2)."""
    low, high = 2595 * np.log10(1 + low_hz / 700), 2595 * np.log10(1 + high_hz / 700)
    points = np.arange(mels + 2) * ((high - low) / (mels + 2)) + low
    points = (((dft + 1) * (700 * (10 ** (points / 2595) - 1))) // rate).astype(int)
    w = np.zeros((dft // 2 + 1, mels))
    for i in range(mels):
        left, center, right = points[i:i + 3]
        if center == left:
            w[center, i] = 1
        for j in range(left, center + 1):
            if center > left:
                w[j, i] = (j - left) / (center - left)
        for j in range(center, right):
            w[j, i] = (right - j) / (right - center)
    return w


def mel_spectrogram_op17():
    """A power spectrum [2, 33] times MelWeightMatrix(10 mel bins, a DFT of 64, 16 kHz, 20 Hz
    to 7.6 kHz), its scalar inputs constants, as audio front ends use it."""
    consts = [numpy_helper.from_array(a, name) for a, name in (
        (np.array(10, np.int64), "mels"), (np.array(64, np.int64), "dft"), (np.array(16000, np.int64), "rate"),
        (np.array(20.0, np.float32), "low"), (np.array(7600.0, np.float32), "high"))]
    g = helper.make_graph([
        helper.make_node("MelWeightMatrix", ["mels", "dft", "rate", "low", "high"], ["w"]),
        helper.make_node("MatMul", ["power", "w"], ["mel"]),
    ], "mel", [vi("power", [2, 33])], [vi("mel", [2, 10])], consts)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    power = np.random.default_rng(5).random((2, 33), dtype=np.float32)
    save("mel_spectrogram_op17", model, [power], [power.astype(np.float64) @ mel_weights(10, 64, 16000, 20.0, 7600.0)])


def scan_identity(shape, opset, **attrs):
    """A Scan of x (its body an Identity) with the given attributes."""
    body = helper.make_graph([helper.make_node("Identity", ["a"], ["b"])], "body", [vi("a", [])], [vi("b", [])])
    scan = helper.make_node("Scan", ([""] if opset < 9 else []) + ["x"], ["y"], body=body, num_scan_inputs=1,
                            name="scan0", **attrs)
    g = helper.make_graph([scan], "scan", [vi("x", shape)], [vi("y", None)])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def refused():
    onnx.save(scan_op8(batch=2), os.path.join(BAD, "scan_op8_batch2.onnx"))
    onnx.save(scan_op8(lens=True), os.path.join(BAD, "scan_op8_sequence_lens.onnx"))
    onnx.save(scan_identity([1], 8), os.path.join(BAD, "scan_op8_rank0.onnx"))
    onnx.save(scan_identity([3], 11, scan_input_axes=[4]), os.path.join(BAD, "scan_axis_out_of_range.onnx"))
    onnx.save(scan_identity([3], 11, scan_output_axes=[5]), os.path.join(BAD, "scan_output_axis_out_of_range.onnx"))


if __name__ == "__main__":
    scan_axes_op11()
    scan_batch_op8()
    tfidf("IDF")
    tfidf("TFIDF")
    mel_spectrogram_op17()
    refused()
