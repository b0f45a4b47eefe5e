//! Network faults under quinn, for tests and experiments: a UDP socket wrapper that drops,
//! delays and reorders outgoing datagrams from a seeded RNG.
//!
//! Kernels without `netem` cannot emulate a lossy link, so the faults are injected where quinn
//! hands datagrams to the socket ([`quinn::AsyncUdpSocket::try_send`]). Wrap both the
//! coordinator's and the clients' sockets to fault both directions. Each datagram is dropped
//! with probability `loss`; the others are sent after `delay` plus a uniform jitter in
//! `[0, jitter]`, so datagrams overtake each other when the jitter exceeds their spacing.
//! Receiving is untouched. Deterministic for a given seed up to the scheduler's timing.

use std::fmt;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use chacha20::rand_core::{Rng, SeedableRng};
use chacha20::ChaCha20Rng;
use quinn::udp::{RecvMeta, Transmit};
use quinn::{AsyncUdpSocket, UdpPoller};

/// What to do to outgoing datagrams.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Faults {
    /// Probability of dropping a datagram, in `[0, 1]`.
    pub loss: f64,
    /// Added one-way delay.
    pub delay: Duration,
    /// Extra uniform delay in `[0, jitter]` (reorders datagrams closer than it).
    pub jitter: Duration,
    /// RNG seed.
    pub seed: u64,
}

/// A socket that applies [`Faults`] to what it sends.
pub struct FaultySocket {
    inner: Arc<dyn AsyncUdpSocket>,
    faults: Faults,
    rng: Mutex<ChaCha20Rng>,
}

impl fmt::Debug for FaultySocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultySocket")
            .field("faults", &self.faults)
            .finish_non_exhaustive()
    }
}

impl FaultySocket {
    /// Wraps a bound standard UDP socket (must be called within a tokio runtime).
    pub fn wrap(socket: std::net::UdpSocket, faults: Faults) -> io::Result<Arc<Self>> {
        use quinn::Runtime;
        let inner = quinn::TokioRuntime.wrap_udp_socket(socket)?;
        Ok(Arc::new(Self {
            inner,
            rng: Mutex::new(ChaCha20Rng::seed_from_u64(faults.seed)),
            faults,
        }))
    }

    /// A uniform draw in [0, 1).
    fn uniform(&self) -> f64 {
        let x = self.rng.lock().map(|mut r| r.next_u64()).unwrap_or(0);
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl AsyncUdpSocket for FaultySocket {
    fn create_io_poller(self: Arc<Self>) -> Pin<Box<dyn UdpPoller>> {
        self.inner.clone().create_io_poller()
    }

    fn try_send(&self, t: &Transmit) -> io::Result<()> {
        if self.uniform() < self.faults.loss {
            return Ok(()); // lost on the way
        }
        let wait = self.faults.delay + self.faults.jitter.mul_f64(self.uniform());
        if wait.is_zero() {
            return self.inner.try_send(t);
        }
        let (inner, dest, ecn, src_ip, bytes) = (
            self.inner.clone(),
            t.destination,
            t.ecn,
            t.src_ip,
            t.contents.to_vec(),
        );
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            let t = Transmit {
                destination: dest,
                ecn,
                contents: &bytes,
                segment_size: None,
                src_ip,
            };
            // A full socket buffer: retry shortly; other errors lose the datagram, which QUIC
            // recovers from like any loss.
            for _ in 0..100 {
                match inner.try_send(&t) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        tokio::time::sleep(Duration::from_millis(1)).await
                    }
                    _ => break,
                }
            }
        });
        Ok(())
    }

    fn poll_recv(
        &self,
        cx: &mut Context,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        self.inner.poll_recv(cx, bufs, meta)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    fn may_fragment(&self) -> bool {
        self.inner.may_fragment()
    }
}
