//! A client-only driver over stdin/stdout, and the size probe for a client-only build: frames
//! are `u32` big-endian length + bytes; the first frame from the coordinator is the encoded
//! session parameters, every later one a protocol message. The input is the program's
//! arguments after the participant id.
//!
//! ```text
//! cargo build --release --example client_pipe --no-default-features --features std,client,getrandom
//! client_pipe <participant id> <x_1> ... <x_L>   (stdin/stdout connected to the coordinator)
//! ```
use std::io::{Read, Write};
use std::sync::Arc;

use secagg::ids::ParticipantId;
use secagg::protocol::{Client, ClientPolicy, ClientStatus, SessionParams};

/// The largest frame accepted (the policy bounds the real sizes once the parameters are read).
const MAX_FRAME: usize = 1 << 28;

fn read_frame(r: &mut impl Read) -> Result<Vec<u8>, String> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len).map_err(|e| e.to_string())?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(format!("frame of {len} bytes"));
    }
    let mut buf = vec![0u8; len];
    r.read_exact(&mut buf).map_err(|e| e.to_string())?;
    Ok(buf)
}

fn write_frame(w: &mut impl Write, bytes: &[u8]) -> Result<(), String> {
    let len = u32::try_from(bytes.len()).map_err(|_| "frame too long")?;
    w.write_all(&len.to_be_bytes()).map_err(|e| e.to_string())?;
    w.write_all(bytes).map_err(|e| e.to_string())?;
    w.flush().map_err(|e| e.to_string())
}

fn run() -> Result<String, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let id: u16 = args
        .first()
        .ok_or("usage: client_pipe ID X...")?
        .parse()
        .map_err(|_| "bad id")?;
    let me = ParticipantId::new(id).ok_or("id 0")?;
    let input: Vec<f32> = args[1..]
        .iter()
        .map(|a| a.parse().map_err(|_| format!("bad input {a}")))
        .collect::<Result<_, _>>()?;
    let (mut stdin, mut stdout) = (std::io::stdin().lock(), std::io::stdout().lock());
    let params = SessionParams::decode(&read_frame(&mut stdin)?).map_err(|e| e.to_string())?;
    let policy = ClientPolicy::new(input.len() as u32);
    let mut rng = secagg::rng::os_rng().map_err(|e| e.to_string())?;
    let (mut client, hello) =
        Client::start(Arc::new(params), &policy, me, None, &mut rng).map_err(|e| e.to_string())?;
    write_frame(&mut stdout, &hello)?;
    client
        .set_input(&input, 1, &mut rng)
        .map_err(|e| e.to_string())?;
    loop {
        if let ClientStatus::Finished(outcome) = client.status() {
            let clipped = client.clipped_coordinates().unwrap_or(0);
            return Ok(format!("{outcome:?}, {clipped} coordinates clipped"));
        }
        let msg = read_frame(&mut stdin)?;
        if let Some(reply) = client.handle(&msg, &mut rng).map_err(|e| e.to_string())? {
            write_frame(&mut stdout, &reply)?;
        }
    }
}

fn main() {
    match run() {
        Ok(s) => eprintln!("client: {s}"),
        Err(e) => {
            eprintln!("client: {e}");
            std::process::exit(1);
        }
    }
}
