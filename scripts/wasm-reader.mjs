// A reader of a WebAssembly binary's bytes, for the build steps that walk a module's
// sections themselves (scripts/minify-names.mjs, scripts/blank-dead-data.mjs). It throws
// on a truncated module or an over-long LEB128 instead of reading past the end.

export class Reader {
  constructor(bytes, pos = 0) { this.b = bytes; this.p = pos; }
  byte() {
    if (this.p >= this.b.length) throw new Error('the .wasm ends unexpectedly');
    return this.b[this.p++];
  }
  /** An unsigned LEB128 of up to 32 bits. */
  u32() {
    let result = 0; let shift = 0;
    for (;;) {
      const byte = this.byte();
      result |= (byte & 0x7f) << shift;
      if (!(byte & 0x80)) return result >>> 0;
      shift += 7;
      if (shift > 35) throw new Error('a LEB128 in the .wasm is too long');
    }
  }
  /** A signed LEB128 of up to 32 bits (an `i32.const`'s immediate), as a signed number. */
  s32() {
    let result = 0; let shift = 0; let byte;
    do {
      byte = this.byte();
      result |= (byte & 0x7f) << shift;
      shift += 7;
      if (shift > 35) throw new Error('a LEB128 in the .wasm is too long');
    } while (byte & 0x80);
    if (shift < 32 && byte & 0x40) result |= -1 << shift;
    return result | 0;
  }
  bytes(n) {
    if (this.p + n > this.b.length) throw new Error('the .wasm ends unexpectedly');
    const out = this.b.subarray(this.p, this.p + n); this.p += n; return out;
  }
  name() { return Buffer.from(this.bytes(this.u32())).toString('utf8'); }
}
