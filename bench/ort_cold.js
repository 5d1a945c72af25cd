#!/usr/bin/env node
// ONNX Runtime's cold start for bench/cold_start.py: for each model folder, the time to create an
// InferenceSession (all graph optimizations, intra-op threads as given) and the time of its first
// run on input.npy, both in ms, as one JSON line per model.  Node's own start-up and loading
// onnxruntime-node are excluded and reported apart ("require_ms"), as mlufuse's process start is.
//
//   node ort_cold.js [--threads N] MODEL_DIR...
//
// onnxruntime-node is found as /work/shared/bench/ort_bench.js finds it (/tmp/ortnpm by default).
'use strict';
const fs = require('fs');
const path = require('path');

const t0 = process.hrtime.bigint();
const ms = (a, b) => Number(b - a) / 1e6;

function loadOrt() {
  const tries = ['onnxruntime-node'];
  if (process.env.ORT_NODE_MODULES) tries.push(path.join(process.env.ORT_NODE_MODULES, 'onnxruntime-node'));
  tries.push('/tmp/ortnpm/node_modules/onnxruntime-node');
  for (const t of tries) {
    try { return require(t); } catch (e) { /* the next place */ }
  }
  console.error('ort_cold: onnxruntime-node not found (see /work/shared/bench/ort_bench.js)');
  process.exit(2);
}

function readNpy(file) { // little-endian float32, C order
  const buf = fs.readFileSync(file);
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const hstart = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', hstart, hstart + hlen);
  const shape = header.match(/'shape':\s*\(([^)]*)\)/)[1].split(',').filter((s) => s.trim()).map(Number);
  const data = new Float32Array(buf.buffer.slice(buf.byteOffset + hstart + hlen, buf.byteOffset + buf.length));
  return { shape, data };
}

async function main() {
  const argv = process.argv.slice(2);
  let threads = 1;
  const dirs = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--threads') threads = Number(argv[++i]);
    else dirs.push(argv[i]);
  }
  const ort = loadOrt();
  const requireMs = ms(t0, process.hrtime.bigint());
  for (const dir of dirs) {
    const x = readNpy(path.join(dir, 'input.npy'));
    const a = process.hrtime.bigint();
    const session = await ort.InferenceSession.create(path.join(dir, 'model.onnx'), {
      intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    });
    const b = process.hrtime.bigint();
    const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', x.data, x.shape) };
    await session.run(feeds);
    const c = process.hrtime.bigint();
    console.log(JSON.stringify({ model: path.basename(dir), threads, require_ms: requireMs,
      session_ms: ms(a, b), first_run_ms: ms(b, c), total_ms: ms(a, c) }));
  }
}

main().catch((e) => { console.error(`ort_cold: ${e.message}`); process.exit(1); });
