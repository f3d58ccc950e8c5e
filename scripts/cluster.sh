#!/usr/bin/env bash
# A real multi-node Docker Swarm on one machine: every node a dockerd in its own network
# namespace on a bridge of its own, a registry on the bridge, and an sshd in front of node1
# (a manager), so that the manager is reached the way production reaches one.
#
#   scripts/cluster.sh up [N]       N nodes (default 3), the first CLUSTER_MANAGERS of them
#                                   managers, the others workers
#   scripts/cluster.sh down         remove everything `up` made (nothing is left behind)
#   scripts/cluster.sh status       nodes, registry, sshd, and the variables to use
#   scripts/cluster.sh env          DOCKER_HOST=... REGISTRY=... (for eval / make)
#   scripts/cluster.sh kill I       node I loses power: every process of it SIGKILLed, its
#                                   mounts gone, its link down (`up` boots it again)
#
# Both `up` and `down` are idempotent: `up` starts only what is missing (a killed node is
# booted again and rejoins), `down` on nothing does nothing.
#
# Settings (environment):
#   CLUSTER_NAME    prefix of everything made (default cwc; 1-6 of a-z0-9): namespaces
#                   NAME-node1.., bridge NAME-br, Swarm hostnames NAME-node1..
#   CLUSTER_SUBNET  a private /24 for the bridge (default 10.213.47.0/24); refused when a
#                   route of this machine overlaps it. .1 is the bridge (and the registry
#                   at .1:5000), node I is .(10+I).
#   CLUSTER_MANAGERS  how many nodes are managers (default 3, at most N): three managers
#                   keep the Raft quorum when one is lost, so Swarm still reschedules the
#                   lost node's tasks (the engine's too); with one, losing it stops Swarm.
#                   node1 inits the Swarm and runs the sshd.
#   CLUSTER_IMAGES  images copied from this machine's dockerd into the manager, for
#                   builds over SSH (default: the base images of scripts/base-images.sh)
#
# Made by `up` (and removed by `down`): the namespaces and their veths, the bridge, one
# iptables FORWARD rule (comment camunda-workers-cluster:NAME), the dockerds (data in
# /var/lib/camunda-workers-cluster/NAME, sockets/pids/keys in /run/camunda-workers-cluster/NAME,
# cgroups /NAME-nodeI), the registry (Debian's docker-registry, no auth, on .1:5000), the
# sshd (key-only root login, keys made here, DOCKER_HOST of its sessions = the manager's
# dockerd) and /etc/ssh/ssh_config.d/camunda-workers-cluster-NAME.conf (which key and host
# key `ssh root@MANAGER` uses, so DOCKER_HOST=ssh://root@MANAGER works for docker and the
# workers CLI). Needs root.
set -euo pipefail

NAME="${CLUSTER_NAME:-cwc}"
SUBNET="${CLUSTER_SUBNET:-10.213.47.0/24}"
IMAGES="${CLUSTER_IMAGES-local/python-base:bookworm local/jre-base:bookworm}"
STATE="/run/camunda-workers-cluster/$NAME"
DATA="/var/lib/camunda-workers-cluster/$NAME"
SSH_CLIENT_CONFIG="/etc/ssh/ssh_config.d/camunda-workers-cluster-$NAME.conf"
BRIDGE="$NAME-br"
RULE_COMMENT="camunda-workers-cluster:$NAME"
START_TIMEOUT="${CLUSTER_START_TIMEOUT:-60}"
MANAGERS="${CLUSTER_MANAGERS:-3}"

say() { printf '[cluster %s] %s\n' "$NAME" "$*"; }
die() { printf '[cluster %s] ERROR: %s\n' "$NAME" "$*" >&2; exit 1; }

[[ $NAME =~ ^[a-z0-9]{1,6}$ ]] || die "CLUSTER_NAME=$NAME: use 1-6 characters of a-z0-9 (interface names are short)"
[[ $MANAGERS =~ ^[1-9][0-9]?$ ]] || die "CLUSTER_MANAGERS=$MANAGERS: give a number of managers from 1"
[[ $SUBNET =~ ^([0-9]+\.[0-9]+\.[0-9]+)\.0/24$ ]] || die "CLUSTER_SUBNET=$SUBNET: give a /24, e.g. 10.213.47.0/24"
PREFIX="${BASH_REMATCH[1]}"
BRIDGE_IP="$PREFIX.1"
REGISTRY="$BRIDGE_IP:5000"

node_ip() { echo "$PREFIX.$((10 + $1))"; }
node_ns() { echo "$NAME-node$1"; }
node_dir() { echo "$STATE/node$1"; }
node_sock() { echo "unix://$STATE/node$1/docker.sock"; }
node_docker() { local i="$1"; shift; docker -H "$(node_sock "$i")" "$@"; }
node_veth() { echo "$NAME-n$1"; }
# Nodes that exist, from the namespaces (so `down` also cleans what a failed `up` left).
known_nodes() {
    ip netns list 2>/dev/null | awk '{print $1}' | sed -n "s/^$NAME-node\([0-9]\+\)$/\1/p" | sort -n
}

# ---------------------------------------------------------------- preflight
preflight() {
    [[ $(id -u) -eq 0 ]] || die "must run as root (namespaces, iptables, dockerd); try: sudo $0 $*"
    local missing=() cmd pkg
    for pair in ip:iproute2 iptables:iptables nsenter:util-linux unshare:util-linux \
                dockerd:docker.io docker-registry:docker-registry sshd:openssh-server \
                ssh:openssh-client ssh-keygen:openssh-client curl:curl; do
        cmd="${pair%%:*}"; pkg="${pair#*:}"
        command -v "$cmd" >/dev/null 2>&1 || [[ -x /usr/sbin/$cmd ]] || missing+=("$pkg")
    done
    if ((${#missing[@]})); then
        read -r -a missing <<<"$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')"
        say "installing ${missing[*]} with apt-get"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq || die "apt-get update failed"
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
            || die "apt-get install ${missing[*]} failed"
    fi
}

check_subnet() {  # refuse a subnet that overlaps a route of this machine (other than ours)
    local clash
    clash="$(ip -4 route show | awk -v br="$BRIDGE" '$0 !~ ("dev " br " ") {print $1}' \
        | python3 -c '
import ipaddress, sys
mine = ipaddress.ip_network(sys.argv[1])
for word in sys.stdin.read().split():
    if word == "default":
        continue
    try:
        other = ipaddress.ip_network(word, strict=False)
    except ValueError:
        continue
    if other.overlaps(mine):
        print(other)
        break' "$SUBNET")"
    [[ -z $clash ]] || die "CLUSTER_SUBNET=$SUBNET overlaps the route $clash of this machine; pick another private /24 (CLUSTER_SUBNET=10.x.y.0/24)"
}

# ---------------------------------------------------------------- network
ensure_bridge() {
    if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
        ip link add "$BRIDGE" type bridge
        ip addr add "$BRIDGE_IP/24" dev "$BRIDGE"
    fi
    ip link set "$BRIDGE" up
    # Docker sets the FORWARD policy to DROP; bridged traffic between our veths passes it.
    iptables -C FORWARD -i "$BRIDGE" -o "$BRIDGE" -m comment --comment "$RULE_COMMENT" -j ACCEPT 2>/dev/null \
        || iptables -I FORWARD -i "$BRIDGE" -o "$BRIDGE" -m comment --comment "$RULE_COMMENT" -j ACCEPT
}

ensure_netns() {  # $1 = node index
    local i="$1" ns veth
    ns="$(node_ns "$i")"; veth="$(node_veth "$i")"
    ip netns list | awk '{print $1}' | grep -qx "$ns" || ip netns add "$ns"
    if ! ip link show "$veth" >/dev/null 2>&1; then
        ip link add "$veth" type veth peer name eth0 netns "$ns"
        ip link set "$veth" master "$BRIDGE"
        ip -n "$ns" addr add "$(node_ip "$i")/24" dev eth0
    fi
    ip link set "$veth" up
    ip -n "$ns" link set lo up
    ip -n "$ns" link set eth0 up
    ip -n "$ns" route replace default via "$BRIDGE_IP"
}

# ---------------------------------------------------------------- dockerd per node
daemon_answers() { node_docker "$1" version >/dev/null 2>&1; }

ensure_dockerd() {  # $1 = node index
    local i="$1" dir ns log pid
    dir="$(node_dir "$i")"; ns="$(node_ns "$i")"; log="$DATA/node$i.log"
    daemon_answers "$i" && return 0
    mkdir -p "$dir" "$DATA/node$i"
    chmod 700 "$dir"
    printf '{}\n' >"$dir/daemon.json"  # not the host's /etc/docker/daemon.json
    say "starting dockerd of node$i ($(node_ip "$i")) in namespace $ns"
    printf '\n===== %s dockerd =====\n' "$(date -Is)" >>"$log"
    # Own network namespace (nsenter: `ip netns exec` remounts /sys and dockerd then finds
    # no devices cgroup), own UTS namespace (each node has its own hostname in Swarm),
    # containers under cgroup /NAME-nodeI (so `kill` finds every process of the node).
    setsid nohup nsenter --net="/run/netns/$ns" unshare --uts -- \
        sh -c 'hostname "$0" && exec "$@"' "$ns" \
        dockerd --data-root "$DATA/node$i" --exec-root "$dir/exec" \
        -H "$(node_sock "$i")" --pidfile "$dir/docker.pid" --config-file "$dir/daemon.json" \
        --cgroup-parent "/$ns" --storage-driver "${CLUSTER_STORAGE_DRIVER:-overlay2}" \
        --insecure-registry "$REGISTRY" >>"$log" 2>&1 </dev/null 9>&- &
    pid=$!
    for ((t = 0; t < START_TIMEOUT * 4; t++)); do
        daemon_answers "$i" && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.25
    done
    tail -n 20 "$log" >&2
    die "dockerd of node$i did not come up (log: $log)"
}

swarm_state() {  # $1 = node index; a node booted again (its Swarm state on its disk) is
    # "pending" while it reconnects: give it time, then say what it is
    local i="$1" state t
    state="$(node_docker "$i" info --format '{{.Swarm.LocalNodeState}}')"
    for ((t = 0; t < 60; t++)); do
        [[ $state == pending ]] || break
        sleep 0.5; state="$(node_docker "$i" info --format '{{.Swarm.LocalNodeState}}')"
    done
    echo "$state"
}

ensure_swarm() {  # $1 = number of nodes, $2 = number of managers among them
    local n="$1" managers="$2" i state role manager_ip
    manager_ip="$(node_ip 1)"
    state="$(swarm_state 1)"
    if [[ $state != active ]]; then
        say "swarm init on node1 ($manager_ip)"
        node_docker 1 swarm init --advertise-addr "$manager_ip" --listen-addr "$manager_ip:2377" >/dev/null
    fi
    for ((i = 2; i <= n; i++)); do
        state="$(swarm_state "$i")"
        if [[ $state != active ]]; then
            role=worker; ((i <= managers)) && role=manager
            say "node$i joins the swarm as a $role"
            node_docker "$i" swarm join --token "$(node_docker 1 swarm join-token -q "$role")" \
                --advertise-addr "$(node_ip "$i")" --listen-addr "$(node_ip "$i"):2377" \
                "$manager_ip:2377" >/dev/null
        fi
    done
    # Every node Ready (a restarted one takes a few heartbeats), asked of node1, a manager.
    for ((t = 0; t < START_TIMEOUT * 4; t++)); do
        [[ $(node_docker 1 node ls --format '{{.Status}}' 2>/dev/null | grep -c '^Ready$') -ge $n ]] && return 0
        sleep 0.25
    done
    node_docker 1 node ls >&2
    die "not every node is Ready in the swarm"
}

copy_images() {  # base images for builds on the manager (no registry can be pulled from here)
    local image
    for image in $IMAGES; do
        node_docker 1 image inspect "$image" >/dev/null 2>&1 && continue
        if ! docker image inspect "$image" >/dev/null 2>&1; then
            say "note: $image is not on this machine's dockerd; not copied (scripts/base-images.sh builds it)"
            continue
        fi
        say "copying $image into node1"
        docker save "$image" | node_docker 1 load -q >/dev/null
    done
}

# ---------------------------------------------------------------- registry
ensure_registry() {
    local config="$STATE/registry.yml" log="$DATA/registry.log" pid
    if curl -fsS -o /dev/null "http://$REGISTRY/v2/" 2>/dev/null; then return 0; fi
    mkdir -p "$DATA/registry"
    # Debian's packaged config demands htpasswd auth: ours has none and listens on the
    # bridge address only.
    cat >"$config" <<EOF
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: $DATA/registry
  delete:
    enabled: true
http:
  addr: $REGISTRY
EOF
    say "starting the registry on $REGISTRY"
    setsid nohup docker-registry serve "$config" >>"$log" 2>&1 </dev/null 9>&- &
    pid=$!
    echo "$pid" >"$STATE/registry.pid"
    for ((t = 0; t < START_TIMEOUT * 4; t++)); do
        curl -fsS -o /dev/null "http://$REGISTRY/v2/" 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.25
    done
    tail -n 20 "$log" >&2
    die "the registry did not answer on $REGISTRY (log: $log)"
}

# ---------------------------------------------------------------- sshd in front of the manager
ensure_sshd() {
    local dir="$STATE/ssh" ip pid
    ip="$(node_ip 1)"
    mkdir -p "$dir" /run/sshd
    chmod 700 "$dir"
    [[ -f $dir/ssh_host_ed25519_key ]] || ssh-keygen -q -t ed25519 -N '' -C "$NAME-node1" -f "$dir/ssh_host_ed25519_key"
    [[ -f $dir/id_ed25519 ]] || ssh-keygen -q -t ed25519 -N '' -C "camunda-workers-cluster-$NAME" -f "$dir/id_ed25519"
    cp "$dir/id_ed25519.pub" "$dir/authorized_keys"
    printf '%s %s\n' "$ip" "$(cut -d' ' -f1-2 "$dir/ssh_host_ed25519_key.pub")" >"$dir/known_hosts"
    cat >"$dir/sshd_config" <<EOF
# sshd of cluster $NAME, in the namespace of node1 (scripts/cluster.sh)
ListenAddress $ip:22
HostKey $dir/ssh_host_ed25519_key
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
PermitRootLogin prohibit-password
AllowUsers root
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
X11Forwarding no
PrintMotd no
# A session's docker (and \`docker system dial-stdio\`, which DOCKER_HOST=ssh:// runs)
# talks to this node's dockerd, as on a real manager.
SetEnv DOCKER_HOST=$(node_sock 1)
EOF
    cat >"$SSH_CLIENT_CONFIG.tmp" <<EOF
# Made by scripts/cluster.sh up ($NAME); removed by scripts/cluster.sh down.
Host $ip
    User root
    IdentityFile $dir/id_ed25519
    IdentitiesOnly yes
    UserKnownHostsFile $dir/known_hosts
    StrictHostKeyChecking yes
EOF
    mv "$SSH_CLIENT_CONFIG.tmp" "$SSH_CLIENT_CONFIG"
    if [[ -f $dir/sshd.pid ]] && ours "$(cat "$dir/sshd.pid")" "$dir/sshd_config"; then
        kill -HUP "$(cat "$dir/sshd.pid")"   # re-read the config
    else
        say "starting sshd on $ip:22"
        /usr/sbin/sshd -t -f "$dir/sshd_config" || die "sshd rejects $dir/sshd_config"
        nsenter --net="/run/netns/$(node_ns 1)" /usr/sbin/sshd -f "$dir/sshd_config" -E "$DATA/sshd.log" 9>&-
    fi
    for ((t = 0; t < START_TIMEOUT * 4; t++)); do
        ssh -o BatchMode=yes -o ConnectTimeout=5 "root@$ip" docker info --format '{{.Name}}' \
            2>/dev/null | grep -qx "$(node_ns 1)" && return 0
        sleep 0.25
    done
    ssh -o BatchMode=yes -o ConnectTimeout=5 "root@$ip" docker info >&2 || true
    die "ssh root@$ip does not reach node1's dockerd (log: $DATA/sshd.log)"
}

# ---------------------------------------------------------------- power loss and removal
node_processes() {  # every process of node $1: in its network namespace or its cgroups
    local i="$1"
    { ip netns pids "$(node_ns "$i")" 2>/dev/null || true
      find "/sys/fs/cgroup/pids/$(node_ns "$i")" -name cgroup.procs -exec cat {} + 2>/dev/null || true
    } | sort -un
}

kill_node_processes() {
    local i="$1" pids t
    for ((t = 0; t < 100; t++)); do
        pids="$(node_processes "$i")"
        [[ -z $pids ]] && return 0
        # shellcheck disable=SC2086
        kill -9 $pids 2>/dev/null || true
        sleep 0.1
    done
    die "processes of node$i survive SIGKILL: $(node_processes "$i" | tr '\n' ' ')"
}

unmount_under() {  # every mount point below $1, deepest first
    local prefix="$1"
    findmnt -rn -o TARGET | awk -v p="$prefix/" 'index($0, p) == 1' | sort -r \
        | while read -r target; do umount -l "$target" 2>/dev/null || true; done
}

kill_node() {  # power loss of node $1: no graceful stop, nothing survives but the disk
    local i="$1"
    ip netns list | awk '{print $1}' | grep -qx "$(node_ns "$i")" || die "no node$i in cluster $NAME"
    ip link set "$(node_veth "$i")" down 2>/dev/null || true
    kill_node_processes "$i"
    unmount_under "$(node_dir "$i")"
    unmount_under "$DATA/node$i"
    rm -rf "$(node_dir "$i")"   # the node's /run: gone with the power
    [[ $i == 1 ]] && rm -f "$STATE/ssh/sshd.pid"
    say "node$i is down (processes killed, mounts gone, link down); \`$0 up\` boots it again"
}

remove_cgroups() {  # /NAME-nodeI in every cgroup hierarchy, deepest first
    local i="$1" dir
    for dir in /sys/fs/cgroup/*/"$(node_ns "$i")"; do
        [[ -d $dir ]] || continue
        find "$dir" -depth -type d -exec rmdir {} \; 2>/dev/null || true
    done
}

ours() {  # process $1 is alive and is the one started with file $2 (not a reused pid)
    [[ -r /proc/$1/cmdline ]] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF -- "$2"
}

down() {
    local i pid removed=0
    for i in $(known_nodes); do
        kill_node_processes "$i"
        unmount_under "$(node_dir "$i")"
        unmount_under "$DATA/node$i"
        remove_cgroups "$i"
        ip link del "$(node_veth "$i")" 2>/dev/null || true
        ip netns del "$(node_ns "$i")"
        say "node$i removed"
        removed=1
    done
    if [[ -f $STATE/registry.pid ]] && ours "$(cat "$STATE/registry.pid")" "$STATE/registry.yml"; then
        kill "$(cat "$STATE/registry.pid")"; say "registry stopped"; removed=1
    fi
    if [[ -f $STATE/ssh/sshd.pid ]] && ours "$(cat "$STATE/ssh/sshd.pid")" "$STATE/ssh/sshd_config"; then
        kill "$(cat "$STATE/ssh/sshd.pid")"   # normally gone with node1's processes
    fi
    while iptables -C FORWARD -i "$BRIDGE" -o "$BRIDGE" -m comment --comment "$RULE_COMMENT" -j ACCEPT 2>/dev/null; do
        iptables -D FORWARD -i "$BRIDGE" -o "$BRIDGE" -m comment --comment "$RULE_COMMENT" -j ACCEPT
        removed=1
    done
    if ip link show "$BRIDGE" >/dev/null 2>&1; then ip link del "$BRIDGE"; removed=1; fi
    [[ -e $SSH_CLIENT_CONFIG ]] && { rm -f "$SSH_CLIENT_CONFIG"; removed=1; }
    if [[ -d $STATE || -d $DATA ]]; then
        unmount_under "$STATE"; unmount_under "$DATA"
        rm -rf "$STATE" "$DATA"
        removed=1
    fi
    rmdir /run/camunda-workers-cluster /var/lib/camunda-workers-cluster 2>/dev/null || true
    if ((removed)); then say "down: nothing of cluster $NAME is left"; else say "down: nothing to remove"; fi
}

# ---------------------------------------------------------------- reporting
print_env() {
    echo "DOCKER_HOST=ssh://root@$(node_ip 1)"
    echo "REGISTRY=$REGISTRY"
}

status() {
    local i
    if [[ ! -d $STATE ]]; then say "not up"; return 1; fi
    for i in $(known_nodes); do
        if daemon_answers "$i"; then
            printf 'node%s  %s  dockerd up (%s)\n' "$i" "$(node_ip "$i")" "$(node_sock "$i")"
        else
            printf 'node%s  %s  dockerd DOWN\n' "$i" "$(node_ip "$i")"
        fi
    done
    daemon_answers 1 && node_docker 1 node ls
    if curl -fsS -o /dev/null "http://$REGISTRY/v2/"; then echo "registry $REGISTRY up"; else echo "registry $REGISTRY DOWN"; fi
    print_env
}

up() {
    local n="${1:-3}" i started managers
    [[ $n =~ ^[0-9]+$ ]] && ((n >= 1 && n <= 20)) || die "N=$n: give a node count from 1 to 20"
    managers=$((MANAGERS < n ? MANAGERS : n))
    preflight
    started=$EPOCHREALTIME
    mkdir -p "$STATE" "$DATA"
    chmod 700 "$STATE"
    check_subnet
    ensure_bridge
    ensure_registry
    for ((i = 1; i <= n; i++)); do ensure_netns "$i"; done
    # The daemons boot in parallel (each takes a second or two).
    for ((i = 1; i <= n; i++)); do ensure_dockerd "$i" & done
    for ((i = 1; i <= n; i++)); do wait -n || die "a node did not start (logs: $DATA/node*.log)"; done
    ensure_swarm "$n" "$managers"
    ensure_sshd
    copy_images
    say "up: $n node(s) ($managers manager(s)), registry, sshd in $(python3 -c "print(f'{$EPOCHREALTIME - $started:.1f}')")s"
    print_env | sed 's/^/  export /'
}

lock() {  # one `up`/`down`/`kill` of this cluster at a time
    exec 9>"/run/lock/camunda-workers-cluster-$NAME.lock"
    flock 9
}

command="${1:-}"
case "$command" in
    up) shift; lock; up "$@" ;;
    down) preflight; lock; down; rm -f "/run/lock/camunda-workers-cluster-$NAME.lock" ;;
    status) status ;;
    env) print_env ;;
    kill) [[ -n ${2:-} ]] || die "usage: $0 kill NODE_INDEX"; preflight; lock; kill_node "$2" ;;
    *) sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; [[ -z $command ]] || exit 2 ;;
esac
