//! A native coordinator for clients in other processes, over pipes: spawns `client_pipe` ten
//! times (the default client policy wants at least 10; build it first, see below), kills one
//! after its first message (a dropout), runs the sans-IO `Server`, and checks that the
//! dequantized sum is exactly the survivors' sum (inputs are multiples of 2^-15 inside the clip
//! bound, which the quantizer represents exactly).
//!
//! ```text
//! cargo build --example client_pipe --no-default-features --features std,client,getrandom
//! cargo run --example pipe_round
//! cargo run --example pipe_round -- node wasm/client.js   # the client in WebAssembly
//! ```
//! Frames are `u32` big-endian length + bytes in both directions (see `client_pipe.rs`).
use std::io::{Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use secagg::ids::ParticipantId;
use secagg::protocol::{Server, SessionParams};

const N: u16 = 10;
const LEN: usize = 4;
/// This client is killed after its round-0 message.
const DROPPED: usize = 2;

fn write_frame(w: &mut impl Write, bytes: &[u8]) -> std::io::Result<()> {
    w.write_all(&(bytes.len() as u32).to_be_bytes())?;
    w.write_all(bytes)?;
    w.flush()
}

fn read_frame(r: &mut impl Read) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len)?;
    let mut buf = vec![0u8; u32::from_be_bytes(len) as usize];
    r.read_exact(&mut buf)?;
    Ok(buf)
}

/// Client `i`'s input: multiples of 2^-15 in [-1, 1].
fn input(i: usize) -> Vec<f32> {
    (0..LEN)
        .map(|j| (i as f32 * 3.0 - j as f32) / 32.0)
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The client command: the arguments if any (e.g. `node wasm/client.js`), else client_pipe.
    let mut command: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    if command.is_empty() {
        command.push(
            std::env::current_exe()?
                .with_file_name("client_pipe")
                .into(),
        );
    }
    let exe = std::path::PathBuf::from(&command[0]);
    let ids: Vec<ParticipantId> = (1..=N).filter_map(ParticipantId::new).collect();
    let params = SessionParams::builder(
        *b"pipe_round example nonce 0000001",
        ids.clone(),
        LEN as u32,
    )
    .dropout_rate(0.2)
    .quantization(1.0, (1 << 16) + 1)
    .round_timeouts_ms([5_000; 5])
    .build()?;
    println!(
        "session: n = {N}, L = {LEN}, graph {:?}, t = {}, client {} drops out after round 0",
        params.graph, params.threshold, ids[DROPPED]
    );
    let encoded = params.encode();
    let params = Arc::new(params);
    let (tx, rx) = mpsc::channel::<(ParticipantId, Vec<u8>)>();
    let mut children: Vec<Child> = Vec::new();
    let mut stdins: Vec<Option<ChildStdin>> = Vec::new();
    for (i, &id) in ids.iter().enumerate() {
        let mut cmd = Command::new(&exe);
        cmd.args(&command[1..]);
        cmd.arg(id.get().to_string());
        cmd.args(input(i).iter().map(|x| x.to_string()));
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| {
                format!(
                    "{}: {e} (build the client_pipe example first)",
                    exe.display()
                )
            })?;
        let mut stdin = child.stdin.take().ok_or("no stdin")?;
        write_frame(&mut stdin, &encoded)?;
        let mut stdout = child.stdout.take().ok_or("no stdout")?;
        let tx = tx.clone();
        std::thread::spawn(move || {
            while let Ok(frame) = read_frame(&mut stdout) {
                if tx.send((id, frame)).is_err() {
                    break;
                }
            }
        });
        children.push(child);
        stdins.push(Some(stdin));
    }
    drop(tx);
    let start = Instant::now();
    let now = || start.elapsed().as_millis() as u64;
    let mut server = Server::new(params.clone(), now())?;
    loop {
        while let Some((to, bytes)) = server.poll_transmit() {
            let i = params.index_of(to).ok_or("unknown recipient")?;
            if let Some(w) = stdins[i].as_mut() {
                // A client that already left closes its pipe; the server learns at its deadline.
                let _ = write_frame(w, &bytes);
            }
        }
        if server.result().is_some() {
            break;
        }
        let wait = server.poll_timeout().unwrap_or(0).saturating_sub(now());
        match rx.recv_timeout(Duration::from_millis(wait.max(1))) {
            Ok((from, frame)) => {
                let i = params.index_of(from).ok_or("unknown sender")?;
                if i == DROPPED && stdins[i].is_some() {
                    // Its AdvertiseKeys counts; then it vanishes.
                    stdins[i] = None;
                    children[i].kill()?;
                }
                if let Err(e) = server.handle_message(from, &frame, now()) {
                    println!("refused: {e}");
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => server.handle_timeout(now()),
            Err(mpsc::RecvTimeoutError::Disconnected) => server.handle_timeout(u64::MAX),
        }
    }
    // Deliver the Finished messages, then let the clients exit.
    while let Some((to, bytes)) = server.poll_transmit() {
        if let Some(w) = params.index_of(to).and_then(|i| stdins[i].as_mut()) {
            let _ = write_frame(w, &bytes);
        }
    }
    drop(stdins);
    for c in &mut children {
        c.wait()?;
    }
    let out = match server.result() {
        Some(Ok(out)) => out,
        other => return Err(format!("session failed: {other:?}").into()),
    };
    let survivors: Vec<usize> = (0..N as usize).filter(|&i| i != DROPPED).collect();
    let want: Vec<f64> = (0..LEN)
        .map(|j| survivors.iter().map(|&i| f64::from(input(i)[j])).sum())
        .collect();
    println!("included: {:?}", out.included);
    println!("sum:      {:?}", out.dequantized_sum());
    println!("expected: {want:?}");
    let exact = out
        .dequantized_sum()
        .iter()
        .zip(&want)
        .all(|(a, b)| (a - b).abs() < 1e-9);
    if out.included.len() != survivors.len() || !exact {
        return Err("wrong sum".into());
    }
    println!(
        "exact sum of the {} surviving clients over pipes",
        survivors.len()
    );
    Ok(())
}
