#!/usr/bin/env bash
# Bring up a local Docker engine + single-node Swarm on a machine without systemd.
#
#   scripts/docker-up.sh            # install if needed, start dockerd, init swarm
#   DOCKER_STORAGE_DRIVER=vfs scripts/docker-up.sh   # drivers to try, in order (default "overlay2 vfs")
#
# Idempotent: every step is skipped when already done. Needs root.
# Logs of the daemon: /var/log/dockerd.log (or .run/dockerd.log in the repo when
# /var/log is not writable). Exit code != 0 with a message on any failure.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
START_TIMEOUT="${DOCKER_START_TIMEOUT:-60}"

say()  { printf '[docker-up] %s\n' "$*"; }
die()  { printf '[docker-up] ERROR: %s\n' "$*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root (dockerd and apt-get need it); try: sudo $0"

# --- 1. packages -------------------------------------------------------------
missing=()
command -v dockerd     >/dev/null 2>&1 || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if ((${#missing[@]})); then
    say "installing ${missing[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || die "apt-get update failed"
    # policy-rc.d usually forbids starting services in containers/VMs; we start dockerd ourselves.
    apt-get install -y -qq --no-install-recommends "${missing[@]}" iptables \
        || die "apt-get install ${missing[*]} failed"
else
    say "docker.io and debootstrap already installed"
fi
command -v docker >/dev/null 2>&1 || die "no docker CLI in PATH after install"

# --- 2. daemon ----------------------------------------------------------------
if [[ -w /var/log ]]; then LOG=/var/log/dockerd.log; else mkdir -p "$REPO_ROOT/.run"; LOG="$REPO_ROOT/.run/dockerd.log"; fi

daemon_answers() { docker info >/dev/null 2>&1; }

wait_for_daemon() {  # $1 = pid of the dockerd we started (or empty)
    local pid="${1:-}" i
    for ((i = 0; i < START_TIMEOUT * 2; i++)); do
        daemon_answers && return 0
        if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then return 1; fi
        sleep 0.5
    done
    return 1
}

start_dockerd() {  # $1 = storage driver; echoes nothing, returns 0 when docker info answers
    local driver="$1" pid first
    say "starting dockerd --storage-driver=$driver (log: $LOG)"
    printf '\n===== %s dockerd --storage-driver=%s =====\n' "$(date -Is)" "$driver" >>"$LOG"
    first=$(wc -l <"$LOG")
    # setsid + nohup: the daemon survives the end of this script and of the calling shell.
    setsid nohup dockerd --storage-driver="$driver" >>"$LOG" 2>&1 </dev/null &
    pid=$!
    if wait_for_daemon "$pid"; then return 0; fi
    if kill -0 "$pid" 2>/dev/null; then   # still running but not answering: stop it
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        kill -9 "$pid" 2>/dev/null || true
    fi
    say "dockerd with $driver did not come up; errors from its log:" >&2
    tail -n "+$first" "$LOG" | grep -E 'level=(error|fatal)|^failed' | tail -n 5 | sed 's/^/    /' >&2
    rm -f /var/run/docker.pid
    return 1
}

if daemon_answers; then
    say "dockerd already running"
elif pgrep -x dockerd >/dev/null; then
    say "dockerd process exists but does not answer yet; waiting up to ${START_TIMEOUT}s"
    wait_for_daemon "" || die "dockerd (pid $(pgrep -x dockerd | tr '\n' ' ')) does not answer; see $LOG"
else
    read -r -a drivers <<<"${DOCKER_STORAGE_DRIVER:-overlay2 vfs}"
    started=""
    for d in "${drivers[@]}"; do
        if start_dockerd "$d"; then started=$d; break; fi
    done
    [[ -n $started ]] || die "dockerd did not start with any of: ${drivers[*]}; see $LOG"
fi

# The CLI in PATH may be newer than the daemon (e.g. CLI 28 in /usr/local/bin, engine 20.10
# from Debian); the client negotiates the API version down. Check both sides answer.
# Captured in a variable: no file (a fixed name under /tmp, written as root, is a
# symlink attack waiting for a local user).
versions="$(docker version --format 'client {{.Client.Version}} (API {{.Client.APIVersion}}), server {{.Server.Version}} (API {{.Server.APIVersion}})' 2>&1)" \
    || { printf '%s\n' "$versions" >&2; die "docker version failed: CLI and daemon do not talk"; }
say "docker: $versions"

# --- 3. swarm -----------------------------------------------------------------
state="$(docker info --format '{{.Swarm.LocalNodeState}}')"
manager="$(docker info --format '{{.Swarm.ControlAvailable}}')"
if [[ $state == active && $manager == true ]]; then
    say "already a swarm manager"
elif [[ $state == active ]]; then
    die "this node is in a swarm but not a manager; run 'docker swarm leave --force' first"
else
    say "docker swarm init --advertise-addr 127.0.0.1"
    docker swarm init --advertise-addr 127.0.0.1 >/dev/null || die "docker swarm init failed"
fi

# Swarm service VIPs and the ingress routing mesh need IPVS in the kernel. Some VM kernels
# (e.g. Firecracker ones) have none: then `docker swarm init` still works, but a service name
# resolves to a VIP nobody answers on, and `--publish 18500:8080` opens no port. Workaround:
# endpoint_mode dnsrr (service names resolve to task IPs) and ports in mode host.
if [[ ! -d /proc/sys/net/ipv4/vs ]]; then
    say "WARNING: no IPVS in this kernel: Swarm VIPs and ingress-published ports will NOT work."
    say "         Use 'deploy: endpoint_mode: dnsrr' and 'ports: - {target: N, published: N, mode: host}'"
    say "         (docker service create --endpoint-mode dnsrr --publish mode=host,published=N,target=N)."
fi

say "storage driver: $(docker info --format '{{.Driver}}'); swarm: $(docker info --format '{{.Swarm.LocalNodeState}}'), data root: $(docker info --format '{{.DockerRootDir}}')"
