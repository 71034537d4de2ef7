//! `port-forward` (issue 18): one connection's throughput (1 GiB through the forwarder, against
//! the same transfer over loopback inside the pod; target: at least half as fast, so at most 2x
//! the time) and what the forwarder adds to a connection's setup (connect until the server's
//! first byte arrives, medians; target: at most 1 ms).
//!
//! The forwarder and its clients run in a throwaway network namespace standing in for the host
//! (the section's thread enters it first); the servers are sockets of the benchmark made in the
//! pod's network namespace by a thread that joined it, which also runs the loopback peer.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use sandbox_tests::network::ThrowawayHost;

use crate::lab::Lab;
use crate::network::Inside;
use crate::{Row, Table, Target, interleave, median, millis, millis_each, progress};

const SINK: u16 = 7000;
const GREETER: u16 = 7001;
/// What one transfer moves.
const TRANSFER: usize = 1 << 30;
const TRANSFER_ROUNDS: usize = 3;
const SETUP_ROUNDS: usize = 41;

/// A measurement the thread in the pod's network namespace makes.
enum Job {
    Transfer(u16),
    Setup(u16),
}

pub fn run(table: &mut Table) {
    let host = ThrowawayHost::new();
    let _inside = Inside::enter(host.path());
    let lab = Lab::open();
    let pod = lab.create();
    let pod_netns = lab.root().join(&pod).join("ns/net");
    serve(&pod_netns, SINK, |mut stream| {
        let mut sink = vec![0; 256 * 1024];
        let mut total = 0u64;
        while let Ok(n) = stream.read(&mut sink) {
            if n == 0 {
                break;
            }
            total += n as u64;
        }
        let _ = stream.write_all(total.to_string().as_bytes());
    });
    serve(&pod_netns, GREETER, |mut stream| {
        let _ = stream.write_all(b"!");
    });
    let in_pod = worker_in(&pod_netns);

    let mut forwarder = lab
        .command(&[
            "port-forward",
            &pod,
            &format!(":{SINK}"),
            &format!(":{GREETER}"),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(forwarder.stdout.take().unwrap()).lines();
    let mut port = || -> u16 {
        let line = lines.next().unwrap().unwrap();
        let local = line.split(" -> ").next().unwrap();
        local.rsplit(':').next().unwrap().parse().unwrap()
    };
    let (sink, greeter) = (port(), port());

    progress(&format!(
        "port-forward: 1 GiB through one connection vs loopback in the pod, {TRANSFER_ROUNDS} rounds"
    ));
    let transfers = interleave(
        TRANSFER_ROUNDS,
        &mut [&mut || transfer(sink), &mut || in_pod(Job::Transfer(SINK))],
    );
    let [ours, peer] = [0, 1].map(|i| millis(median(transfers[i].clone())));
    let gib_per_s = |ms: f64| 1000.0 / ms;
    table.add(
        Row::new("port-forward: 1 GiB through one connection", ours, "ms")
            .peer("the same over loopback inside the pod", peer)
            .target(Target::RatioAtMost(2.0))
            .note(format!(
                "{:.2} GiB/s against {:.2} GiB/s",
                gib_per_s(ours),
                gib_per_s(peer)
            ))
            .samples(
                &millis_each(&transfers[0]),
                Some(&millis_each(&transfers[1])),
            ),
    );

    progress(&format!(
        "port-forward: connect to first byte vs loopback in the pod, {SETUP_ROUNDS} rounds"
    ));
    let setups = interleave(
        SETUP_ROUNDS,
        &mut [&mut || setup(greeter), &mut || in_pod(Job::Setup(GREETER))],
    );
    let [through, direct] = [0, 1].map(|i| millis(median(setups[i].clone())));
    table.add(
        Row::new(
            "port-forward: what it adds to a connection's setup (median)",
            through - direct,
            "ms",
        )
        .target(Target::AtMost(1.0))
        .note(format!(
            "connect to the first byte: {through:.3} ms through it, {direct:.3} ms over loopback in the pod"
        )),
    );
    let _ = forwarder.kill();
    let _ = forwarder.wait();
    lab.sandbox(&["rm", "--force", &pod]);
    let left = lab.leftovers();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// A server on `127.0.0.1:port` in the network namespace pinned at `netns`, handling each
/// connection on a thread of its own.
fn serve(netns: &Path, port: u16, handle: fn(TcpStream)) {
    let netns = std::fs::File::open(netns).unwrap();
    let (ready, bound) = mpsc::channel();
    std::thread::spawn(move || {
        nix::sched::setns(netns.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        ready.send(()).unwrap();
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || handle(stream));
        }
    });
    bound.recv().unwrap();
}

/// A thread in the network namespace pinned at `netns` that makes measurements on request.
fn worker_in(netns: &Path) -> impl Fn(Job) -> Duration {
    let netns = std::fs::File::open(netns).unwrap();
    let (jobs, requests) = mpsc::channel::<(Job, mpsc::Sender<Duration>)>();
    std::thread::spawn(move || {
        nix::sched::setns(netns.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        for (job, reply) in requests {
            let took = match job {
                Job::Transfer(port) => transfer(port),
                Job::Setup(port) => setup(port),
            };
            let _ = reply.send(took);
        }
    });
    move |job| {
        let (reply, answer) = mpsc::channel();
        jobs.send((job, reply)).unwrap();
        answer.recv().unwrap()
    }
}

/// Sends [`TRANSFER`] bytes to the sink on `port` and waits for its count: the time taken.
fn transfer(port: u16) -> Duration {
    let chunk = vec![7u8; 256 * 1024];
    let start = Instant::now();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    for _ in 0..TRANSFER / chunk.len() {
        stream.write_all(&chunk).unwrap();
    }
    stream.shutdown(Shutdown::Write).unwrap();
    let mut count = String::new();
    stream.read_to_string(&mut count).unwrap();
    let took = start.elapsed();
    assert_eq!(count, TRANSFER.to_string());
    took
}

/// Connects to the greeter on `port` and reads its byte: the time taken.
fn setup(port: u16) -> Duration {
    let start = Instant::now();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut byte = [0u8; 1];
    stream.read_exact(&mut byte).unwrap();
    start.elapsed()
}
