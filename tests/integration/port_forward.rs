//! Tests: `sandbox port-forward` into pods without a network (`--network none`): a web server
//! reached through it, many connections at once, half-close, a refused port, Ctrl-C and a
//! stopped pod. The forwarder and its clients run in a throwaway network namespace standing in
//! for the host (`sandbox_tests::network::ThrowawayHost`); the host's own network is not used.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsFd;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::Duration;

use sandbox_tests::network::ThrowawayHost;
use sandbox_tests::{Pod, ScratchDir, StateRoot, assert_exit};

/// A running `sandbox port-forward`, its ports as it printed them; interrupted on drop.
struct Forwarder {
    child: Child,
    ports: Vec<u16>,
    stderr: std::process::ChildStderr,
}

impl Forwarder {
    fn start(root: &StateRoot, pod: &Pod, specs: &[&str]) -> Forwarder {
        let mut cmd = root.command();
        cmd.arg("port-forward").arg(pod.name()).args(specs);
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut ports = Vec::new();
        for _ in specs {
            let mut line = String::new();
            stdout.read_line(&mut line).unwrap();
            // Forwarding from 127.0.0.1:PORT -> POD_PORT
            let local = line
                .strip_prefix("Forwarding from ")
                .and_then(|rest| rest.split(" -> ").next())
                .unwrap_or_else(|| panic!("unexpected line {line:?}"));
            ports.push(local.rsplit(':').next().unwrap().parse().unwrap());
        }
        let stderr = child.stderr.take().unwrap();
        Forwarder {
            child,
            ports,
            stderr,
        }
    }

    /// Sends SIGINT (a Ctrl-C) and returns the exit code and what it wrote on stderr.
    fn interrupt(mut self) -> (Option<i32>, String) {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGINT,
        )
        .unwrap();
        let status = self.child.wait().unwrap();
        let mut said = String::new();
        self.stderr.read_to_string(&mut said).unwrap();
        (status.code(), said)
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `f` on a thread in `host`'s network namespace (where the forwarder listens).
fn in_host<T: Send>(host: &ThrowawayHost, f: impl FnOnce() -> T + Send) -> T {
    let netns = std::fs::File::open(host.path()).unwrap();
    std::thread::scope(|scope| {
        scope
            .spawn(move || {
                nix::sched::setns(netns.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
                f()
            })
            .join()
            .unwrap()
    })
}

/// A pod without a network (loopback only), its state root in the throwaway host.
fn pod_in(host: &Arc<ThrowawayHost>) -> (Arc<StateRoot>, Pod) {
    let root = StateRoot::in_host(host);
    let pod = Pod::create_in(&root, &[]);
    (root, pod)
}

#[test]
fn a_web_server_in_a_pod_without_a_network_is_reached_through_the_forwarder() {
    sandbox_tests::require_root();
    let host = ThrowawayHost::new();
    let (root, pod) = pod_in(&host);
    let site = ScratchDir::new("forward-site");
    std::fs::write(
        site.path().join("index.html"),
        "hello through the forwarder\n",
    )
    .unwrap();
    pod.run(
        "web",
        &[],
        &[
            "busybox",
            "httpd",
            "-f",
            "-p",
            "8080",
            "-h",
            site.path().to_str().unwrap(),
        ],
    );
    let forwarder = Forwarder::start(&root, &pod, &[":8080"]);
    let port = forwarder.ports[0];
    assert_ne!(port, 0);
    let mut got = String::new();
    for _ in 0..50 {
        let fetched = host.run(
            "busybox",
            &["wget", "-q", "-O-", &format!("http://127.0.0.1:{port}/")],
        );
        if fetched.code == Some(0) {
            got = fetched.stdout;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(got, "hello through the forwarder\n");
    let (code, said) = forwarder.interrupt();
    assert_eq!(code, Some(0), "{said}");
    // Nothing was ever started in the pod: no container but web, no exec session.
    assert_eq!(pod.container_names(), ["web"]);
    assert_eq!(pod.inspect()["execs"], serde_json::json!([]));
}

/// A TCP server on `127.0.0.1:port` in the pod's network namespace (its socket made there by a
/// thread that joined it), answering each connection on a thread of its own with `answer`
/// (given what the client sent, once it ended its side). Runs until the test ends.
fn serve_in_pod(pod: &Pod, port: u16, answer: fn(&[u8]) -> Vec<u8>) {
    let netns = std::fs::File::open(pod.dir().join("ns/net")).unwrap();
    let (ready, bound) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        nix::sched::setns(netns.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
        ready.send(()).unwrap();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut got = Vec::new();
                if stream.read_to_end(&mut got).is_ok() {
                    let _ = stream.write_all(&answer(&got));
                }
            });
        }
    });
    bound.recv().unwrap();
}

#[test]
fn fifty_connections_at_once_each_get_their_own_bytes_back_and_a_half_close_reaches_the_server() {
    sandbox_tests::require_root();
    let host = ThrowawayHost::new();
    let (root, pod) = pod_in(&host);
    // An echo server, and one that answers how much it got: both answer only once the
    // client's end of input (its half-close) has come through.
    serve_in_pod(&pod, 7000, |got| got.to_vec());
    serve_in_pod(&pod, 7001, |got| got.len().to_string().into_bytes());
    let forwarder = Forwarder::start(&root, &pod, &[":7000", ":7001"]);
    let (echo, count) = (forwarder.ports[0], forwarder.ports[1]);
    in_host(&host, || {
        std::thread::scope(|scope| {
            let clients: Vec<_> = (0..50)
                .map(|i| {
                    scope.spawn(move || {
                        let payload = format!("connection {i}: {}\n", "x".repeat(1000 * i));
                        let back = echo_once(echo, payload.as_bytes());
                        assert!(
                            back.as_deref() == Some(payload.as_bytes()),
                            "connection {i}: {} bytes back of {}",
                            back.map_or(0, |b| b.len()),
                            payload.len()
                        );
                    })
                })
                .collect();
            for client in clients {
                client.join().unwrap();
            }
        });
        let back = echo_once(count, &[7u8; 100_000]).unwrap();
        assert_eq!(String::from_utf8_lossy(&back), "100000");
    });
    let (code, said) = forwarder.interrupt();
    assert_eq!(code, Some(0), "{said}");
}

/// Sends `payload` to `127.0.0.1:port`, ends its writing side, and reads until the other side
/// ends; `None` if the connection fails.
fn echo_once(port: u16, payload: &[u8]) -> Option<Vec<u8>> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let writer = {
        let mut stream = stream.try_clone().ok()?;
        let payload = payload.to_vec();
        std::thread::spawn(move || {
            let _ = stream.write_all(&payload);
            let _ = stream.shutdown(Shutdown::Write);
        })
    };
    let mut back = Vec::new();
    stream.read_to_end(&mut back).ok()?;
    writer.join().unwrap();
    Some(back)
}

#[test]
fn a_refused_port_closes_that_connection_only_and_a_stop_ends_the_forwarder() {
    sandbox_tests::require_root();
    let host = ThrowawayHost::new();
    let (root, pod) = pod_in(&host);
    serve_in_pod(&pod, 7000, |got| got.to_vec());
    // Nothing listens on 7999.
    let forwarder = Forwarder::start(&root, &pod, &[":7999", ":7000"]);
    let (closed, open) = (forwarder.ports[0], forwarder.ports[1]);
    in_host(&host, || {
        // Closed: an end of file, or a reset if it was closed with our bytes unread.
        let refused = echo_once(closed, b"hello");
        assert!(refused.as_ref().is_none_or(Vec::is_empty), "{refused:?}");
        assert_eq!(
            echo_once(open, b"still here").as_deref(),
            Some(&b"still here"[..])
        );
    });
    assert_exit!(pod.sandbox(&["stop", "-t", "1", pod.name()]), 0);
    let mut forwarder = forwarder;
    let status = forwarder.child.wait().unwrap();
    let mut said = String::new();
    forwarder.stderr.read_to_string(&mut said).unwrap();
    assert_eq!(status.code(), Some(0), "{said}");
    assert!(said.contains("connecting to 127.0.0.1:7999"), "{said}");
    assert!(said.contains("stopped; port-forward ends"), "{said}");
}

#[test]
fn bad_specs_a_taken_port_and_a_stopped_pod_give_125() {
    sandbox_tests::require_root();
    let host = ThrowawayHost::new();
    let (root, pod) = pod_in(&host);
    for bad in ["x", "80:0", "70000:80"] {
        let run = root.sandbox(&["port-forward", pod.name(), bad]);
        assert_exit!(run, 125);
        assert!(
            run.stderr.contains("invalid port-forward spec"),
            "{}",
            run.stderr
        );
    }
    let taken = Forwarder::start(&root, &pod, &[":80"]);
    let port = taken.ports[0].to_string();
    let run = root.sandbox(&["port-forward", pod.name(), &format!("{port}:80")]);
    assert_exit!(run, 125);
    assert!(
        run.stderr.contains("listening on 127.0.0.1:"),
        "{}",
        run.stderr
    );
    drop(taken);
    assert_exit!(pod.sandbox(&["stop", pod.name()]), 0);
    let run = root.sandbox(&["port-forward", pod.name(), ":80"]);
    assert_exit!(run, 125);
    assert!(run.stderr.contains("not running"), "{}", run.stderr);
}
