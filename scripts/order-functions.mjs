// `node scripts/order-functions.mjs file.wasm`: puts functions with similar code next to
// each other in the .wasm, so that gzip finds their repeats within its 32 KB window.
// Nothing but the order changes (binaryen renumbers every call, table entry and export).
//
// First a greedy chain: start at one function, then always take the remaining function
// whose code shares the most 4-byte sequences with the last one (cosine of the two sets).
// The chain is made from 8 starting functions spread over the file (`ORDER_STARTS`
// changes the number), each refined for a few rounds, and the smallest result is kept:
// which start is best is the luck of the greedy walk (the spread is about ±200 B). The
// order is handed to binaryen as a name section ("f000000", "f000001", …) and applied by
// `wasm-opt --reorder-functions-by-name`, which strips the names again on writing.
//
// Then a local search on the chain's best: a run of 1–20 functions moved by up to 200
// places, kept when the whole file's gzip -9 shrinks (the bodies permuted as they are,
// without renumbering the calls, which is what makes a try cheap: ~3 ms). Each round of
// `ORDER_SEARCH_TRIES` tries is applied by binaryen and measured for real, and draws its
// own moves (its own seed: one seed for all rounds replayed the same moves on the new
// order); the rounds stop after `ORDER_SEARCH_ROUNDS` or when one does not shrink the
// file. The file is left as it was when no order beats it.
//
// Deterministic: the same input, knobs, binaryen and zlib give the same output (the search
// draws from a seeded generator). The result is cached under the cargo target directory
// (`order-cache/`, keyed by all of those and this script's source), so a rebuild of
// unchanged code takes no time. See DESIGN.md, Size.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { FEATURES } from './wasm-opt-args.mjs';

const ROUNDS = 3;
/** Starting functions tried (DESIGN.md, Size). */
const STARTS = Number(process.env.ORDER_STARTS || 8);
/** Local-search rounds after the chain, and the tries in each (DESIGN.md, Size). */
const SEARCH_ROUNDS = Number(process.env.ORDER_SEARCH_ROUNDS ?? 6);
const SEARCH_TRIES = Number(process.env.ORDER_SEARCH_TRIES ?? 4000);
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

const gz = (b) => gzipSync(b, { level: 9 }).length;

/** The bytes before the first body, each body with its size, and the bytes after the last. */
function split(bytes) {
  let at = 8;
  while (at < bytes.length) {
    const id = bytes[at];
    let size;
    [size, at] = readLeb(bytes, at + 1);
    if (id === 10) {
      let [count, p] = readLeb(bytes, at);
      const first = p;
      const pieces = [];
      for (; count > 0; count -= 1) {
        const [len, body] = readLeb(bytes, p);
        pieces.push(bytes.subarray(p, body + len));
        p = body + len;
      }
      return { head: bytes.subarray(0, first), pieces, tail: bytes.subarray(p) };
    }
    at += size;
  }
  return { head: bytes, pieces: [], tail: bytes.subarray(bytes.length) };
}

/**
 * The order (indices into the file's bodies) that the local search finds in `tries` moves
 * of a run of functions, each kept when the file with the bodies so permuted compresses
 * smaller; the moves are drawn from the seed `first`.
 */
function search(bytes, tries, first) {
  const { head, pieces, tail } = split(bytes);
  const n = pieces.length;
  let order = [...pieces.keys()];
  const size = (o) => gz(Buffer.concat([head, ...o.map((k) => pieces[k]), tail]));
  let best = size(order);
  let seed = first;
  const random = (below) => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return Math.floor((seed / 2 ** 32) * below);
  };
  for (let t = 0; t < tries && n > 2; t += 1) {
    const run = 1 + random(random(2) ? 3 : 20);
    if (run >= n) continue;
    const from = random(n - run + 1);
    const to = Math.min(n - run, Math.max(0, from + random(401) - 200));
    if (to === from) continue;
    const rest = order.slice(0, from).concat(order.slice(from + run));
    const next = rest.slice(0, to).concat(order.slice(from, from + run), rest.slice(to));
    const s = size(next);
    if (s < best) [order, best] = [next, s];
  }
  return order;
}

/** `bytes` in `order` (indices into its bodies), applied and optimized by binaryen. */
function reorder(bytes, order, work) {
  const { imported } = functions(bytes);
  const input = join(work, 'in.wasm');
  const output = join(work, 'out.wasm');
  writeFileSync(input, named(bytes, imported, order));
  execFileSync(wasmOpt, ['--reorder-functions-by-name', ...FLAGS, input, '-o', output], { stdio: 'inherit' });
  return readFileSync(output);
}

function bestOrder(original, work) {
  let best = original;
  let bestSize = gz(original);
  const count = functions(original).bodies.length;
  if (count < 2) return best;
  const starts = [...new Set(Array.from({ length: STARTS }, (_, k) => Math.floor((k * count) / STARTS)))];
  for (const start of starts) {
    let current = original;
    for (let round = 0; round < ROUNDS; round += 1) {
      current = reorder(current, chain(functions(current).bodies, round === 0 ? start : 0), work);
      const size = gz(current);
      if (size < bestSize) [best, bestSize] = [current, size];
    }
  }
  for (let round = 0; round < SEARCH_ROUNDS; round += 1) {
    const next = reorder(best, search(best, SEARCH_TRIES, round + 1), work);
    const size = gz(next);
    if (size >= bestSize) break;
    [best, bestSize] = [next, size];
  }
  return best;
}

const file = process.argv[2];
if (!file) {
  console.error('usage: node scripts/order-functions.mjs file.wasm');
  process.exit(2);
}
const original = readFileSync(file);
const binaryen = JSON.parse(readFileSync(join(root, 'node_modules', 'binaryen', 'package.json'), 'utf8')).version;
const key = createHash('sha256')
  .update(original)
  .update(readFileSync(fileURLToPath(import.meta.url)))
  .update(JSON.stringify([STARTS, SEARCH_ROUNDS, SEARCH_TRIES, FLAGS, binaryen, process.versions.zlib]))
  .digest('hex');
const cacheDir = join(resolve(root, process.env.CARGO_TARGET_DIR || 'target'), 'order-cache');
const cached = join(cacheDir, `${key}.wasm`);
let best;
try {
  best = readFileSync(cached);
} catch {
  const work = mkdtempSync(join(tmpdir(), 'tokenward-order-'));
  try {
    best = bestOrder(original, work);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  // Written beside and renamed, so that a build cut off or run alongside leaves no half file.
  mkdirSync(cacheDir, { recursive: true });
  const part = `${cached}.${process.pid}`;
  writeFileSync(part, best);
  renameSync(part, cached);
}
writeFileSync(file, best);
console.log(`order-functions: ${gz(original)} → ${gz(best)} B gzip -9`);
