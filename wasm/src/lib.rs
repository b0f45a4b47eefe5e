//! The secagg client as a WebAssembly module with plain exports, for JavaScript (Node or the
//! browser) without wasm-bindgen. See `client.js` for a driver.
//!
//! Bytes cross the boundary through two buffers owned by this module, so no export takes a raw
//! pointer from the caller: JS asks for the input buffer ([`secagg_in_buf`], a pointer into
//! linear memory), writes into it, and calls an export with the length written; replies and
//! error messages are left in the output buffer ([`secagg_out_ptr`], [`secagg_out_len`]).
//! Clients are numbered handles. Every export returns a code: >= 0 success, < 0 an error whose
//! message is in the output buffer. Nothing here panics on caller input (a panic would trap).
//!
//! Randomness: the module has no entropy source; [`secagg_client_start`] takes a 32-byte seed
//! from the caller (`crypto.getRandomValues` in a browser, `crypto.randomBytes` in Node) for a
//! ChaCha20 generator.
//! No `unsafe` block: the exports' `#[no_mangle]` is the only thing the `unsafe_code` lint
//! would flag, so it is not denied here (the core crate forbids it).

use std::cell::RefCell;
use std::sync::Arc;

use secagg::ids::ParticipantId;
use secagg::protocol::{Client, ClientPolicy, ClientStatus, SessionParams};
use secagg::rand_core::SeedableRng;
use secagg::rng::ChaCha20Rng;

/// Errors: the output buffer holds the message.
const ERR_ARGUMENT: i32 = -1;
const ERR_SETUP: i32 = -2;
const ERR_ABORT: i32 = -3;
const ERR_HANDLE: i32 = -4;

/// The largest input buffer (bounds what a caller can make this module allocate).
const MAX_IN: u32 = 1 << 28;

struct Slot {
    client: Client,
    rng: ChaCha20Rng,
}

#[derive(Default)]
struct State {
    input: Vec<u8>,
    output: Vec<u8>,
    clients: Vec<Option<Slot>>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

fn fail(s: &mut State, code: i32, msg: impl std::fmt::Display) -> i32 {
    s.output = msg.to_string().into_bytes();
    code
}

/// Makes the input buffer `len` bytes long and returns its address in linear memory (0 if
/// `len` is above 2^28).
#[no_mangle]
pub extern "C" fn secagg_in_buf(len: u32) -> usize {
    if len > MAX_IN {
        return 0;
    }
    STATE.with_borrow_mut(|s| {
        s.input.clear();
        s.input.resize(len as usize, 0);
        s.input.as_mut_ptr() as usize
    })
}

/// Address of the output buffer.
#[no_mangle]
pub extern "C" fn secagg_out_ptr() -> usize {
    STATE.with_borrow(|s| s.output.as_ptr() as usize)
}

/// Length of the output buffer.
#[no_mangle]
pub extern "C" fn secagg_out_len() -> u32 {
    STATE.with_borrow(|s| s.output.len() as u32)
}

/// Starts a client. The input buffer holds `seed (32 bytes) || encoded session parameters`
/// (`len` bytes in all). The client's policy is the default [`ClientPolicy`] for inputs of
/// `vector_len` coordinates. Returns the handle (>= 0) with the AdvertiseKeys message in the
/// output buffer.
#[no_mangle]
pub extern "C" fn secagg_client_start(len: u32, id: u32, vector_len: u32) -> i32 {
    STATE.with_borrow_mut(|s| {
        let Some(bytes) = s.input.get(..len as usize) else {
            return fail(s, ERR_ARGUMENT, "length beyond the input buffer");
        };
        let (Some(seed), Some(encoded)) = (bytes.get(..32), bytes.get(32..)) else {
            return fail(s, ERR_ARGUMENT, "need a 32-byte seed");
        };
        let mut rng = ChaCha20Rng::from_seed(seed.try_into().unwrap_or([0; 32]));
        let params = match SessionParams::decode(encoded) {
            Ok(p) => p,
            Err(e) => return fail(s, ERR_SETUP, e),
        };
        let Some(me) = u16::try_from(id).ok().and_then(ParticipantId::new) else {
            return fail(s, ERR_ARGUMENT, "participant id must be 1..=65535");
        };
        let policy = ClientPolicy::new(vector_len);
        match Client::start(Arc::new(params), &policy, me, None, &mut rng) {
            Ok((client, hello)) => {
                s.output = hello;
                s.clients.push(Some(Slot { client, rng }));
                (s.clients.len() - 1) as i32
            }
            Err(e) => fail(s, ERR_SETUP, e),
        }
    })
}

fn slot(s: &mut State, h: u32) -> Option<&mut Slot> {
    s.clients.get_mut(h as usize).and_then(|c| c.as_mut())
}

/// Gives client `h` its input: the input buffer holds `count` little-endian f32 values.
/// Returns 1 with the MaskedInput message in the output buffer if the client was waiting for
/// it, 0 otherwise.
#[no_mangle]
pub extern "C" fn secagg_client_set_input_f32(h: u32, count: u32, weight: u32) -> i32 {
    STATE.with_borrow_mut(|s| {
        let Some(bytes) = s.input.get(..(count as usize).saturating_mul(4)) else {
            return fail(s, ERR_ARGUMENT, "count beyond the input buffer");
        };
        let values: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let Some(slot) = slot(s, h) else {
            return fail(s, ERR_HANDLE, "no such client");
        };
        match slot.client.set_input(&values, weight, &mut slot.rng) {
            Ok(Some(msg)) => {
                s.output = msg;
                1
            }
            Ok(None) => 0,
            Err(e) => fail(s, ERR_SETUP, e),
        }
    })
}

/// Passes the server message in the input buffer (`len` bytes) to client `h`. Returns 1 with
/// the reply in the output buffer, or 0 if there is none.
#[no_mangle]
pub extern "C" fn secagg_client_handle(h: u32, len: u32) -> i32 {
    STATE.with_borrow_mut(|s| {
        let input = std::mem::take(&mut s.input);
        let code = match (input.get(..len as usize), slot(s, h)) {
            (None, _) => fail(s, ERR_ARGUMENT, "length beyond the input buffer"),
            (_, None) => fail(s, ERR_HANDLE, "no such client"),
            (Some(msg), Some(slot)) => match slot.client.handle(msg, &mut slot.rng) {
                Ok(Some(reply)) => {
                    s.output = reply;
                    1
                }
                Ok(None) => 0,
                Err(e) => fail(s, ERR_ABORT, e),
            },
        };
        s.input = input;
        code
    })
}

/// Client `h`'s status: 0 waiting for the server, 1 needs its input, 2 finished and included,
/// 3 finished and excluded, 4 aborted.
#[no_mangle]
pub extern "C" fn secagg_client_status(h: u32) -> i32 {
    STATE.with_borrow_mut(|s| {
        let Some(slot) = slot(s, h) else {
            return fail(s, ERR_HANDLE, "no such client");
        };
        match slot.client.status() {
            ClientStatus::NeedsInput => 1,
            ClientStatus::Finished(secagg::protocol::messages::Outcome::Included) => 2,
            ClientStatus::Finished(_) => 3,
            ClientStatus::Aborted(_) => 4,
            _ => 0,
        }
    })
}

/// How many input coordinates client `h`'s quantizer clipped (-1 before the input is set).
#[no_mangle]
pub extern "C" fn secagg_client_clipped(h: u32) -> i64 {
    STATE.with_borrow_mut(|s| match slot(s, h) {
        Some(slot) => slot.client.clipped_coordinates().map_or(-1, |c| c as i64),
        None => i64::from(fail(s, ERR_HANDLE, "no such client")),
    })
}

/// Frees client `h` (its secrets are erased).
#[no_mangle]
pub extern "C" fn secagg_client_free(h: u32) {
    STATE.with_borrow_mut(|s| {
        if let Some(c) = s.clients.get_mut(h as usize) {
            *c = None;
        }
    });
}
