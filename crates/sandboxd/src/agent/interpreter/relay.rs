//! A size filter in front of each ZMQ connection to a kernel. The kernel runs user code and
//! user code can write anything on its sockets; the `zeromq` crate trusts a frame's length
//! field (it reserves that much memory up front, so a header claiming 2^62 bytes aborts the
//! agent) and buffers a whole multipart message. So the agent's ZMQ sockets connect to a
//! relay of its own (an abstract unix socket that accepts only the agent itself), which
//! connects to the kernel's endpoint, passes requests through, and reads the kernel's side
//! of ZMTP 3 frame by frame: the 64-byte greeting, then frames `flags, length (1 or 8
//! bytes), body`.
//!
//! A message (the sum of its frames) longer than [`MAX_KERNEL_MESSAGE`] is dropped: what was
//! already forwarded of it is ended with an empty last frame (the receiver then discards it:
//! its signature no longer matches), the rest is skipped as it streams by, and the drop is
//! reported so the running execution can say so. A command frame (handshake, ping) longer
//! than [`MAX_COMMAND`] is a broken peer: the connection is closed (ZMQ reconnects).

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Largest message the agent takes from a kernel (one `display_data` with a big image or
/// HTML table is a few MiB; results of a whole execution are capped at 128 MiB anyway).
pub const MAX_KERNEL_MESSAGE: u64 = 32 << 20;
/// Largest ZMTP command frame (READY with its metadata, PING/PONG).
const MAX_COMMAND: u64 = 64 << 10;
const GREETING: usize = 64;
const READ_CHUNK: usize = 64 << 10;

/// Where a kernel listens.
#[derive(Debug, Clone)]
pub enum Target {
    Unix(PathBuf),
    Tcp(SocketAddr),
}

/// A running relay; dropping it stops accepting (open connections end with the kernel).
pub struct Relay {
    /// The ZMQ endpoint to connect to instead of the kernel's.
    pub endpoint: String,
    task: JoinHandle<()>,
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Relay {
    /// Starts a relay to `target`; each dropped message's size (at least) goes to `dropped`.
    pub fn start(target: Target, dropped: mpsc::Sender<u64>) -> io::Result<Relay> {
        // An abstract name nobody can guess: it cannot be taken over through the file
        // system, and is gone with the agent.
        let name = format!("\0e2b-kernel-relay-{}", uuid::Uuid::new_v4().simple());
        let listener = UnixListener::bind(&name)?;
        let task = tokio::spawn(async move {
            loop {
                let Ok((agent, _)) = listener.accept().await else {
                    return;
                };
                // Only the agent's own sockets may use it.
                let own = std::process::id() as i32;
                if agent.peer_cred().ok().and_then(|c| c.pid()) != Some(own) {
                    continue;
                }
                let (target, dropped) = (target.clone(), dropped.clone());
                tokio::spawn(async move {
                    match connect(&target).await {
                        Ok(kernel) => pipe(agent, kernel, dropped).await,
                        Err(e) => tracing::warn!("cannot reach the kernel at {target:?}: {e}"),
                    }
                });
            }
        });
        Ok(Relay {
            endpoint: format!("ipc://{name}"),
            task,
        })
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

async fn connect(target: &Target) -> io::Result<Box<dyn Io>> {
    Ok(match target {
        Target::Unix(path) => Box::new(UnixStream::connect(path).await?),
        Target::Tcp(addr) => Box::new(tokio::net::TcpStream::connect(addr).await?),
    })
}

/// Copies requests to the kernel as they are and the kernel's frames through the filter,
/// until either side closes (then both are closed).
async fn pipe(agent: UnixStream, kernel: Box<dyn Io>, dropped: mpsc::Sender<u64>) {
    let (mut agent_rx, mut agent_tx) = agent.into_split();
    let (mut kernel_rx, mut kernel_tx) = tokio::io::split(kernel);
    let up = tokio::io::copy(&mut agent_rx, &mut kernel_tx);
    let down = async {
        let mut filter = FrameFilter::new(MAX_KERNEL_MESSAGE);
        let mut buf = vec![0u8; READ_CHUNK];
        let mut out = Vec::with_capacity(READ_CHUNK + 16);
        loop {
            let n = match kernel_rx.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            out.clear();
            let drops = match filter.feed(&buf[..n], &mut out) {
                Ok(d) => d,
                Err(e) => {
                    tracing::warn!("closing a kernel connection: {e}");
                    return;
                }
            };
            for size in drops {
                tracing::warn!("dropped a kernel message of at least {size} bytes");
                let _ = dropped.try_send(size);
            }
            if !out.is_empty() && agent_tx.write_all(&out).await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        _ = up => {}
        _ = down => {}
    }
}

/// The kernel-to-agent half of a ZMTP 3 stream, checked frame by frame without holding any
/// frame: sans I/O, so it can be tested on its own.
#[derive(Debug)]
pub struct FrameFilter {
    limit: u64,
    state: State,
    /// Bytes of the current message so far (forwarded frames).
    message: u64,
    /// Some frame of the current message was forwarded.
    forwarded: bool,
    /// The current message is being dropped.
    dropping: bool,
    /// The frame being read has the MORE flag.
    more: bool,
}

#[derive(Debug, Clone, Copy)]
enum State {
    Greeting(usize),
    Header { buf: [u8; 9], have: usize },
    Pass { left: u64, command: bool },
    Skip { left: u64 },
}

const FLAG_MORE: u8 = 0x01;
const FLAG_LONG: u8 = 0x02;
const FLAG_COMMAND: u8 = 0x04;

impl FrameFilter {
    pub fn new(limit: u64) -> Self {
        FrameFilter {
            limit,
            state: State::Greeting(GREETING),
            message: 0,
            forwarded: false,
            dropping: false,
            more: false,
        }
    }

    /// Filters `input`, appending what may reach the agent to `out`. Returns the sizes (at
    /// least) of the messages whose dropping started here, or why the connection must close.
    pub fn feed(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<Vec<u64>, String> {
        let mut drops = Vec::new();
        while !input.is_empty() {
            match &mut self.state {
                State::Greeting(left) => {
                    let n = (*left).min(input.len());
                    out.extend_from_slice(&input[..n]);
                    input = &input[n..];
                    *left -= n;
                    if *left == 0 {
                        self.state = State::Header {
                            buf: [0; 9],
                            have: 0,
                        };
                    }
                }
                State::Header { buf, have } => {
                    // The flags byte says how long the length field is: 1 byte, or 8.
                    let total = |buf: &[u8; 9], have: usize| {
                        if have >= 1 && buf[0] & FLAG_LONG != 0 {
                            9
                        } else {
                            2
                        }
                    };
                    let n = (total(buf, *have) - *have).min(input.len());
                    buf[*have..*have + n].copy_from_slice(&input[..n]);
                    *have += n;
                    input = &input[n..];
                    let long = buf[0] & FLAG_LONG != 0;
                    if *have < total(buf, *have) {
                        continue;
                    }
                    let (flags, header) = (buf[0], *buf);
                    let header = &header[..if long { 9 } else { 2 }];
                    let len = if long {
                        u64::from_be_bytes(header[1..9].try_into().expect("8 bytes"))
                    } else {
                        header[1] as u64
                    };
                    self.on_header(flags, header, len, out, &mut drops)?;
                }
                State::Pass { left, command } => {
                    let n = (*left).min(input.len() as u64) as usize;
                    out.extend_from_slice(&input[..n]);
                    input = &input[n..];
                    *left -= n as u64;
                    if *left == 0 {
                        let command = *command;
                        self.end_frame(command);
                    }
                }
                State::Skip { left } => {
                    let n = (*left).min(input.len() as u64) as usize;
                    input = &input[n..];
                    *left -= n as u64;
                    if *left == 0 {
                        self.end_frame(false);
                    }
                }
            }
        }
        Ok(drops)
    }

    fn on_header(
        &mut self,
        flags: u8,
        header: &[u8],
        len: u64,
        out: &mut Vec<u8>,
        drops: &mut Vec<u64>,
    ) -> Result<(), String> {
        if flags & FLAG_COMMAND != 0 {
            if len > MAX_COMMAND {
                return Err(format!(
                    "a ZMTP command of {len} bytes (more than {MAX_COMMAND})"
                ));
            }
            out.extend_from_slice(header);
            self.state = State::Pass {
                left: len,
                command: true,
            };
        } else {
            self.more = flags & FLAG_MORE != 0;
            if !self.dropping && self.message.saturating_add(len) > self.limit {
                self.dropping = true;
                drops.push(self.message.saturating_add(len));
                if self.forwarded {
                    // End what the receiver holds of this message with an empty last frame.
                    out.extend_from_slice(&[0, 0]);
                }
            }
            if self.dropping {
                self.state = State::Skip { left: len };
            } else {
                out.extend_from_slice(header);
                self.message += len;
                self.forwarded = true;
                self.state = State::Pass {
                    left: len,
                    command: false,
                };
            }
        }
        if len == 0 {
            let command = flags & FLAG_COMMAND != 0;
            self.end_frame(command);
        }
        Ok(())
    }

    fn end_frame(&mut self, command: bool) {
        self.state = State::Header {
            buf: [0; 9],
            have: 0,
        };
        if !command && !self.more {
            self.message = 0;
            self.forwarded = false;
            self.dropping = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(more: bool, body: &[u8]) -> Vec<u8> {
        let flags = if more { FLAG_MORE } else { 0 };
        let mut f = if body.len() > 255 {
            let mut h = vec![flags | FLAG_LONG];
            h.extend_from_slice(&(body.len() as u64).to_be_bytes());
            h
        } else {
            vec![flags, body.len() as u8]
        };
        f.extend_from_slice(body);
        f
    }

    fn message(frames: &[&[u8]]) -> Vec<u8> {
        let last = frames.len() - 1;
        frames
            .iter()
            .enumerate()
            .flat_map(|(i, b)| frame(i != last, b))
            .collect()
    }

    fn run(filter: &mut FrameFilter, input: &[u8], step: usize) -> (Vec<u8>, Vec<u64>) {
        let mut out = Vec::new();
        let mut drops = Vec::new();
        for c in input.chunks(step) {
            drops.extend(filter.feed(c, &mut out).unwrap());
        }
        (out, drops)
    }

    #[test]
    fn frames_within_the_limit_pass_unchanged_in_any_chunking() {
        let mut stream = vec![0xffu8; GREETING];
        stream.extend([FLAG_COMMAND, 5]);
        stream.extend(b"READY");
        stream.extend(message(&[b"topic", b"<IDS|MSG>", &[b'x'; 300], b""]));
        stream.extend(message(&[&[b'y'; 1000]]));
        for step in [1, 2, 3, 9, 10, 64, 4096] {
            let mut f = FrameFilter::new(1400);
            let (out, drops) = run(&mut f, &stream, step);
            assert_eq!(out, stream, "step {step}");
            assert!(drops.is_empty());
        }
    }

    #[test]
    fn an_oversized_message_is_cut_and_skipped_and_the_next_one_passes() {
        let mut stream = vec![0u8; GREETING];
        let big = message(&[b"<IDS|MSG>", &[b'a'; 600], &[b'b'; 600], b"tail"]);
        let next = message(&[b"<IDS|MSG>", b"ok"]);
        stream.extend(&big);
        stream.extend(&next);
        for step in [1, 7, 4096] {
            let mut f = FrameFilter::new(1000);
            let (out, drops) = run(&mut f, &stream, step);
            // Greeting, the frames that fitted, an empty last frame, then the next message.
            let mut expected = vec![0u8; GREETING];
            expected.extend(frame(true, b"<IDS|MSG>"));
            expected.extend(frame(true, &[b'a'; 600]));
            expected.extend([0, 0]);
            expected.extend(&next);
            assert_eq!(out, expected, "step {step}");
            assert_eq!(drops, [9 + 600 + 600], "step {step}");
        }
    }

    #[test]
    fn a_frame_claiming_4_gib_is_skipped_without_being_held() {
        let mut f = FrameFilter::new(MAX_KERNEL_MESSAGE);
        let mut out = Vec::new();
        let mut stream = vec![0u8; GREETING];
        stream.push(FLAG_LONG);
        stream.extend((4u64 << 30).to_be_bytes());
        let drops = f.feed(&stream, &mut out).unwrap();
        assert_eq!(drops, [4 << 30]);
        assert_eq!(out.len(), GREETING);
        // Whatever follows is part of that frame: dropped as it streams by.
        for _ in 0..100 {
            assert!(f.feed(&[7u8; 65536], &mut out).unwrap().is_empty());
        }
        assert_eq!(out.len(), GREETING);
    }

    #[tokio::test]
    async fn the_relay_passes_requests_and_filters_the_kernels_frames() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k-2");
        let kernel = UnixListener::bind(&path).unwrap();
        let (dropped_tx, mut dropped_rx) = mpsc::channel(8);
        let relay = Relay::start(Target::Unix(path), dropped_tx).unwrap();
        let name = relay.endpoint.strip_prefix("ipc://").unwrap().to_string();
        let mut agent = UnixStream::connect(&name).await.unwrap();
        let (mut k, _) = kernel.accept().await.unwrap();
        // Requests pass as they are.
        agent.write_all(b"request bytes").await.unwrap();
        let mut got = [0u8; 13];
        k.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"request bytes");
        // The kernel's greeting passes; a frame claiming 4 GiB does not, and is reported.
        let mut out = vec![0u8; GREETING];
        out.push(FLAG_LONG);
        out.extend((4u64 << 30).to_be_bytes());
        out.extend([b'z'; 1000]);
        k.write_all(&out).await.unwrap();
        let mut greeting = vec![0u8; GREETING];
        agent.read_exact(&mut greeting).await.unwrap();
        assert_eq!(dropped_rx.recv().await, Some(4 << 30));
        // The kernel closing ends the agent's connection, with nothing else sent.
        drop(k);
        let mut rest = Vec::new();
        agent.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty());
    }

    #[test]
    fn an_oversized_command_closes_the_connection() {
        let mut f = FrameFilter::new(MAX_KERNEL_MESSAGE);
        let mut stream = vec![0u8; GREETING];
        stream.push(FLAG_COMMAND | FLAG_LONG);
        stream.extend((1u64 << 40).to_be_bytes());
        assert!(f.feed(&stream, &mut Vec::new()).is_err());
    }
}
