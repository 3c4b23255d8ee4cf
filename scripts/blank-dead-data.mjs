// `node scripts/blank-dead-data.mjs dist/tokenward_bg.wasm`: zeroes the text in the data
// segments that nothing can reach any more, after wasm-opt (DESIGN.md, Size).
//
// wasm-opt removes dead code but never data: a message whose only reader was a panic path
// that the npm build's panic handler turns into a trap, or a table whose code wasm-opt
// removed (`core::fmt`'s two-digit table, `RefCell`'s "already borrowed" messages, the
// allocation-failure message), stays in the `.wasm` as text that gzip must carry. The
// bytes keep their place (addresses do not move); zeroes cost gzip almost nothing.
//
// Blanked: a run of printable ASCII bytes (at least 4) such that no address from 8 bytes
// before the run to its last byte appears anywhere as a possible reference: not as an
// `i32.const` or a load/store `offset=` in any function or global (binaryen's text of the
// module), and not as a 4-byte little-endian word at any byte position of the data (a
// pointer in a vtable, a location record or a `&str` in a static). wasm32's code only
// reaches static data through such constants (it is not position-independent, so LLVM
// makes no table of offsets relative to a base), so a run with no constant pointing into
// it has no reader. The 8 bytes before cover a small header of a static that holds its
// text inline. Only text is considered: binary tables are never touched.
//
// Also blanked, though a pointer to them exists: text that only a panic reads. The npm
// build's panic handler (`src/lib.rs`) traps without looking at its `PanicInfo`, so the
// source paths in location records (`src/…`, `crates/…` after the dependencies' remapping,
// and the standard library's `/rustc/<commit>/library/….rs`, which `--remap-path-prefix`
// does not reach) and the standard library's own panic messages listed in `PANIC_TEXT` have
// no reader. Each only when no possible reference points inside it (a substring of it read
// by other code), and the crate uses no `file!()` or `Location` of its own.
//
// The build stops when the data section is not what this reads (active segments at an
// `i32.const` offset, in one memory).
import binaryen from 'binaryen';
import { readFileSync, writeFileSync } from 'node:fs';
import { Reader } from './wasm-reader.mjs';

const file = process.argv[2];
if (!file) {
  console.error('usage: node scripts/blank-dead-data.mjs file.wasm');
  process.exit(2);
}
const bytes = Buffer.from(readFileSync(file));
const fail = (why) => {
  console.error(`blank-dead-data: ${why}`);
  process.exit(1);
};

// The data segments, read from the binary's data section (id 11).
const segments = [];
const r = new Reader(bytes, 8);
while (r.p < bytes.length) {
  const id = r.byte();
  const size = r.u32();
  const end = r.p + size;
  if (id === 11) {
    for (let count = r.u32(); count > 0; count -= 1) {
      if (r.u32() !== 0) fail('a data segment that is not active in memory 0');
      if (r.byte() !== 0x41) fail('a data segment whose offset is not an i32.const');
      const address = r.s32() >>> 0;
      if (r.byte() !== 0x0b) fail('a data segment offset longer than one i32.const');
      const length = r.u32();
      segments.push({ address, start: r.p, length });
      r.bytes(length);
    }
  }
  r.p = end;
}

// Every value that could be an address.
const refs = new Set();
const module = binaryen.readBinary(bytes);
const text = module.emitText();
module.dispose();
for (const m of text.matchAll(/i32\.const (-?\d+)/g)) refs.add(Number(m[1]) >>> 0);
for (const m of text.matchAll(/offset=(\d+)/g)) refs.add(Number(m[1]));
for (const s of segments) {
  for (let i = s.start; i + 4 <= s.start + s.length; i += 1) refs.add(bytes.readUInt32LE(i));
}

/** Whether any possible reference names an address from `lo` up to (not including) `hi`. */
const named = (lo, hi) => {
  for (let a = lo; a < hi; a += 1) if (refs.has(a >>> 0)) return true;
  return false;
};

const printable = (b) => b >= 32 && b < 127;
let runs = 0;
let blanked = 0;
for (const s of segments) {
  const end = s.start + s.length;
  for (let i = s.start; i < end; ) {
    if (!printable(bytes[i])) {
      i += 1;
      continue;
    }
    let j = i;
    while (j < end && printable(bytes[j])) j += 1;
    const from = s.address + (i - s.start);
    if (!named(from - 8, from + (j - i)) && j - i >= 4) {
      bytes.fill(0, i, j);
      runs += 1;
      blanked += j - i;
    }
    i = j;
  }
}
// Text only a panic reads (see the header): source paths, and these messages of the
// standard library's panics (allocation and `RawVec`).
const PANIC_TEXT = ['capacity overflow', 'Tried to shrink to a larger capacity', 'memory allocation of '];
const SOURCE_PATH = /(?:\/rustc\/[0-9a-f]{40}\/|crates\/|src\/)[A-Za-z0-9_.\/-]*?\.rs/g;
let panicText = 0;
for (const s of segments) {
  const data = bytes.subarray(s.start, s.start + s.length).toString('latin1');
  const found = [...data.matchAll(SOURCE_PATH)].map((m) => [m.index, m[0].length]);
  for (const t of PANIC_TEXT) {
    for (let at = data.indexOf(t); at >= 0; at = data.indexOf(t, at + t.length)) found.push([at, t.length]);
  }
  for (const [at, length] of found) {
    const from = s.address + at;
    if (named(from + 1, from + length)) continue;
    bytes.fill(0, s.start + at, s.start + at + length);
    panicText += length;
  }
}
writeFileSync(file, bytes);
console.log(`blank-dead-data: ${blanked} bytes of text in ${runs} runs that nothing refers to zeroed, and ${panicText} bytes that only a panic reads`);
