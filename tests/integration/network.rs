//! Pod networking through the real CNI plugins (Debian's containernetworking-plugins): every
//! `sandbox` command runs in a throwaway host namespace (`sandbox_tests::network`), so the
//! bridge, the veths, the iptables rules and the address reservations land there; traffic
//! only flows between that host and pods made here.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sandbox_tests::network::{HOST_ADDRESS, Snapshot, ThrowawayHost};
use sandbox_tests::{
    Pod, Run, ScratchDir, StateRoot, assert_exit, json_of, unique_name, wait_until,
};

/// A throwaway host and a state root whose commands run in it.
fn host_and_root() -> (Arc<ThrowawayHost>, Arc<StateRoot>) {
    let host = ThrowawayHost::new();
    let root = StateRoot::in_host(&host);
    (host, root)
}

/// Where the built-in network of `root` keeps its reservations.
fn builtin_reservations(root: &StateRoot) -> PathBuf {
    root.path().join(".cni/ipam/bridge")
}

/// The pod's first address, without its prefix length.
fn pod_ip(pod: &Pod) -> String {
    let inspect = pod.inspect();
    let ip = inspect["network"]["ips"][0].as_str().unwrap_or_else(|| {
        panic!("no address in {inspect:#}");
    });
    ip.split('/').next().unwrap().to_owned()
}

/// A directory with `token.txt` holding `token`, for busybox httpd to serve.
fn site(token: &str) -> ScratchDir {
    let dir = ScratchDir::new("site");
    std::fs::write(dir.path().join("token.txt"), token).unwrap();
    dir
}

/// Starts container `web` in `pod`: busybox httpd on `port`, serving `site`.
fn serve(pod: &Pod, site: &ScratchDir, port: u16) {
    let port = port.to_string();
    let dir = site.path().to_str().unwrap();
    pod.run(
        "web",
        &[],
        &["busybox", "httpd", "-f", "-p", &port, "-h", dir],
    );
}

/// `busybox wget -q -O- URL`, given 10 s (under coreutils' `timeout`: busybox 1.35's own
/// `wget -T` crashes on a refused connection).
fn wget(url: &str) -> Vec<&str> {
    vec!["timeout", "10", "busybox", "wget", "-q", "-O-", url]
}

/// Fetches `url` from the throwaway host until it answers (the server may still be starting).
fn fetch_from_host(host: &ThrowawayHost, url: &str) -> Run {
    let mut last = None;
    wait_until(Duration::from_secs(20), || {
        let args = wget(url);
        let run = host.run(args[0], &args[1..]);
        let ok = run.code == Some(0);
        last = Some(run);
        ok
    });
    last.unwrap()
}

/// A host whose base chains and bridge the plugins have made (by one pod with a published
/// port, made and removed), as it is between pods: the baseline leftovers are compared with.
fn warmed_up(host: &ThrowawayHost, root: &Arc<StateRoot>) -> Snapshot {
    let pod = Pod::create_in(root, &["--network", "bridge", "--publish", "9999:80"]);
    assert_exit!(pod.sandbox(&["rm", "--force", pod.name()]), 0);
    drop(pod);
    host.snapshot(&[&builtin_reservations(root)])
}

#[test]
fn a_pod_gets_an_address_on_the_bridge_that_inspect_and_ps_show() {
    let (host, root) = host_and_root();
    let pod = Pod::create_in(&root, &["--network", "bridge"]);
    let inspect = pod.inspect();
    let network = &inspect["network"];
    assert_eq!(network["name"], "bridge", "{inspect:#}");
    assert_eq!(network["interface"], "eth0");
    assert_eq!(network["gateway"], "10.89.0.1");
    let ip = pod_ip(&pod);
    assert!(ip.starts_with("10.89.0."), "{ip}");
    assert_eq!(
        network["config"],
        root.path().join(".cni/bridge.conflist").to_str().unwrap()
    );

    // What the pod itself sees (through netlink: /sys/class/net is the host's sysfs): eth0
    // with that address and that MAC, a default route.
    let addr = pod.exec(&["busybox", "ip", "-o", "-4", "addr", "show", "eth0"]);
    assert_exit!(addr, 0);
    assert!(addr.stdout.contains(&format!("inet {ip}/24")), "{addr:?}");
    let link = pod.exec(&["busybox", "ip", "-o", "link", "show", "eth0"]);
    let mac = network["mac"].as_str().unwrap();
    assert!(
        link.stdout.contains(&format!("link/ether {mac}")),
        "{link:?}"
    );
    let route = pod.exec(&["busybox", "ip", "route"]);
    assert!(route.stdout.contains("default via 10.89.0.1"), "{route:?}");

    // The host side: the bridge holds the gateway address, and the reservation is in the
    // state root.
    let bridge = host.run("ip", &["-o", "-4", "addr", "show", "sandbox0"]);
    assert!(bridge.stdout.contains("10.89.0.1/24"), "{bridge:?}");
    assert!(builtin_reservations(&root).join(&ip).is_file());

    let ps = pod.sandbox(&["ps"]);
    let line = ps
        .stdout
        .lines()
        .find(|l| l.starts_with(pod.name()))
        .unwrap();
    assert!(line.contains(&ip), "{ps:?}");
}

#[test]
fn two_pods_reach_each_other_by_address() {
    let (_host, root) = host_and_root();
    let server = Pod::create_in(&root, &["--network", "bridge"]);
    let client = Pod::create_in(&root, &["--network", "bridge"]);
    let site = site("from-the-server-pod");
    serve(&server, &site, 80);
    let url = format!("http://{}/token.txt", pod_ip(&server));
    let mut fetched = None;
    wait_until(Duration::from_secs(20), || {
        let run = client.exec(&wget(&url));
        let ok = run.code == Some(0);
        fetched = Some(run);
        ok
    });
    let fetched = fetched.unwrap();
    assert_exit!(fetched, 0);
    assert_eq!(fetched.stdout, "from-the-server-pod");
}

#[test]
fn the_host_reaches_a_published_port_and_a_pod_reaches_the_host() {
    let (host, root) = host_and_root();
    let pod = Pod::create_in(&root, &["--network", "bridge", "-p", "8080:80"]);
    let inspect = pod.inspect();
    assert_eq!(
        inspect["network"]["ports"],
        serde_json::json!([{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}])
    );
    let pod_site = site("published");
    serve(&pod, &pod_site, 80);
    // The host's own address, and the pod's address directly.
    let fetched = fetch_from_host(&host, &format!("http://{HOST_ADDRESS}:8080/token.txt"));
    assert_exit!(fetched, 0);
    assert_eq!(fetched.stdout, "published");
    let direct = fetch_from_host(&host, &format!("http://{}/token.txt", pod_ip(&pod)));
    assert_eq!(direct.stdout, "published");

    // A server on the throwaway host, reached from the pod through its gateway.
    let host_site = site("from-the-host");
    let mut server = host.command("busybox");
    server.args([
        "httpd",
        "-f",
        "-p",
        "9000",
        "-h",
        host_site.path().to_str().unwrap(),
    ]);
    let mut server = server.spawn().unwrap();
    let url = format!("http://{HOST_ADDRESS}:9000/token.txt");
    let mut fetched = None;
    wait_until(Duration::from_secs(20), || {
        let run = pod.exec(&wget(&url));
        let ok = run.code == Some(0);
        fetched = Some(run);
        ok
    });
    server.kill().unwrap();
    server.wait().unwrap();
    assert_eq!(fetched.unwrap().stdout, "from-the-host");
}

#[test]
fn without_a_network_a_pod_has_loopback_only() {
    let (_host, root) = host_and_root();
    for options in [&[][..], &["--network", "none"][..]] {
        let pod = Pod::create_in(&root, options);
        assert!(pod.inspect()["network"].is_null());
        // /proc/net/dev is the reader's network namespace's (/sys/class/net is the host's).
        let dev = pod.exec(&["cat", "/proc/net/dev"]);
        let links: Vec<&str> = dev
            .stdout
            .lines()
            .skip(2)
            .filter_map(|l| l.split(':').next())
            .map(str::trim)
            .collect();
        assert_eq!(links, ["lo"], "{dev:?}");
    }
    let nonet = unique_name("nonet");
    let published = root.sandbox(&["create", &nonet, "-p", "8080:80"]);
    assert_exit!(published, 125);
    assert!(published.stderr.contains("no network"), "{published:?}");
    assert!(root.entries().is_empty());
}

#[test]
fn stop_keeps_the_network_and_rm_and_rm_force_leave_the_host_as_it_was() {
    let (host, root) = host_and_root();
    let baseline = warmed_up(&host, &root);
    let stopped = Pod::create_in(&root, &["--network", "bridge", "-p", "8080:80"]);
    let running = Pod::create_in(&root, &["--network", "bridge", "-p", "8081:81/udp"]);
    let ip = pod_ip(&stopped);
    assert_exit!(stopped.sandbox(&["stop", stopped.name()]), 0);
    // Stopped, the pod keeps its address and its port (as a stopped pod sandbox does).
    assert_eq!(stopped.inspect()["network"]["ips"][0], format!("{ip}/24"));
    assert!(builtin_reservations(&root).join(&ip).is_file());
    let again = unique_name("again");
    let taken = root.sandbox(&["create", &again, "--network", "bridge", "-p", "8080:80"]);
    assert_exit!(taken, 125);
    assert!(
        taken.stderr.contains(&format!(
            "already published by sandbox \"{}\"",
            stopped.name()
        )),
        "{taken:?}"
    );

    let twice = root.sandbox(&[
        "create",
        &again,
        "--network",
        "bridge",
        "-p",
        "9090:80",
        "-p",
        "127.0.0.1:9090:81",
    ]);
    assert_exit!(twice, 125);
    assert!(
        twice
            .stderr
            .contains("host port 127.0.0.1:9090/tcp is published twice"),
        "{twice:?}"
    );
    assert!(!root.entries().contains(&again));

    assert_exit!(stopped.sandbox(&["rm", stopped.name()]), 0);
    assert_exit!(running.sandbox(&["rm", "--force", running.name()]), 0);
    host.snapshot(&[&builtin_reservations(&root)])
        .assert_same_as(&baseline, "rm and rm --force");
}

/// A list in a config directory of the test's own, with its bridge `sbxtest0` and its
/// reservations under `dir`, and `extra` plugins after the bridge.
fn write_conflist(dir: &Path, file: &str, name: &str, extra: &[serde_json::Value]) -> PathBuf {
    let mut plugins = vec![serde_json::json!({
        "type": "bridge", "bridge": "sbxtest0", "isGateway": true, "ipMasq": true,
        "ipam": {"type": "host-local", "dataDir": dir.join("ipam"),
                 "ranges": [[{"subnet": "10.90.0.0/24"}]]}
    })];
    plugins.extend_from_slice(extra);
    let list = serde_json::json!({"cniVersion": "1.0.0", "name": name, "plugins": plugins});
    let path = dir.join(file);
    std::fs::write(&path, serde_json::to_vec_pretty(&list).unwrap()).unwrap();
    path
}

#[test]
fn a_network_is_found_by_its_name_in_the_config_directory() {
    let (_host, root) = host_and_root();
    let config = ScratchDir::new("cni-config");
    std::fs::write(config.path().join("00-broken.conflist"), "{").unwrap();
    let list = write_conflist(config.path(), "10-test.conflist", "testnet", &[]);
    let dir_arg = format!("--cni-config-dir={}", config.path().display());
    let pod = Pod::create_in(&root, &[&dir_arg, "--network", "testnet"]);
    let inspect = pod.inspect();
    assert_eq!(inspect["network"]["name"], "testnet");
    assert_eq!(inspect["network"]["config"], list.to_str().unwrap());
    assert!(pod_ip(&pod).starts_with("10.90.0."));
    // rm uses the list as it was at create, even when the file has changed since.
    std::fs::write(&list, "not a list any more").unwrap();
    assert_exit!(pod.sandbox(&["rm", "--force", pod.name()]), 0);
    assert!(
        std::fs::read_dir(config.path().join("ipam/testnet"))
            .unwrap()
            .all(|e| e
                .unwrap()
                .file_name()
                .to_string_lossy()
                .parse::<std::net::IpAddr>()
                .is_err())
    );

    let unknown = root.sandbox(&[
        &dir_arg,
        "create",
        &unique_name("unknown"),
        "--network",
        "nosuchnet",
    ]);
    assert_exit!(unknown, 125);
    assert!(
        unknown.stderr.contains("no network \"nosuchnet\""),
        "{unknown:?}"
    );
    assert!(unknown.stderr.contains("00-broken.conflist"), "{unknown:?}");
}

#[test]
fn bad_lists_missing_plugins_and_plugin_errors_give_125_and_leave_nothing() {
    let (host, root) = host_and_root();
    let config = ScratchDir::new("cni-config");
    let bad = unique_name("bad");
    let baseline_of = |host: &ThrowawayHost| {
        host.snapshot(&[
            &config.path().join("ipam/failing"),
            &config.path().join("ipam/stuck"),
            &builtin_reservations(&root),
        ])
    };
    // The bridge plugin leaves its bridge when the last pod goes: make it first.
    let good = write_conflist(config.path(), "good.conflist", "good", &[]);
    drop(Pod::create_in(
        &root,
        &["--network", good.to_str().unwrap()],
    ));
    let baseline = baseline_of(&host);

    let not_json = config.path().join("not-json.conflist");
    std::fs::write(&not_json, "{\"cniVersion\": ").unwrap();
    let old = config.path().join("old.conflist");
    std::fs::write(
        &old,
        r#"{"cniVersion": "0.2.0", "name": "old", "plugins": [{"type": "bridge"}]}"#,
    )
    .unwrap();
    let missing = write_conflist(
        config.path(),
        "missing.conflist",
        "missing",
        &[serde_json::json!({"type": "no-such-plugin"})],
    );
    // The bridge plugin attaches the pod, then tuning fails: the rollback must DEL.
    let failing = write_conflist(
        config.path(),
        "failing.conflist",
        "failing",
        &[serde_json::json!({"type": "tuning", "sysctl": {"net.core.no_such_sysctl": "1"}})],
    );
    let cases = [
        (&not_json, "not JSON".to_owned()),
        (&old, "\"cniVersion\" \"0.2.0\" is not supported".to_owned()),
        (
            &missing,
            "CNI plugin \"no-such-plugin\" of network \"missing\" is not in".to_owned(),
        ),
        (
            &failing,
            "CNI ADD of network \"failing\" failed in plugin \"tuning\"".to_owned(),
        ),
    ];
    for (list, expected) in cases {
        let created = root.sandbox(&["create", &bad, "--network", list.to_str().unwrap()]);
        assert_exit!(created, 125);
        assert!(
            created.stderr.contains(&expected),
            "{expected}: {created:?}"
        );
        assert!(root.entries().is_empty(), "{:?}", root.entries());
        assert!(!Path::new("/run/netns").join(&bad).exists());
    }
    let plugins = root.sandbox(&[
        "--cni-plugin-dir=/nonexistent",
        "create",
        &bad,
        "--network",
        "bridge",
    ]);
    assert_exit!(plugins, 125);
    assert!(plugins.stderr.contains("--cni-plugin-dir"), "{plugins:?}");
    baseline_of(&host).assert_same_as(&baseline, "failed creates");

    // A plugin that fails ADD and DEL alike: the rollback cannot finish, so the pod is kept
    // (and says so) for `rm --force`, which goes on past the DEL that fails again.
    let shims = ScratchDir::new("cni-shims");
    write_plugin(
        shims.path(),
        "always-fails",
        r#"echo '{"cniVersion": "1.0.0", "code": 11, "msg": "always fails", "details": "'"$CNI_COMMAND"'"}'; exit 1"#,
    );
    let stuck = write_conflist(
        config.path(),
        "stuck.conflist",
        "stuck",
        &[serde_json::json!({"type": "always-fails"})],
    );
    let plugin_dirs = format!("--cni-plugin-dir={}:/usr/lib/cni", shims.path().display());
    let created = root.sandbox(&[
        &plugin_dirs,
        "create",
        &bad,
        "--network",
        stuck.to_str().unwrap(),
    ]);
    assert_exit!(created, 125);
    for expected in [
        "always fails: ADD (CNI error code 11)",
        "always fails: DEL (CNI error code 11)",
        &format!("`sandbox rm --force {bad}` removes it"),
    ] {
        assert!(created.stderr.contains(expected), "{expected}: {created:?}");
    }
    assert_eq!(root.entries(), std::slice::from_ref(&bad));
    let removed = root.sandbox(&[&plugin_dirs, "rm", "--force", &bad]);
    assert_exit!(removed, 0);
    assert!(
        removed.stderr.contains("removing the sandbox anyway"),
        "{removed:?}"
    );
    assert!(root.entries().is_empty());
    baseline_of(&host).assert_same_as(&baseline, "a rollback whose DEL failed, and rm --force");
}

/// Writes an executable shell script `name` into `dir` (a plugin directory).
fn write_plugin(dir: &Path, name: &str, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn a_cli_killed_while_a_plugin_runs_leaves_nothing_after_rm_force() {
    let (host, root) = host_and_root();
    let baseline = warmed_up(&host, &root);
    let reservations = builtin_reservations(&root);
    // Shims of the built-in network's plugins: the one named by SANDBOX_TEST_KILL_CLI_AT
    // (PLUGIN:VERB) reads its configuration, SIGKILLs the CLI that started it, and then runs
    // the real plugin, which finishes on its own, as an orphan, after the next command has
    // started (unless that waits for it, a DEL would run before this ADD is done).
    let shims = ScratchDir::new("cni-shims");
    for plugin in ["bridge", "portmap", "firewall"] {
        write_plugin(
            shims.path(),
            plugin,
            &format!(
                r#"config=$(cat)
if [ "$SANDBOX_TEST_KILL_CLI_AT" = "{plugin}:$CNI_COMMAND" ]; then kill -KILL "$PPID"; sleep 0.3; fi
printf '%s' "$config" | exec /usr/lib/cni/{plugin}"#
            ),
        );
    }
    let plugin_dirs = format!("--cni-plugin-dir={}:/usr/lib/cni", shims.path().display());
    let sandbox = |args: &[&str], kill_at: Option<&str>| {
        let mut command = root.command();
        command.arg(&plugin_dirs).args(args);
        if let Some(kill_at) = kill_at {
            command.env("SANDBOX_TEST_KILL_CLI_AT", kill_at);
        }
        sandbox_tests::run_with_timeout(command, b"", Duration::from_secs(120))
    };
    let create = |name: &str, kill_at: Option<&str>| {
        sandbox(
            &["create", name, "--network", "bridge", "-p", "8080:80"],
            kill_at,
        )
    };
    // ADD, killed in each plugin: the results of those before it are saved, and the next
    // command waits for the orphan to finish before it runs DEL with them.
    for (plugin, results_saved) in [("bridge", false), ("portmap", true), ("firewall", true)] {
        let name = unique_name(plugin);
        let killed = create(&name, Some(&format!("{plugin}:ADD")));
        assert_eq!(killed.code, None, "create was not killed: {killed:?}");
        let record: serde_json::Value = serde_json::from_slice(
            &std::fs::read(root.path().join(&name).join("state.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(record["phase"], "creating");
        assert_eq!(
            !record["network"]["result"].is_null(),
            results_saved,
            "killed in {plugin}: {record:#}"
        );
        assert_exit!(sandbox(&["rm", "--force", &name], None), 0);
        host.snapshot(&[&reservations])
            .assert_same_as(&baseline, &format!("create killed in {plugin} ADD"));
    }
    // DEL, killed in each plugin: the next rm waits for the orphan and runs DEL again.
    for plugin in ["firewall", "portmap", "bridge"] {
        let name = unique_name(plugin);
        assert_exit!(create(&name, None), 0);
        let killed = sandbox(&["rm", "--force", &name], Some(&format!("{plugin}:DEL")));
        assert_eq!(killed.code, None, "rm was not killed: {killed:?}");
        assert_exit!(sandbox(&["rm", "--force", &name], None), 0);
        host.snapshot(&[&reservations])
            .assert_same_as(&baseline, &format!("rm killed in {plugin} DEL"));
    }
    assert!(root.entries().is_empty(), "{:?}", root.entries());
}

#[test]
fn a_killed_create_or_rm_leaves_nothing_after_rm_force() {
    let (host, root) = host_and_root();
    let baseline = warmed_up(&host, &root);
    let reservations = builtin_reservations(&root);
    // Kill points spread over a whole networked create (about 0.2 s in a debug build, most
    // of it in the plugins), and then over an rm.
    for (round, delay_ms) in [0u64, 3, 8, 15, 25, 40, 60, 80, 100, 130, 170, 220, 300]
        .into_iter()
        .enumerate()
    {
        let name = unique_name(&format!("killed-{round}"));
        let mut create = root.command();
        create.args(["create", &name, "--network", "bridge", "-p", "8080:80"]);
        kill_after(create, Duration::from_millis(delay_ms));
        let removed = root.sandbox(&["rm", "--force", &name]);
        assert!(
            removed.code == Some(0) || removed.stderr.contains("does not exist"),
            "{removed:?}"
        );
        host.snapshot(&[&reservations])
            .assert_same_as(&baseline, &format!("create killed after {delay_ms} ms"));

        assert_exit!(
            root.sandbox(&["create", &name, "--network", "bridge", "-p", "8080:80"]),
            0
        );
        let mut rm = root.command();
        rm.args(["rm", "--force", &name]);
        kill_after(rm, Duration::from_millis(delay_ms));
        let removed = root.sandbox(&["rm", "--force", &name]);
        assert!(
            removed.code == Some(0) || removed.stderr.contains("does not exist"),
            "{removed:?}"
        );
        host.snapshot(&[&reservations])
            .assert_same_as(&baseline, &format!("rm killed after {delay_ms} ms"));
        assert!(root.entries().is_empty(), "{:?}", root.entries());
    }
}

/// Starts `command` and SIGKILLs it after `delay` unless it has exited by then.
fn kill_after(mut command: std::process::Command, delay: Duration) {
    command
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = command.spawn().unwrap();
    std::thread::sleep(delay);
    let _ = child.kill();
    child.wait().unwrap();
}

/// Reserves an address of `root`'s built-in network for container ID `id` with host-local
/// itself, as a pod gone without a DEL leaves one; the address.
fn reserve(host: &ThrowawayHost, root: &StateRoot, id: &str) -> String {
    let ipam = serde_json::json!({
        "cniVersion": "1.0.0", "name": "bridge",
        "ipam": {"type": "host-local", "dataDir": root.path().join(".cni/ipam"),
                 "ranges": [[{"subnet": "10.89.0.0/24"}]]}
    });
    let mut add = host.command("/usr/lib/cni/host-local");
    add.env("CNI_COMMAND", "ADD")
        .env("CNI_CONTAINERID", id)
        .env("CNI_NETNS", host.path())
        .env("CNI_IFNAME", "eth0")
        .env("CNI_PATH", "/usr/lib/cni");
    let added = sandbox_tests::run_with_timeout(
        add,
        &serde_json::to_vec(&ipam).unwrap(),
        Duration::from_secs(30),
    );
    assert_exit!(added, 0);
    let result = json_of(&added);
    let ip = result["ips"][0]["address"].as_str().unwrap();
    ip.split('/').next().unwrap().to_owned()
}

#[test]
fn gc_releases_the_reservations_of_pods_that_are_gone() {
    let (host, root) = host_and_root();
    let pod = Pod::create_in(&root, &["--network", "bridge"]);
    let live_ip = pod_ip(&pod);
    let reservations = builtin_reservations(&root);
    let tag = sandbox::state::root_tag(root.path());
    // This root's reservations for a pod that does not exist, and for an earlier pod of a
    // live pod's name; and another root's, which are not ours to release.
    let ghost_ip = reserve(&host, &root, &format!("{tag}-0badf00d-ghost"));
    let earlier_ip = reserve(&host, &root, &format!("{tag}-0badf00d-{}", pod.name()));
    let foreign_ip = reserve(&host, &root, "0123abcd-0badf00d-ghost");
    for ip in [&ghost_ip, &earlier_ip, &foreign_ip] {
        assert!(reservations.join(ip).is_file());
    }

    let gc = root.sandbox(&["gc", "--json"]);
    assert_exit!(gc, 0);
    assert_eq!(
        json_of(&gc),
        serde_json::json!([
            {"network": "bridge", "ip": ghost_ip, "pod": "ghost"},
            {"network": "bridge", "ip": earlier_ip, "pod": pod.name()},
        ])
    );
    assert!(!reservations.join(&ghost_ip).exists());
    assert!(!reservations.join(&earlier_ip).exists());
    assert!(reservations.join(&foreign_ip).is_file());
    assert!(
        reservations.join(&live_ip).is_file(),
        "a live pod's address was released"
    );
    let again = root.sandbox(&["gc"]);
    assert_exit!(again, 0);
    assert_eq!(again.stdout, "");
    assert!(reservations.join(&live_ip).is_file());
}

#[test]
fn an_image_container_of_a_networked_pod_sees_the_pods_interface() {
    let (_host, root) = host_and_root();
    let pod = Pod::create_in(&root, &["--network", "bridge"]);
    let ip = pod_ip(&pod);
    let image_dir = ScratchDir::new("net-image");
    let image = sandbox_tests::images::build_image(
        &sandbox_tests::images::busybox_definition(),
        &image_dir.path().join("layout"),
        "test",
    );
    let run = pod.try_run(
        "app",
        &["--runtime", "/usr/sbin/runc", "--image", &image],
        &["sh", "-c", "ip -o -4 addr show eth0; cat /etc/hosts"],
    );
    assert_exit!(run, 0);
    assert_exit!(pod.sandbox(&["wait", pod.name(), "app"]), 0);
    let logs = pod.sandbox(&["logs", pod.name(), "app"]);
    assert!(logs.stdout.contains(&format!("inet {ip}/24")), "{logs:?}");
    // Its /etc/hosts names the pod's hostname on that address, as the kubelet writes it.
    assert!(
        logs.stdout.contains(&format!("{ip}\t{}\n", pod.name())),
        "{logs:?}"
    );
}

#[test]
fn an_rm_whose_del_fails_keeps_the_pod_and_the_next_create_releases_what_rm_force_left() {
    let (_host, root) = host_and_root();
    let reservations = builtin_reservations(&root);
    let pod = Pod::create_in(&root, &["--network", "bridge"]);
    let ip = pod_ip(&pod);
    assert_exit!(pod.sandbox(&["stop", pod.name()]), 0);

    // No plugins: DEL cannot run, so rm keeps the pod, pinned, for a later rm to finish.
    let failed = pod.sandbox(&["--cni-plugin-dir=/nonexistent", "rm", pod.name()]);
    assert_exit!(failed, 125);
    assert!(
        failed.stderr.contains(&format!(
            "detaching sandbox \"{}\" from network \"bridge\"",
            pod.name()
        )),
        "{failed:?}"
    );
    assert!(pod.dir().join("ns/net").exists() && pod.netns_path().exists());
    assert_eq!(pod.inspect()["network"]["ips"][0], format!("{ip}/24"));

    // --force removes it anyway, saying what may be left: its reservation.
    let forced = pod.sandbox(&["--cni-plugin-dir=/nonexistent", "rm", "--force", pod.name()]);
    assert_exit!(forced, 0);
    assert!(
        forced.stderr.contains("removing the sandbox anyway"),
        "{forced:?}"
    );
    assert!(!pod.dir().exists());
    assert!(reservations.join(&ip).is_file());

    // The next create on that network releases it (and keeps its own).
    let next = Pod::create_in(&root, &["--network", "bridge"]);
    assert!(!reservations.join(&ip).exists(), "{ip} is still reserved");
    assert!(reservations.join(pod_ip(&next)).is_file());
}
