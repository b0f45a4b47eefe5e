//! C ABI for the secagg client: what Swift imports directly (through `include/secagg.h` in a
//! module map) and what an Android JNI layer wraps.
//!
//! Conventions: a client is an opaque `SecaggClient *` from [`secagg_client_start`], freed with
//! [`secagg_client_free`]. Functions return a code (>= 0 success, < 0 error) and leave the error's
//! message for [`secagg_last_error`] (per thread). Replies live in a buffer owned by the client
//! ([`secagg_client_output`]), valid until the next call on that client. No panic crosses the
//! boundary: every entry point runs under `catch_unwind`. Pointers from C are checked for null;
//! lengths are the caller's promise that the memory is readable, as in any C API.

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use secagg::ids::ParticipantId;
use secagg::protocol::messages::Outcome;
use secagg::protocol::{Client, ClientPolicy, ClientStatus, SessionParams};
use secagg::rand_core::SeedableRng;
use secagg::rng::ChaCha20Rng;

/// Error codes returned by every function (as `int32_t`; success is >= 0). A C enum, so each
/// name is an `int` constant expression.
#[repr(i32)]
#[allow(non_camel_case_types, clippy::enum_variant_names)]
pub enum SecaggError {
    /// A null pointer or an out-of-range argument.
    SECAGG_ERR_ARGUMENT = -1,
    /// The session was refused (parameters, policy, input).
    SECAGG_ERR_SETUP = -2,
    /// The client aborted on a server message; it accepts nothing more.
    SECAGG_ERR_ABORT = -3,
    /// A bug: a panic was caught at the boundary.
    SECAGG_ERR_PANIC = -4,
}

/// A null pointer or an out-of-range argument.
pub const SECAGG_ERR_ARGUMENT: i32 = SecaggError::SECAGG_ERR_ARGUMENT as i32;
/// The session was refused (parameters, policy, input).
pub const SECAGG_ERR_SETUP: i32 = SecaggError::SECAGG_ERR_SETUP as i32;
/// The client aborted on a server message; it accepts nothing more.
pub const SECAGG_ERR_ABORT: i32 = SecaggError::SECAGG_ERR_ABORT as i32;
/// A bug: a panic was caught at the boundary.
pub const SECAGG_ERR_PANIC: i32 = SecaggError::SECAGG_ERR_PANIC as i32;

/// One client (opaque to C).
pub struct SecaggClient {
    client: Client,
    rng: ChaCha20Rng,
    output: Vec<u8>,
}

thread_local! {
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

fn set_error(code: i32, msg: impl std::fmt::Display) -> i32 {
    LAST_ERROR.with_borrow_mut(|e| *e = msg.to_string());
    code
}

fn guard(f: impl FnOnce() -> i32) -> i32 {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| set_error(SECAGG_ERR_PANIC, "panic"))
}

/// `len` bytes at `ptr` (an empty slice for length 0; `None` for null with a length).
///
/// # Safety
/// `ptr` must point to `len` readable bytes of `T` if it is not null.
unsafe fn slice<'a, T>(ptr: *const T, len: usize) -> Option<&'a [T]> {
    if len == 0 {
        return Some(&[]);
    }
    if ptr.is_null() {
        return None;
    }
    // SAFETY: non-null, and the caller promises `len` readable elements.
    Some(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// Starts a client of the session whose encoded parameters are `params[..params_len]`, for
/// participant `id`, with the default client policy for inputs of `vector_len` coordinates and
/// a ChaCha20 generator seeded with the 32 bytes at `seed` (from the OS: `SecRandomCopyBytes`,
/// `getrandom`, `SecureRandom`). On success stores the client in `*out` (its AdvertiseKeys
/// message is then in [`secagg_client_output`]) and returns 0.
///
/// # Safety
/// `params` readable for `params_len` bytes, `seed` for 32, `out` writable.
#[no_mangle]
pub unsafe extern "C" fn secagg_client_start(
    params: *const u8,
    params_len: usize,
    id: u16,
    vector_len: u32,
    seed: *const u8,
    out: *mut *mut SecaggClient,
) -> i32 {
    guard(|| {
        // SAFETY: the caller's promise above.
        let (Some(params), Some(seed)) = (unsafe { slice(params, params_len) }, unsafe {
            slice(seed, 32)
        }) else {
            return set_error(SECAGG_ERR_ARGUMENT, "null params or seed");
        };
        if out.is_null() {
            return set_error(SECAGG_ERR_ARGUMENT, "null out");
        }
        let Some(me) = ParticipantId::new(id) else {
            return set_error(SECAGG_ERR_ARGUMENT, "participant id 0");
        };
        let params = match SessionParams::decode(params) {
            Ok(p) => p,
            Err(e) => return set_error(SECAGG_ERR_SETUP, e),
        };
        let mut rng = ChaCha20Rng::from_seed(seed.try_into().unwrap_or([0; 32]));
        let policy = ClientPolicy::new(vector_len);
        match Client::start(Arc::new(params), &policy, me, None, &mut rng) {
            Ok((client, hello)) => {
                let c = Box::new(SecaggClient {
                    client,
                    rng,
                    output: hello,
                });
                // SAFETY: `out` is non-null and writable (caller's promise).
                unsafe { *out = Box::into_raw(c) };
                0
            }
            Err(e) => set_error(SECAGG_ERR_SETUP, e),
        }
    })
}

/// # Safety
/// `c` null or a live client from [`secagg_client_start`].
unsafe fn client<'a>(c: *mut SecaggClient) -> Option<&'a mut SecaggClient> {
    // SAFETY: null or live and exclusively ours for this call (caller's promise).
    unsafe { c.as_mut() }
}

fn set_input<T: Copy + Into<f64>>(c: &mut SecaggClient, input: &[T], weight: u32) -> i32 {
    match c.client.set_input(input, weight, &mut c.rng) {
        Ok(Some(msg)) => {
            c.output = msg;
            1
        }
        Ok(None) => 0,
        Err(e) => set_error(SECAGG_ERR_SETUP, e),
    }
}

/// Gives the client its input, `len` floats read in place. Returns 1 if the MaskedInput
/// message is now in [`secagg_client_output`] (the client was waiting for it), 0 otherwise.
///
/// # Safety
/// `c` a live client; `input` readable for `len` floats.
#[no_mangle]
pub unsafe extern "C" fn secagg_client_set_input_f32(
    c: *mut SecaggClient,
    input: *const f32,
    len: usize,
    weight: u32,
) -> i32 {
    guard(
        || match (unsafe { client(c) }, unsafe { slice(input, len) }) {
            (Some(c), Some(x)) => set_input(c, x, weight),
            _ => set_error(SECAGG_ERR_ARGUMENT, "null client or input"),
        },
    )
}

/// As [`secagg_client_set_input_f32`] for doubles.
///
/// # Safety
/// `c` a live client; `input` readable for `len` doubles.
#[no_mangle]
pub unsafe extern "C" fn secagg_client_set_input_f64(
    c: *mut SecaggClient,
    input: *const f64,
    len: usize,
    weight: u32,
) -> i32 {
    guard(
        || match (unsafe { client(c) }, unsafe { slice(input, len) }) {
            (Some(c), Some(x)) => set_input(c, x, weight),
            _ => set_error(SECAGG_ERR_ARGUMENT, "null client or input"),
        },
    )
}

/// Passes one server message to the client. Returns 1 if a reply is in
/// [`secagg_client_output`], 0 if there is none.
///
/// # Safety
/// `c` a live client; `msg` readable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn secagg_client_handle(
    c: *mut SecaggClient,
    msg: *const u8,
    len: usize,
) -> i32 {
    guard(
        || match (unsafe { client(c) }, unsafe { slice(msg, len) }) {
            (Some(c), Some(m)) => match c.client.handle(m, &mut c.rng) {
                Ok(Some(reply)) => {
                    c.output = reply;
                    1
                }
                Ok(None) => 0,
                Err(e) => set_error(SECAGG_ERR_ABORT, e),
            },
            _ => set_error(SECAGG_ERR_ARGUMENT, "null client or message"),
        },
    )
}

/// The client's last message to send: `*ptr` and `*len`, valid until the next call on `c`.
///
/// # Safety
/// `c` a live client; `ptr` and `len` writable.
#[no_mangle]
pub unsafe extern "C" fn secagg_client_output(
    c: *mut SecaggClient,
    ptr: *mut *const u8,
    len: *mut usize,
) -> i32 {
    guard(|| match unsafe { client(c) } {
        Some(c) if !ptr.is_null() && !len.is_null() => {
            // SAFETY: non-null and writable (caller's promise).
            unsafe {
                *ptr = c.output.as_ptr();
                *len = c.output.len();
            }
            0
        }
        _ => set_error(SECAGG_ERR_ARGUMENT, "null argument"),
    })
}

/// 0 waiting for the server, 1 needs its input, 2 finished and included, 3 finished and
/// excluded, 4 aborted.
///
/// # Safety
/// `c` a live client.
#[no_mangle]
pub unsafe extern "C" fn secagg_client_status(c: *mut SecaggClient) -> i32 {
    guard(|| match unsafe { client(c) } {
        Some(c) => match c.client.status() {
            ClientStatus::NeedsInput => 1,
            ClientStatus::Finished(Outcome::Included) => 2,
            ClientStatus::Finished(_) => 3,
            ClientStatus::Aborted(_) => 4,
            _ => 0,
        },
        None => set_error(SECAGG_ERR_ARGUMENT, "null client"),
    })
}

/// How many input coordinates were clipped (-1 before the input is set).
///
/// # Safety
/// `c` a live client.
#[no_mangle]
pub unsafe extern "C" fn secagg_client_clipped(c: *mut SecaggClient) -> i64 {
    match unsafe { client(c) } {
        Some(c) => c.client.clipped_coordinates().map_or(-1, |n| n as i64),
        None => i64::from(set_error(SECAGG_ERR_ARGUMENT, "null client")),
    }
}

/// Copies this thread's last error message into `buf` (at most `cap - 1` bytes and a NUL);
/// returns the message's full length.
///
/// # Safety
/// `buf` writable for `cap` bytes (or null with `cap` 0).
#[no_mangle]
pub unsafe extern "C" fn secagg_last_error(buf: *mut std::ffi::c_char, cap: usize) -> usize {
    LAST_ERROR.with_borrow(|e| {
        if !buf.is_null() && cap > 0 {
            let n = e.len().min(cap - 1);
            // SAFETY: `buf` has `cap > n` writable bytes (caller's promise); `c_char` and `u8`
            // have the same size and alignment, and any byte is a valid `u8`.
            let dst = unsafe { std::slice::from_raw_parts_mut(buf.cast::<u8>(), cap) };
            dst[..n].copy_from_slice(&e.as_bytes()[..n]);
            dst[n] = 0;
        }
        e.len()
    })
}

/// Frees a client (its secrets are erased). Null is ignored.
///
/// # Safety
/// `c` null or a live client, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn secagg_client_free(c: *mut SecaggClient) {
    if !c.is_null() {
        // SAFETY: from `Box::into_raw` in `secagg_client_start`, freed once (caller's promise).
        drop(unsafe { Box::from_raw(c) });
    }
}
