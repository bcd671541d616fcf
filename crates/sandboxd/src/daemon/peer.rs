//! Who is on the other end of a loopback TCP connection: the daemon serves only its own user
//! (and root), whatever the request carries. Loopback TCP has no `SO_PEERCRED`, so the owner
//! of the peer's socket is asked from the kernel's socket diagnostics (`NETLINK_SOCK_DIAG`,
//! an exact lookup of the connection's 4-tuple, answered with the uid that created the
//! socket). A connection whose owner cannot be established is refused.
//!
//! This closes the "another local user" class for every listener (the API, the data plane,
//! debug mode), independent of tokens: a leaked API key or access token is useless to
//! another uid on the machine.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::Duration;

use http::StatusCode;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use netlink_packet_core::{NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_REQUEST};
use netlink_packet_sock_diag::constants::{AF_INET, AF_INET6, IPPROTO_TCP};
use netlink_packet_sock_diag::inet::{ExtensionFlags, InetRequest, SocketId, StateFlags};
use netlink_packet_sock_diag::SockDiagMessage;
use netlink_sys::protocols::NETLINK_SOCK_DIAG;
use netlink_sys::Socket;

use super::http::error_json;

/// The uids a daemon accepts connections from.
#[derive(Debug, Clone, Copy)]
pub struct PeerPolicy {
    /// The daemon's own (real) uid.
    pub owner: u32,
}

impl PeerPolicy {
    pub fn current() -> PeerPolicy {
        PeerPolicy {
            // SAFETY: getuid has no preconditions and cannot fail.
            owner: unsafe { libc::getuid() },
        }
    }

    pub fn allows(&self, uid: u32) -> bool {
        uid == self.owner || uid == 0
    }

    /// Checks the peer of an accepted connection: `Ok(uid)` when it may be served, `Err` with
    /// the reason (for the refusal and the log) otherwise.
    pub fn check(&self, peer: SocketAddr, local: SocketAddr) -> Result<u32, String> {
        match socket_owner(peer, local) {
            Ok(uid) if self.allows(uid) => Ok(uid),
            Ok(uid) => Err(format!(
                "connection from uid {uid} refused: this daemon serves only uid {} (and root)",
                self.owner
            )),
            Err(e) => Err(format!(
                "connection from {peer} refused: its owner cannot be established ({e})"
            )),
        }
    }
}

/// Checks that the owner of a loopback connection can be found (this process's uid).
pub fn self_test() -> io::Result<()> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let _client = std::net::TcpStream::connect(listener.local_addr()?)?;
    let (server, peer) = listener.accept()?;
    let uid = socket_owner(peer, server.local_addr()?)?;
    let me = PeerPolicy::current().owner;
    if uid != me {
        return Err(io::Error::other(format!(
            "a connection of uid {me} was reported as uid {uid}"
        )));
    }
    Ok(())
}

/// Admits an accepted connection, or answers it `403` (with the reason) and closes it.
pub(crate) fn admit(policy: PeerPolicy, stream: TcpStream, peer: SocketAddr) -> Option<TcpStream> {
    let checked = stream
        .local_addr()
        .map_err(|e| format!("connection refused: no local address ({e})"))
        .and_then(|local| policy.check(peer, local));
    let reason = match checked {
        Ok(_) => return Some(stream),
        Err(reason) => reason,
    };
    tracing::warn!("{reason}");
    tokio::spawn(async move {
        let service = service_fn(move |_req| {
            let resp = error_json(StatusCode::FORBIDDEN, reason.clone());
            async move { Ok::<_, Infallible>(resp) }
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .keep_alive(false)
            .serve_connection(TokioIo::new(stream), service);
        let _ = tokio::time::timeout(Duration::from_secs(5), conn).await;
    });
    None
}

/// The uid that owns the TCP socket at `peer` connected to `local` (both on this host).
pub fn socket_owner(peer: SocketAddr, local: SocketAddr) -> io::Result<u32> {
    let mut socket = Socket::new(NETLINK_SOCK_DIAG)?;
    socket.bind_auto()?;
    socket.connect(&netlink_sys::SocketAddr::new(0, 0))?;
    let timeout = libc::timeval {
        tv_sec: 1,
        tv_usec: 0,
    };
    // SAFETY: a valid fd owned by `socket`, and a pointer to a timeval that outlives the call
    // with its exact size.
    let r = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&timeout as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }

    // The peer's socket has the peer address as its source and ours as its destination.
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST;
    let mut request = NetlinkMessage::new(
        header,
        SockDiagMessage::InetRequest(InetRequest {
            family: if peer.is_ipv4() { AF_INET } else { AF_INET6 },
            protocol: IPPROTO_TCP,
            extensions: ExtensionFlags::empty(),
            states: StateFlags::all(),
            socket_id: SocketId {
                source_port: peer.port(),
                destination_port: local.port(),
                source_address: peer.ip(),
                destination_address: local.ip(),
                interface_id: 0,
                // INET_DIAG_NOCOOKIE: match on the addresses alone.
                cookie: [0xff; 8],
            },
        })
        .into(),
    );
    request.finalize();
    let mut buf = vec![0u8; request.buffer_len()];
    request.serialize(&mut buf);
    socket.send(&buf, 0)?;

    let mut reply = vec![0u8; 8192];
    let n = socket.recv(&mut &mut reply[..], 0)?;
    let message = NetlinkMessage::<SockDiagMessage>::deserialize(&reply[..n])
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
    match message.payload {
        NetlinkPayload::InnerMessage(SockDiagMessage::InetResponse(r)) => Ok(r.header.uid),
        NetlinkPayload::Error(e) => Err(match e.code {
            Some(code) => io::Error::from_raw_os_error(-code.get()),
            None => io::Error::other("socket diagnostics answered without a socket"),
        }),
        other => Err(io::Error::other(format!(
            "unexpected socket diagnostics answer: {other:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_owner_of_a_loopback_connection() {
        self_test().unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let _client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, peer) = listener.accept().unwrap();
        assert!(PeerPolicy::current()
            .check(peer, server.local_addr().unwrap())
            .is_ok());
    }

    #[test]
    fn an_unknown_connection_is_refused() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let local = listener.local_addr().unwrap();
        let nobody: SocketAddr = "127.0.0.1:9".parse().unwrap();
        assert!(socket_owner(nobody, local).is_err());
        assert!(PeerPolicy::current().check(nobody, local).is_err());
    }

    #[test]
    fn policy_allows_owner_and_root_only() {
        let p = PeerPolicy { owner: 1234 };
        assert!(p.allows(1234) && p.allows(0));
        assert!(!p.allows(1235) && !p.allows(65534));
    }
}
