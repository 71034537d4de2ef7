//! `sandbox port-forward POD [LOCAL_ADDR:]LOCAL_PORT:POD_PORT... [--address ADDR]`: listen on
//! the host and relay every TCP connection to `127.0.0.1:POD_PORT` inside the pod's network
//! namespace (as `kubectl port-forward` does through the kubelet), both ways, with half-close,
//! until Ctrl-C or the pod stops. No process runs in the pod: each connection into it is a
//! socket made in its namespace (`sandbox::pod::PodDialer`).

use std::io::{Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use sandbox::pod::PodDialer;
use sandbox::{Error, Host, Result};

/// The signals that end the forwarder (exit 0).
const ENDING: [i32; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];
/// What one read moves at most.
const CHUNK: usize = 256 * 1024;

/// `port-forward`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Prints `Forwarding from ADDR:PORT -> POD_PORT` for each port, as kubectl does (LOCAL_PORT 0, or \
`:POD_PORT`, picks a free port; a lone PORT is both). A connection the pod refuses is closed, \
with a line on stderr; the forwarder goes on. It ends, with 0, on Ctrl-C (SIGINT, SIGTERM, \
SIGHUP) or when the pod stops; 125 if the pod is gone.")]
pub struct Args {
    /// Pod name.
    pub pod: String,
    /// Ports: [LOCAL_ADDR:]LOCAL_PORT:POD_PORT, :POD_PORT or PORT.
    #[arg(required = true, value_name = "PORTS")]
    pub ports: Vec<String>,
    /// The address to listen on where a spec gives none.
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDR")]
    pub address: IpAddr,
}

/// One forwarded port, as given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Forward {
    local: SocketAddr,
    pod_port: u16,
}

/// Parses `[LOCAL_ADDR:]LOCAL_PORT:POD_PORT`, `:POD_PORT` (a free local port) or `PORT`.
fn parse(spec: &str, address: IpAddr) -> Result<Forward> {
    let invalid = |reason: &str| Error::InvalidInput {
        what: "port-forward spec",
        value: spec.to_owned(),
        reason: reason.to_owned(),
    };
    let port = |text: &str, zero_ok: bool| match text.parse::<u16>() {
        Ok(0) if !zero_ok => Err(invalid("a pod port is 1 to 65535")),
        Ok(port) => Ok(port),
        Err(_) => Err(invalid(
            "expected [LOCAL_ADDR:]LOCAL_PORT:POD_PORT, :POD_PORT or PORT (ports 1 to 65535; a \
             local port of 0 picks a free one)",
        )),
    };
    let (local, pod) = match spec.rsplit_once(':') {
        None => (None, spec),
        Some((local, pod)) => (Some(local), pod),
    };
    let pod_port = port(pod, false)?;
    let local = match local {
        None => SocketAddr::new(address, pod_port),
        Some("") => SocketAddr::new(address, 0),
        Some(local) => match local.rsplit_once(':') {
            None => SocketAddr::new(address, port(local, true)?),
            Some((ip, local_port)) => {
                let ip = ip.trim_start_matches('[').trim_end_matches(']');
                let ip: IpAddr = ip
                    .parse()
                    .map_err(|_| invalid("the local address is not an IP address"))?;
                SocketAddr::new(ip, port(local_port, true)?)
            }
        },
    };
    Ok(Forward { local, pod_port })
}

pub fn run(host: &Host, args: Args) -> Result<u8> {
    let forwards = args
        .ports
        .iter()
        .map(|spec| parse(spec, args.address))
        .collect::<Result<Vec<_>>>()?;
    // Before the pod is checked or a port bound: a signal from now on ends us cleanly.
    let (signalled, signal_writer) = UnixStream::pair().map_err(|source| Error::Io {
        what: "making the signal pipe".to_owned(),
        source,
    })?;
    for signal in ENDING {
        let writer = signal_writer.try_clone().map_err(|source| Error::Io {
            what: "making the signal pipe".to_owned(),
            source,
        })?;
        signal_hook::low_level::pipe::register(signal, writer).map_err(|source| Error::Io {
            what: format!("handling signal {signal}"),
            source,
        })?;
    }
    let dialer = Arc::new(host.pod_dialer(&args.pod)?);
    let mut listeners = Vec::new();
    for forward in &forwards {
        let listener = TcpListener::bind(forward.local).map_err(|source| Error::Io {
            what: format!(
                "listening on {} to forward port {} of sandbox {:?}",
                forward.local, forward.pod_port, args.pod
            ),
            source,
        })?;
        let local = listener.local_addr().map_err(|source| Error::Io {
            what: format!("reading the address of the listener on {}", forward.local),
            source,
        })?;
        println!("Forwarding from {local} -> {}", forward.pod_port);
        listeners.push((listener, forward.pod_port));
    }
    loop {
        let mut fds = vec![
            PollFd::new(signalled.as_fd(), PollFlags::POLLIN),
            PollFd::new(dialer.pause().as_fd(), PollFlags::POLLIN),
        ];
        fds.extend(
            listeners
                .iter()
                .map(|(listener, _)| PollFd::new(listener.as_fd(), PollFlags::POLLIN)),
        );
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(source) => {
                return Err(Error::Os {
                    what: "waiting for connections to forward".to_owned(),
                    source,
                });
            }
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|fd| fd.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        if ready[0] {
            return Ok(0);
        }
        if ready[1] {
            return pod_ended(host, &args.pod);
        }
        for (i, (listener, pod_port)) in listeners.iter().enumerate() {
            if !ready[i + 2] {
                continue;
            }
            match listener.accept() {
                Ok((client, from)) => {
                    let dialer = Arc::clone(&dialer);
                    let pod_port = *pod_port;
                    std::thread::spawn(move || forward(&dialer, client, from, pod_port));
                }
                Err(error) => log::warn!("accepting a connection to forward: {error}"),
            }
        }
    }
}

/// The end of the forwarder once the pod's pause has exited: 0 if the pod stopped, 125 if it
/// is gone.
fn pod_ended(host: &Host, pod: &str) -> Result<u8> {
    match host.inspect_pod(pod) {
        Err(Error::PodNotFound(_)) => Err(Error::PodNotFound(pod.to_owned())),
        _ => {
            log::warn!("sandbox {pod:?} stopped; port-forward ends");
            Ok(0)
        }
    }
}

/// Relays one connection into the pod, or closes it with a line saying why.
fn forward(dialer: &PodDialer, client: TcpStream, from: SocketAddr, pod_port: u16) {
    let server = match dialer.connect(pod_port) {
        Ok(server) => server,
        Err(error) => {
            log::warn!(
                "connection from {from} closed: {}",
                sandbox::error_chain(&error)
            );
            return;
        }
    };
    let (Ok(client_reader), Ok(server_writer)) = (client.try_clone(), server.try_clone()) else {
        log::warn!("connection from {from} closed: cannot duplicate its socket");
        return;
    };
    let upstream = std::thread::spawn(move || copy(client_reader, server_writer));
    copy(server, client);
    let _ = upstream.join();
}

/// Copies `from` to `to` until `from`'s end of file, then ends `to`'s writing side: a
/// half-close goes through as a half-close.
fn copy(mut from: TcpStream, mut to: TcpStream) {
    let mut buffer = vec![0; CHUNK];
    loop {
        match from.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => {
                if to.write_all(&buffer[..n]).is_err() {
                    break;
                }
            }
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The default listening address.
    const LOOPBACK: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn specs_parse_as_kubectls() {
        let at = |ip: &str, port| SocketAddr::new(ip.parse().unwrap(), port);
        assert_eq!(
            parse("8080:80", LOOPBACK).unwrap(),
            Forward {
                local: at("127.0.0.1", 8080),
                pod_port: 80
            }
        );
        assert_eq!(parse(":80", LOOPBACK).unwrap().local.port(), 0);
        assert_eq!(parse("0:80", LOOPBACK).unwrap().local.port(), 0);
        assert_eq!(
            parse("5000", LOOPBACK).unwrap().local,
            at("127.0.0.1", 5000)
        );
        assert_eq!(
            parse("0.0.0.0:8080:80", LOOPBACK).unwrap().local,
            at("0.0.0.0", 8080)
        );
        assert_eq!(
            parse("[::1]:8080:80", LOOPBACK).unwrap().local,
            at("::1", 8080)
        );
        for bad in [
            "", "x", "80:0", "0", "70000:80", "a:1:2", "1:2:3:4", "-1:80",
        ] {
            assert!(parse(bad, LOOPBACK).is_err(), "{bad:?} accepted");
        }
    }
}
