// The end-to-end tests (tests/e2e/*.test.mjs), several files at a time: each file runs in
// its own `node --test` process (its own servers on free ports, its own browser and
// profile), and a lane takes the longest file still waiting as soon as it is free. A
// file's output is printed whole when it ends, so the report reads file by file.
//
//   node scripts/e2e.mjs [file …]     default: every tests/e2e/*.test.mjs
//
// TOKENWARD_E2E_LANES: how many files run at once (default 3 on a machine with at least 2
// CPUs, else 1; 1 runs them one after the other, as before). Exits 1 when a file failed
// (its output says which test), after every file has run. At the end it prints each
// file's time and the counts as `ℹ pass N` / `ℹ fail N`, the lines scripts/test.sh reads.
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { readdirSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dir = join(root, 'tests', 'e2e');

// Seconds each file took in a serial run on a quiet 2-core machine (the order to start
// them in: longest first; a file not listed counts as 5 s). Only the order depends on it.
const WEIGHT = {
  'dot.test.mjs': 135,
  'engines-firefox.test.mjs': 130,
  'engines-webkit.test.mjs': 118,
  'tabs.test.mjs': 110,
  'core.test.mjs': 67,
  'vite.test.mjs': 40,
  'dpop.test.mjs': 37,
  'demo.test.mjs': 32,
  'react.test.mjs': 25,
  'session-ending.test.mjs': 22,
  'faults.test.mjs': 14,
  'signin.test.mjs': 9,
};

const files = (process.argv.length > 2
  ? process.argv.slice(2).map((f) => join(process.cwd(), f))
  : readdirSync(dir).filter((f) => f.endsWith('.test.mjs')).sort().map((f) => join(dir, f)))
  .sort((a, b) => (WEIGHT[basename(b)] ?? 5) - (WEIGHT[basename(a)] ?? 5));

const fallback = availableParallelism() >= 2 ? 3 : 1;
const lanes = Math.max(1, Math.min(files.length, Number(process.env.TOKENWARD_E2E_LANES) || fallback));

const count = (text, what) => {
  const m = [...text.matchAll(new RegExp(`^ℹ ${what} (\\d+)$`, 'gm'))].pop();
  return m ? Number(m[1]) : 0;
};

function runFile(file) {
  const started = Date.now();
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=spec', file], {
      cwd: root, env: process.env, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (chunk) => { out += chunk; });
    child.stderr.on('data', (chunk) => { out += chunk; });
    child.on('error', (err) => { out += `\n${err.stack}\n`; });
    child.on('close', (code, signal) => {
      done({
        file: relative(root, file), code: code ?? signal, out, seconds: (Date.now() - started) / 1000,
        pass: count(out, 'pass'), fail: count(out, 'fail'), cancelled: count(out, 'cancelled'),
      });
    });
  });
}

const queue = [...files];
const results = [];
const t0 = Date.now();
process.stdout.write(`e2e: ${files.length} files, ${lanes} at a time\n`);
await Promise.all(Array.from({ length: lanes }, async () => {
  for (let file = queue.shift(); file; file = queue.shift()) {
    const r = await runFile(file);
    results.push(r);
    const ok = r.code === 0 && r.fail === 0 && r.cancelled === 0;
    process.stdout.write(`\n━━━ ${r.file}: ${ok ? 'ok' : 'FAILED'}, ${r.pass} passed, ${r.fail} failed`
      + `${r.cancelled ? `, ${r.cancelled} cancelled` : ''}, ${r.seconds.toFixed(1)} s\n${r.out}`);
  }
}));

const failed = results.filter((r) => r.code !== 0 || r.fail > 0 || r.cancelled > 0);
const sum = (key) => results.reduce((s, r) => s + r[key], 0);
process.stdout.write(`\n==> end-to-end files (${lanes} at a time, ${((Date.now() - t0) / 1000).toFixed(0)} s in all)\n`);
for (const r of [...results].sort((a, b) => b.seconds - a.seconds)) {
  process.stdout.write(`  ${r.seconds.toFixed(1).padStart(6)}s  ${r.file}${failed.includes(r) ? '  FAILED' : ''}\n`);
}
process.stdout.write(`ℹ pass ${sum('pass')}\nℹ fail ${sum('fail') + sum('cancelled') + failed.filter((r) => r.fail === 0 && r.cancelled === 0).length}\n`);
process.exit(failed.length ? 1 : 0);
