#!/usr/bin/env bash
# The main job, end to end: build everything, then a demo pod. Creates a pod with limits, joins
# three app containers and two execs (one with a terminal of its own) to it, shows that they
# share its namespaces, stops and removes one container on its own, leaves an exec session
# running without its CLI, runs real OCI containers from a busybox image built here (runc: their
# own root file system, mount and PID namespaces, joined to the pod), limits a container's
# memory until the OOM killer ends it and shows the pod's stats, puts two pods on a CNI bridge
# network (one serving the other and, through a published port, the host), builds the pod
# infrastructure image for linux/amd64 and linux/arm64 (the arm64 pause runs under qemu; the pod
# runs the host's from the same image), runs a Kubernetes Pod manifest (an image by name, an init
# container, a preStop hook inside the pod's grace period) and stops it as the kubelet would, and
# stops the demo pod the Kubernetes way: stop signal, grace period, SIGKILL, with the exit codes
# each container got and what became of the exec session.
# Run as root on Debian 12: `sudo sandbox/demo.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "demo: needs root (pods are real namespaces, mounts and processes): sudo $0" >&2
  exit 1
fi

.ci/setup
cargo build --release --workspace --quiet
# pause as `images` builds it for the pod infrastructure image: on its own, for both platforms
# (a workspace build unifies the features of shared dependencies and gives other bytes).
cargo build --release -p pause --target x86_64-unknown-linux-musl --target aarch64-unknown-linux-musl --quiet
export PATH="$PWD/target/x86_64-unknown-linux-musl/release:$PATH"
# The man pages (`man sandbox`, `man sandbox-play`, ...), generated from the same definitions as
# --help; shell completions come from `sandbox completions bash|zsh|fish`.
mkdir -p /usr/local/share/man/man1
sandbox man --out /usr/local/share/man/man1
sandbox=sandbox
# Files the demo makes (images, a web site) go beside the state root, never in it: every
# directory in a state root is a pod to `sandbox ps`.
work=$(mktemp -d /tmp/sandbox-demo.XXXXXX)
root="$work/root"
pod="demo-$$"
solo="demo-solo-$$"
web="demo-web-$$"
client="demo-client-$$"
kube="demo-kube-$$"
# The network part runs in a network namespace of its own, standing in for the host, so that
# the demo leaves this machine's network as it was; on a host, drop the `nsenter` prefix.
nethost="demo-host-$$"
in_nethost=(nsenter "--net=/run/netns/$nethost")
export SANDBOX_ROOT="$root"
cleanup() {
  "$sandbox" rm --force "$pod" 2>/dev/null || true
  "$sandbox" rm --force "$solo" 2>/dev/null || true
  "$sandbox" rm --force "$kube" 2>/dev/null || true
  if [ -e "/run/netns/$nethost" ]; then
    "${in_nethost[@]}" "$sandbox" rm --force "$web" 2>/dev/null || true
    "${in_nethost[@]}" "$sandbox" rm --force "$client" 2>/dev/null || true
    ip netns delete "$nethost"
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# Shows a command as one would type it (arguments with spaces or quotes single-quoted), runs it.
step() {
  local shown=() arg
  for arg in "$@"; do
    if [[ $arg =~ [[:space:]\"\'\$\;\&\|] ]]; then shown+=("'${arg//\'/\'\\\'\'}'"); else shown+=("$arg"); fi
  done
  printf '\n\033[1m$ %s\033[0m\n' "${shown[*]}"
  "$@"
}

step "$sandbox" create "$pod" --hostname demo --share-pid --memory 512m --pids-limit 200
step "$sandbox" run "$pod" --name polite -- sh -c 'trap "echo polite: got TERM, exiting 0; exit 0" TERM; while :; do sleep 0.1; done'
step "$sandbox" run "$pod" --name plain -- sleep 1000
step "$sandbox" run "$pod" --name stubborn -- sh -c 'trap "" TERM; echo stubborn: ignoring TERM; while :; do sleep 0.1; done'
step "$sandbox" exec "$pod" -- sh -c 'echo "exec: hostname $(hostname), my pid in the pod $$"; ip -brief link show lo'
echo
echo "namespaces (host vs pod):"
pause_pid=$("$sandbox" inspect "$pod" | sed -n 's/^  "pid": \([0-9]*\),$/\1/p')
for ns in net ipc uts pid; do
  printf '  %-4s host %s  pod %s\n' "$ns" "$(readlink /proc/self/ns/$ns)" "$(readlink /proc/"$pause_pid"/ns/$ns)"
done
# -t: a terminal of the command's own (interactively: sandbox exec -it POD -- sh).
step "$sandbox" exec -t "$pod" -- sh -c 'echo "a terminal of its own: $(tty), $(stty size) (rows columns, ours if we have one)"'
step "$sandbox" ps
step ip netns exec "$pod" ip -brief address

# One container at a time: stop it with the pod's policy, remove it, reuse its name.
step "$sandbox" run "$pod" --name batch -- sh -c 'echo batch: working; sleep 1000'
step "$sandbox" stop "$pod" batch --timeout 1
step "$sandbox" rm "$pod" batch
step "$sandbox" run "$pod" --name batch -- sh -c 'echo batch: second run; exit 3'

# An exec session whose CLI is gone is still named: inspect shows it, stop ends and reports it.
"$sandbox" exec "$pod" -- sleep 1000 </dev/null >/dev/null 2>&1 &
exec_cli=$!
for _ in $(seq 50); do
  "$sandbox" inspect "$pod" | grep -q '"sleep"' && break
  sleep 0.1
done
kill -KILL "$exec_cli"; wait "$exec_cli" 2>/dev/null || true
echo
echo "exec sessions (inspect):"
"$sandbox" inspect "$pod" | sed -n '/"execs"/,/^  \]/p'

# Real containers: an OCI image built here, unpacked once, run by runc in the pod.
step images --definition sandbox/demo-busybox.json --out "$work/busybox" --tag demo
image="oci:$work/busybox:demo"
step "$sandbox" run "$pod" --name box --image "$image" -- sleep 1000
step "$sandbox" exec "$pod" -c box -- sh -c 'echo "box: $(id -un) in $PWD on $(hostname), root has: $(ls / | tr "\n" " ")"; ps'
step "$sandbox" images

# Cgroups: the pod has limits, a container gets its own; over its memory limit the kernel's OOM
# killer ends it (137, OOMKilled); stats reads what the pod uses.
step "$sandbox" run "$pod" --name hog --memory 32m -- tail /dev/zero
step "$sandbox" wait "$pod" hog || true
step "$sandbox" stats --no-stream "$pod"

# Networks: pods on the built-in `bridge` network (a bridge, addresses from 10.89.0.0/24, port
# publishing, through the CNI plugins of containernetworking-plugins), in the stand-in host.
ip netns add "$nethost"
ip -n "$nethost" link set lo up
ip -n "$nethost" address add 198.51.100.1/32 dev lo
mkdir "$work/site" && echo "hello from pod $web" >"$work/site/index.html"
step "${in_nethost[@]}" "$sandbox" create "$web" --network bridge --publish 8080:80
step "${in_nethost[@]}" "$sandbox" run "$web" --name httpd -- busybox httpd -f -p 80 -h "$work/site"
step "${in_nethost[@]}" "$sandbox" create "$client" --network bridge
step "${in_nethost[@]}" "$sandbox" ps
web_ip=$("${in_nethost[@]}" "$sandbox" ps | awk -v pod="$web" '$1 == pod { print $5 }')
for _ in $(seq 50); do
  "${in_nethost[@]}" busybox wget -q -O /dev/null "http://$web_ip/" 2>/dev/null && break
  sleep 0.1
done
step "${in_nethost[@]}" "$sandbox" exec "$client" -- busybox wget -q -O- "http://$web_ip/"
step "${in_nethost[@]}" busybox wget -q -O- http://198.51.100.1:8080/
echo
echo "the network of $web (inspect):"
"${in_nethost[@]}" "$sandbox" inspect "$web" | sed -n '/"network": {/,/^  }/p'
step "${in_nethost[@]}" "$sandbox" rm --force "$web"
step "${in_nethost[@]}" "$sandbox" rm --force "$client"
echo "left in the stand-in host: $("${in_nethost[@]}" iptables-save | grep -c -- "-$web\"") iptables rules of $web, $(ls "$root/.cni/ipam/bridge" | grep -c '^10\.') reserved addresses"
ip netns delete "$nethost"

# The pod infrastructure image: one index, a manifest for linux/amd64 and one for linux/arm64.
# skopeo picks the arm64 one, umoci unpacks it, qemu runs its pause; the pod runs the host's.
step images --out "$work/pause-image" --tag demo
step skopeo copy --quiet --override-arch arm64 "oci:$work/pause-image:demo" "oci:$work/pause-arm64:demo"
step umoci unpack --image "$work/pause-arm64:demo" "$work/pause-arm64-bundle"
step qemu-aarch64-static "$work/pause-arm64-bundle/rootfs/pause" --version
step "$sandbox" run "$pod" --name infra --image "oci:$work/pause-image:demo"

# Without --share-pid, an image container's command is PID 1 of its own PID namespace; sleep
# has no SIGTERM handler, so the kernel drops the stop signal and only the SIGKILL ends it.
step "$sandbox" create "$solo"
step "$sandbox" run "$solo" --name sleeper --image "$image" -- sleep 1000
step "$sandbox" exec "$solo" -c sleeper -- ps
step "$sandbox" stop "$solo" --timeout 1
step "$sandbox" rm "$solo"

# A Kubernetes Pod manifest, run and stopped as the kubelet would: the image by name (loaded
# into the store), an init container first, a shared PID namespace (pause stays until the apps
# have stopped), and a preStop hook that runs before the stop signal, inside the pod's own grace
# period (which `stop` without -t uses). podman kube play drops preStop and the grace period.
step "$sandbox" load "$image" --name busybox:demo
cat >"$work/pod.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: $kube
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 5
  shareProcessNamespace: true
  initContainers:
  - name: migrate
    image: busybox:demo
    command: ["sh", "-c", "echo migrate: schema ready > /dev/shm/ready; cat /dev/shm/ready"]
  containers:
  - name: app
    image: busybox:demo
    command: ["sh", "-c"]
    args:
    - |
      trap 'echo "app: TERM after the hook (\$(cat /dev/shm/draining)), exiting 0"; exit 0' TERM
      echo app: serving; while :; do sleep 0.1; done
    lifecycle:
      preStop:
        exec:
          command: ["sh", "-c", "echo drained > /dev/shm/draining; sleep 1"]
YAML
step cat "$work/pod.yaml"
step "$sandbox" play "$work/pod.yaml"
step "$sandbox" logs "$kube" migrate
step "$sandbox" stop "$kube"
step "$sandbox" logs "$kube" app
step "$sandbox" play --down "$work/pod.yaml"
# Whatever play cannot honour is named, never dropped: 125, nothing made.
sed 's/^  containers:/  volumes: [{name: data, emptyDir: {}}]\n  containers:/' "$work/pod.yaml" >"$work/unsupported.yaml"
step "$sandbox" play "$work/unsupported.yaml" || echo "(exit $?)"
step "$sandbox" rmi busybox:demo

step "$sandbox" stop "$pod" --timeout 2
step "$sandbox" logs "$pod" polite
step "$sandbox" rm "$pod"
step "$sandbox" rmi "$image"
step "$sandbox" rmi "oci:$work/pause-image:demo"
echo
echo "demo: done; expected: polite 0 (trapped TERM), plain 143 (128+SIGTERM), stubborn 137 (128+SIGKILL after the 2 s grace period), batch 3, hog 137 (OOMKilled), box 143 (its sleep is not PID 1 in the shared PID namespace), infra 0 (pause takes TERM), sleeper 137 (PID 1 of its own namespace, deaf to SIGTERM), and the exec session ended with SIGKILL"
