// scripts/blank-dead-data.mjs, the build step that zeroes text nothing refers to: on small
// modules made with binaryen, every kind of reference keeps its text, and only text with
// none is zeroed; then on the built `.wasm`, that every message the client can show is
// still there. Run: node --test tests/e2e/blank-dead-data.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import binaryen from 'binaryen';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const script = join(root, 'scripts', 'blank-dead-data.mjs');
const work = mkdtempSync(join(tmpdir(), 'tokenward-blank-'));

const TEXT = (s) => new TextEncoder().encode(s);
const BASE = 1024;

// A module whose one data segment at BASE holds `pieces` one after the other, and whose
// function returns the sum of the constants `code(addr)` gives (addresses of the pieces by
// name). `extra` adds segments after the first.
function build({ pieces, code = () => [], loads = () => [], extra = () => [], passive = false }) {
  const m = new binaryen.Module();
  m.setFeatures(binaryen.Features.MVP | binaryen.Features.BulkMemory);
  const addr = {};
  let at = BASE;
  const parts = [];
  for (const [name, bytes] of pieces) {
    addr[name] = at;
    parts.push(bytes);
    at += bytes.length;
  }
  const data = new Uint8Array(at - BASE);
  let o = 0;
  for (const p of parts) {
    data.set(p, o);
    o += p.length;
  }
  const segments = [{ offset: passive ? 0 : m.i32.const(BASE), data, passive }, ...extra(addr, m)];
  m.setMemory(1, 1, 'memory', segments);
  let body = m.i32.const(0);
  for (const c of code(addr)) body = m.i32.add(body, m.i32.const(c));
  for (const off of loads(addr)) body = m.i32.add(body, m.i32.load8_u(off, 1, m.local.get(0, binaryen.i32)));
  m.addFunction('f', binaryen.createType([binaryen.i32]), binaryen.i32, [], body);
  m.addFunctionExport('f', 'f');
  assert.ok(m.validate(), 'the test module is valid');
  const file = join(work, `m${Math.random().toString(36).slice(2)}.wasm`);
  writeFileSync(file, m.emitBinary());
  m.dispose();
  return { file, addr };
}

const run = (file) => spawnSync(process.execPath, [script, file], { encoding: 'utf8' });
const textAt = (file, s) => Buffer.from(readFileSync(file)).includes(Buffer.from(s));

// Runs the step on `file`, which must succeed and print what matches `says`; then each of
// `pieces` (gaps, named with a leading space, aside) is zeroed when `gone` names it and
// kept otherwise, and the file keeps its length.
function blanks(file, pieces, says, gone) {
  const before = readFileSync(file);
  const r = run(file);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, says);
  const after = readFileSync(file);
  for (const [name, bytes] of pieces) {
    if (name.startsWith(' ')) continue;
    const zeroed = gone.includes(name);
    assert.equal(after.includes(Buffer.from(bytes)), !zeroed, `${name} is ${zeroed ? 'zeroed' : 'kept'}`);
  }
  assert.equal(after.length, before.length, 'nothing moves');
}

test('text that code or data points at, at its start, inside, or just before it, is kept; text nothing points at is zeroed', () => {
  const pieces = [
    ['byConst', TEXT('kept: its address is an i32.const')],
    [' gap1', new Uint8Array([0, 0, 0, 0])],
    ['inside', TEXT('kept: a constant points into the middle')],
    [' gap2', new Uint8Array([0, 0, 0, 0])],
    ['byOffset', TEXT('kept: a load offset names it')],
    [' gap3', new Uint8Array([0, 0, 0, 0])],
    ['byWord', TEXT('kept: a pointer in the data names it')],
    ['header', new Uint8Array([7, 0, 0, 0])],
    ['afterHeader', TEXT('kept: a static whose header is named')],
    [' gap4', new Uint8Array(16)],
    ['dead', TEXT('gone: nothing refers to this text')],
    [' gap5', new Uint8Array(16)],
    ['short', TEXT('abc')],
    [' gap6', new Uint8Array(16)],
    ['binary', new Uint8Array([1, 2, 3, 200, 201, 202, 203, 204])],
  ];
  const { file } = build({
    pieces,
    code: (a) => [a.byConst, a.inside + 9, a.header],
    loads: (a) => [a.byOffset],
    extra: (a, m) => {
      const word = new Uint8Array(4);
      new DataView(word.buffer).setUint32(0, a.byWord, true);
      return [{ offset: m.i32.const(8192), data: word, passive: false }];
    },
  });
  blanks(file, pieces, /33 bytes of text in 1 runs/, ['dead']);
});

test('text only a panic reads (source paths, the standard library\'s panic messages) is zeroed though pointed at, unless something points inside it', () => {
  const hash = '0123456789abcdef0123456789abcdef01234567';
  const pieces = [
    ['ours', TEXT('src/local.rs')],
    ['dep', TEXT('crates/js-sys-0.3.107/src/futures/jspi.rs')],
    ['std', TEXT(`/rustc/${hash}/library/alloc/src/raw_vec/mod.rs`)],
    ['message', TEXT('capacity overflow')],
    [' gap1', new Uint8Array([0, 0, 0, 0])],
    ['read', TEXT('kept: src/ is named in this message')],
    [' gap2', new Uint8Array([0, 0, 0, 0])],
    ['pathInside', TEXT('src/core/json/mod.rs')],
    [' gap3', new Uint8Array([0, 0, 0, 0])],
    ['messageInside', TEXT('memory allocation of ')],
  ];
  const { file } = build({
    pieces,
    code: (a) => [a.ours, a.dep, a.std, a.message, a.read, a.pathInside, a.pathInside + 4, a.messageInside + 7],
  });
  blanks(file, pieces, /0 bytes of text in 0 runs .*, and 150 bytes that only a panic reads/, ['ours', 'dep', 'std', 'message']);
});

test('a module with a passive data segment stops the build', () => {
  const { file } = build({ pieces: [['t', TEXT('some text here')]], passive: true });
  const r = run(file);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /blank-dead-data: a data segment that is not active/);
  assert.ok(textAt(file, 'some text here'), 'the file is left as it was');
});

test('the built .wasm keeps every message the client reports (dist/)', () => {
  const wasm = join(root, 'dist', 'tokenward_bg.wasm');
  const copy = join(work, 'dist.wasm');
  writeFileSync(copy, readFileSync(wasm));
  // The build already ran the step: running it again zeroes nothing more.
  const r = run(copy);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /: 0 bytes of text in 0 runs/);
  // Messages from the core, the shell and wasm-bindgen's own errors are all still there.
  const bytes = readFileSync(wasm);
  for (const m of [
    'there is no session: sign in first',
    'the authorization server refused the grant',
    'an `attachTo` entry must be an absolute http(s) origin or prefix',
    'closure invoked recursively or after being dropped',
    'attempted to take ownership of Rust value while it was borrowed',
  ]) assert.ok(bytes.includes(Buffer.from(m)), `"${m}" is in the .wasm`);
  // What only a panic reads is gone: no source path, no allocation panic message. That is
  // sound while the npm build's panic handler ignores its `PanicInfo` and no code of the
  // crate reads a source path (`file!()`, `Location`).
  assert.match(readFileSync(join(root, 'src', 'lib.rs'), 'utf8'), /#\[panic_handler\]\s*fn panic\(_: &/);
  const sources = execFileSync('git', ['ls-files', 'src'], { cwd: root, encoding: 'utf8' }).split('\n').filter((f) => f.endsWith('.rs'));
  for (const f of sources) {
    assert.doesNotMatch(readFileSync(join(root, f), 'utf8'), /\bfile!\(|Location::caller|panic::Location/, `${f} reads no source path`);
  }
  assert.doesNotMatch(bytes.toString('latin1'), /[A-Za-z0-9_]\.rs(?![A-Za-z0-9_])/, 'no source path is left');
  assert.ok(!bytes.includes(Buffer.from('capacity overflow')), 'no standard library panic message is left');
  execFileSync(process.execPath, ['-e', 'new WebAssembly.Module(require("fs").readFileSync(process.argv[1]))', wasm]);
});
