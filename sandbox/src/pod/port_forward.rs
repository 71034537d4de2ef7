//! `port-forward`'s way into a pod: TCP connections to `127.0.0.1:PORT` inside the pod's
//! network namespace, made from the host, with no process in the pod (as the kubelet's CRI
//! `PortForward` does). A socket belongs to the network namespace it was created in, so each
//! connection is made by a short-lived thread that first joins the pod's (pinned, verified)
//! namespace with `setns`; the calling thread never leaves the host's.

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddrV4, TcpStream};
use std::os::fd::AsFd;

use nix::sched::CloneFlags;

use crate::error::{Context, Result};
use crate::host::Host;
use crate::state;
use crate::sys::namespace::NamespaceKind;
use crate::sys::process::PidFd;

/// A running pod's network namespace, open, and its pause (whose end is the pod's stop).
#[derive(Debug)]
pub struct PodDialer {
    pod: String,
    netns: File,
    pause: PidFd,
}

impl Host {
    /// Opens pod `pod`'s network namespace for connections into it; the pod must be running.
    pub fn pod_dialer(&self, pod: &str) -> Result<PodDialer> {
        let paths = self.store.pod(pod)?;
        let record = state::pod::load(&paths)?;
        record.require_running(&self.boot_id)?;
        let not_running = || crate::Error::PodNotRunning {
            pod: pod.to_owned(),
            state: "stopped".to_owned(),
        };
        let pause = record
            .pause
            .as_ref()
            .ok_or_else(not_running)?
            .open(&self.boot_id)?
            .ok_or_else(not_running)?;
        let netns = record
            .open_namespaces(&paths)?
            .into_iter()
            .find(|(_, kind)| *kind == NamespaceKind::Net)
            .map(|(file, _)| file)
            .ok_or_else(not_running)?;
        Ok(PodDialer {
            pod: pod.to_owned(),
            netns,
            pause,
        })
    }
}

impl PodDialer {
    /// The pod's name.
    pub fn pod(&self) -> &str {
        &self.pod
    }

    /// A pidfd on the pod's pause: readable once the pod has stopped.
    pub fn pause(&self) -> &PidFd {
        &self.pause
    }

    /// Connects to `127.0.0.1:port` in the pod's network namespace.
    pub fn connect(&self, port: u16) -> Result<TcpStream> {
        let netns = &self.netns;
        let pod = &self.pod;
        std::thread::scope(|scope| {
            scope
                .spawn(move || {
                    nix::sched::setns(netns.as_fd(), CloneFlags::CLONE_NEWNET)
                        .context(|| format!("joining the network namespace of sandbox {pod:?}"))?;
                    TcpStream::connect(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port))
                        .context(|| format!("connecting to 127.0.0.1:{port} in sandbox {pod:?}"))
                })
                .join()
                .unwrap_or_else(|_| {
                    Err(crate::Error::Io {
                        what: format!("connecting to 127.0.0.1:{port} in sandbox {pod:?}"),
                        source: std::io::Error::other("the connecting thread panicked"),
                    })
                })
        })
    }
}
