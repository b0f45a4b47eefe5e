// A secagg client in WebAssembly, driven from Node over stdin/stdout with the framing of
// examples/client_pipe.rs (u32 big-endian length + bytes): the first frame is the encoded
// session parameters, later ones protocol messages.
//
//   node wasm/client.js <participant id> <x_1> ... <x_L>
//
// The module path defaults to the release build; SECAGG_WASM overrides it.
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');

const wasmPath = process.env.SECAGG_WASM ||
  path.join(__dirname, 'target/wasm32-unknown-unknown/release/secagg_wasm.wasm');
const { exports: w } = new WebAssembly.Instance(new WebAssembly.Module(fs.readFileSync(wasmPath)), {});

const id = Number(process.argv[2]);
const input = Float32Array.from(process.argv.slice(3).map(Number));

function put(bytes) {
  const ptr = w.secagg_in_buf(bytes.length);
  if (ptr === 0 && bytes.length > 0) throw new Error('input buffer refused');
  new Uint8Array(w.memory.buffer, ptr, bytes.length).set(bytes);
}
function out() {
  return Buffer.from(new Uint8Array(w.memory.buffer, w.secagg_out_ptr(), w.secagg_out_len()));
}
function check(code) {
  if (code < 0) throw new Error(`secagg error ${code}: ${out().toString()}`);
  return code;
}
function send(bytes) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(bytes.length);
  process.stdout.write(Buffer.concat([len, bytes]));
}

let handle = -1;
function onFrame(frame) {
  if (handle < 0) {
    put(Buffer.concat([crypto.randomBytes(32), frame]));
    handle = check(w.secagg_client_start(32 + frame.length, id, input.length));
    send(out());
    // The input may come any time before the masked-input round; here, right away.
    put(new Uint8Array(input.buffer));
    if (check(w.secagg_client_set_input_f32(handle, input.length, 1)) === 1) send(out());
    return;
  }
  put(frame);
  if (check(w.secagg_client_handle(handle, frame.length)) === 1) send(out());
  const status = check(w.secagg_client_status(handle));
  if (status >= 2) {
    const clipped = w.secagg_client_clipped(handle);
    process.stderr.write(`wasm client ${id}: ${status === 2 ? 'Included' : 'Excluded'}, ${clipped} coordinates clipped\n`);
    w.secagg_client_free(handle);
    process.exit(0);
  }
}

let buf = Buffer.alloc(0);
process.stdin.on('data', (chunk) => {
  buf = Buffer.concat([buf, chunk]);
  while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
    const n = buf.readUInt32BE(0);
    const frame = buf.subarray(4, 4 + n);
    buf = buf.subarray(4 + n);
    try {
      onFrame(frame);
    } catch (e) {
      process.stderr.write(`wasm client ${id}: ${e.message}\n`);
      process.exit(1);
    }
  }
});
