// `node scripts/order-functions.mjs file.wasm`: puts functions with similar code next to
// each other in the .wasm, so that gzip finds their repeats within its 32 KB window.
// Nothing but the order changes (binaryen renumbers every call, table entry and export).
//
// The order is a greedy chain: start at one function, then always take the remaining
// function whose code shares the most 4-byte sequences with the last one (cosine of the
// two sets). The chain is made from 8 starting functions spread over the file
// (`ORDER_STARTS` changes the number), each refined for a few rounds, and the smallest
// result of all is kept: which start is best is the luck of the greedy walk (the spread
// is about ±200 B); 8 starts gave 201 B less than the first function alone, 16 only 24 B
// more for 20 s more. The order is handed to binaryen as a name section ("f000000",
// "f000001", …) and applied by `wasm-opt --reorder-functions-by-name`, which strips the
// names again on writing. The chain is recomputed on its own result (call indices change
// with the order) for a few rounds; the smallest gzip -9 result of every start and round
// is kept, and the file is left as it was when no order beats it. Deterministic: the same input gives the same
// output. See DESIGN.md, Size.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { FEATURES } from './wasm-opt-args.mjs';

const ROUNDS = 3;
/** Starting functions tried (DESIGN.md, Size). */
const STARTS = Number(process.env.ORDER_STARTS || 8);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const wasmOpt = join(root, 'node_modules', '.bin', 'wasm-opt');
// The optimize and shrink levels of -Oz without its passes: binaryen then writes the
// code through its stack IR optimizations as the build's -Oz did.
const FLAGS = ['--optimize-level=2', '--shrink-level=2', '--strip-debug', '--strip-producers', ...FEATURES];

function readLeb(bytes, at) {
  let value = 0;
  let shift = 0;
  let byte;
  do {
    byte = bytes[at];
    at += 1;
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
  } while (byte & 0x80);
  return [value, at];
}

function leb(n) {
  const out = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n) byte |= 0x80;
    out.push(byte);
  } while (n);
  return out;
}

/** The number of imported functions and each defined function's body. */
function functions(bytes) {
  let at = 8;
  let imported = 0;
  const bodies = [];
  while (at < bytes.length) {
    const id = bytes[at];
    let size;
    [size, at] = readLeb(bytes, at + 1);
    const end = at + size;
    let p = at;
    let count;
    if (id === 2) {
      [count, p] = readLeb(bytes, p);
      for (let i = 0; i < count; i += 1) {
        let len;
        [len, p] = readLeb(bytes, p);
        [len, p] = readLeb(bytes, p + len);
        p += len;
        const kind = bytes[p];
        p += 1;
        if (kind === 0) {
          imported += 1;
          [, p] = readLeb(bytes, p);
        } else if (kind === 1 || kind === 2) {
          if (kind === 1) p += 1; // the table's element type
          const limits = bytes[p];
          [, p] = readLeb(bytes, p + 1);
          if (limits & 1) [, p] = readLeb(bytes, p);
        } else if (kind === 3) {
          p += 2;
        } else {
          throw new Error(`order-functions: unknown import kind ${kind}`);
        }
      }
    } else if (id === 10) {
      [count, p] = readLeb(bytes, p);
      for (let i = 0; i < count; i += 1) {
        let len;
        [len, p] = readLeb(bytes, p);
        bodies.push(bytes.subarray(p, p + len));
        p += len;
      }
    }
    at = end;
  }
  return { imported, bodies };
}

/** The greedy chain of most similar neighbours (indices into `bodies`). */
function chain(bodies, start = 0) {
  const grams = bodies.map((b) => {
    const set = new Set();
    for (let i = 0; i + 4 <= b.length; i += 1) set.add(b.readUInt32LE(i));
    return set;
  });
  const left = new Set(bodies.keys());
  const order = [start];
  left.delete(start);
  let last = start;
  while (left.size > 0) {
    let best = -1;
    let bestScore = -1;
    for (const j of left) {
      const [small, big] = grams[j].size < grams[last].size ? [grams[j], grams[last]] : [grams[last], grams[j]];
      let shared = 0;
      for (const g of small) if (big.has(g)) shared += 1;
      const score = shared / (Math.sqrt(grams[j].size * grams[last].size) + 1);
      if (score > bestScore) {
        bestScore = score;
        best = j;
      }
    }
    left.delete(best);
    order.push(best);
    last = best;
  }
  return order;
}

/** `bytes` with a name section that spells `order`. */
function named(bytes, imported, order) {
  const entries = [];
  for (let i = 0; i < imported; i += 1) entries.push([i, `i${String(i).padStart(6, '0')}`]);
  const rank = new Array(order.length);
  order.forEach((f, r) => { rank[f] = r; });
  for (let f = 0; f < order.length; f += 1) entries.push([imported + f, `f${String(rank[f]).padStart(6, '0')}`]);
  const map = [...leb(entries.length)];
  for (const [index, name] of entries) map.push(...leb(index), ...leb(name.length), ...Buffer.from(name));
  const payload = [...leb(4), ...Buffer.from('name'), 1, ...leb(map.length), ...map];
  return Buffer.concat([bytes, Buffer.from([0, ...leb(payload.length), ...payload])]);
}

const file = process.argv[2];
if (!file) {
  console.error('usage: node scripts/order-functions.mjs file.wasm');
  process.exit(2);
}
const original = readFileSync(file);
const gz = (b) => gzipSync(b, { level: 9 }).length;
const work = mkdtempSync(join(tmpdir(), 'tokenward-order-'));
try {
  let best = original;
  let bestSize = gz(original);
  const count = functions(original).bodies.length;
  const starts = [...new Set(Array.from({ length: STARTS }, (_, k) => Math.floor((k * count) / STARTS)))];
  for (const start of starts) {
    let current = original;
    for (let round = 0; round < ROUNDS; round += 1) {
      const { imported, bodies } = functions(current);
      if (bodies.length < 2) break;
      const input = join(work, 'in.wasm');
      const output = join(work, 'out.wasm');
      writeFileSync(input, named(current, imported, chain(bodies, round === 0 ? start : 0)));
      execFileSync(wasmOpt, ['--reorder-functions-by-name', ...FLAGS, input, '-o', output], { stdio: 'inherit' });
      current = readFileSync(output);
      const size = gz(current);
      if (size < bestSize) [best, bestSize] = [current, size];
    }
  }
  writeFileSync(file, best);
  console.log(`order-functions: ${gz(original)} → ${bestSize} B gzip -9`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
