#!/usr/bin/env bash
# Build the local base images without any image registry (none is reachable here):
#
#   local/python-base:bookworm   Debian 12 minbase + python3 (3.11), python3-venv, ca-certificates
#   local/jre-base:bookworm      Debian 12 minbase + openjdk-17-jre-headless, ca-certificates, curl
#   local/prometheus-base:bookworm  Debian 12 minbase + prometheus (2.42, with promtool), ca-certificates
#   local/postgres:15            Debian 12 minbase + postgresql-15, with deploy/postgres/entrypoint.sh:
#                                the environment contract of the public postgres image
#                                (POSTGRES_PASSWORD_FILE, POSTGRES_USER, POSTGRES_DB, PGDATA)
#
# Each one: debootstrap --variant=minbase into a temp dir, trim, `docker import`.
# An image that already exists is skipped (FORCE=1 rebuilds). Needs root and a running
# dockerd (scripts/docker-up.sh). The Debian mirror is the one apt on this host uses
# (/etc/apt/sources.list.d/*.sources, *.list, /etc/apt/sources.list), or $DEBIAN_MIRROR.
# Downloaded .debs are kept in $DEBOOTSTRAP_CACHE (shared by both images, later runs are faster).
#
#   scripts/base-images.sh              # the first three images (postgres: only when named)
#   scripts/base-images.sh python       # only local/python-base:bookworm
#   scripts/base-images.sh jre          # only local/jre-base:bookworm
#   scripts/base-images.sh prometheus   # only local/prometheus-base:bookworm
#   scripts/base-images.sh postgres     # only local/postgres:15 (the Swarm tests build it)
set -euo pipefail

SUITE="${DEBIAN_SUITE:-bookworm}"
PYTHON_IMAGE="${PYTHON_BASE_IMAGE:-local/python-base:$SUITE}"
JRE_IMAGE="${JRE_BASE_IMAGE:-local/jre-base:$SUITE}"
PROMETHEUS_IMAGE="${PROMETHEUS_BASE_IMAGE:-local/prometheus-base:$SUITE}"
POSTGRES_IMAGE="${POSTGRES_IMAGE:-local/postgres:15}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${DEBOOTSTRAP_CACHE:-/var/cache/camunda-workers/debootstrap-$SUITE}"
FORCE="${FORCE:-0}"
BASE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

say() { printf '[base-images] %s\n' "$*"; }
die() { printf '[base-images] ERROR: %s\n' "$*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root (debootstrap needs it)"
command -v debootstrap >/dev/null || die "debootstrap missing: run scripts/docker-up.sh (or apt-get install -y debootstrap)"
docker info >/dev/null 2>&1 || die "docker daemon not answering: run scripts/docker-up.sh first"

# The first http(s) URI of a Debian archive (not -security / -updates / third party) that apt
# on this host is configured with. Deb822 (.sources) and one-line (.list) formats.
find_mirror() {
    local f uri
    shopt -s nullglob
    for f in /etc/apt/sources.list.d/*.sources; do
        uri="$(awk -v suite="$SUITE" '
            BEGIN { RS = ""; FS = "\n" }                       # one stanza per paragraph
            {
                uris = ""; suites = ""; enabled = 1
                for (i = 1; i <= NF; i++) {
                    if ($i ~ /^URIs:/)    { uris = $i;   sub(/^URIs:[ \t]*/, "", uris) }
                    if ($i ~ /^Suites:/)  { suites = " " $i " " }
                    if ($i ~ /^Enabled:[ \t]*no/) enabled = 0
                }
                if (enabled && suites ~ (" " suite " ") && uris !~ /security/) {
                    split(uris, u, /[ \t]+/); print u[1]; exit
                }
            }' "$f")"
        [[ -n $uri ]] && { echo "$uri"; return; }
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f $f ]] || continue
        uri="$(awk -v suite="$SUITE" '$1 == "deb" {
                  i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                  if ($(i + 1) == suite && $i !~ /security/) { print $i; exit } }' "$f")"
        [[ -n $uri ]] && { echo "$uri"; return; }
    done
}

MIRROR="${DEBIAN_MIRROR:-$(find_mirror)}"
[[ -n $MIRROR ]] || die "no Debian '$SUITE' mirror found in /etc/apt/sources.list(.d); set DEBIAN_MIRROR=URL"
mkdir -p "$CACHE"

human() { numfmt --to=si --suffix=B "$1" 2>/dev/null || echo "${1}B"; }

# [TRIM_EXTRA="rootfs paths"] build IMAGE "pkg,pkg" CHECK-COMMAND -- docker-import --change args...
build() {
    local image="$1" include="$2" check="$3"; shift 4
    if [[ $FORCE != 1 ]] && docker image inspect "$image" >/dev/null 2>&1; then
        say "$image exists ($(human "$(docker image inspect -f '{{.Size}}' "$image")")), skipped (FORCE=1 rebuilds)"
        return
    fi
    local dir t0 t1 t2 old
    old="$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)"
    dir="$(mktemp -d /var/tmp/rootfs.XXXXXX)"
    # shellcheck disable=SC2064
    trap "umount -R '$dir/proc' '$dir/sys' 2>/dev/null || true; rm -rf '$dir'" EXIT
    t0=$(date +%s%N)
    say "$image: debootstrap --variant=minbase --include=$include $SUITE (log: $dir.log)"
    if ! debootstrap --variant=minbase --cache-dir="$CACHE" --include="$include" \
            "$SUITE" "$dir" "$MIRROR" >"$dir.log" 2>&1; then
        tail -n 20 "$dir.log" >&2
        [[ -f $dir/debootstrap/debootstrap.log ]] && tail -n 20 "$dir/debootstrap/debootstrap.log" >&2
        die "debootstrap for $image failed (full log: $dir.log)"
    fi
    t1=$(date +%s%N)
    # Trim: package caches, apt lists, docs, man pages (the image is a runtime, not a dev box).
    rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/cache/apt/*.bin "$dir"/var/lib/apt/lists/* \
           "$dir"/usr/share/doc/* "$dir"/usr/share/man/* "$dir"/usr/share/info/* "$dir"/var/log/*.log \
           "$dir"/tmp/* "$dir"/var/tmp/* "$dir"/debootstrap
    # Per image (TRIM_EXTRA="path ..." build ...): more paths inside the rootfs to delete.
    local extra; for extra in ${TRIM_EXTRA:-}; do rm -rf "${dir:?}/$extra"; done
    # Per image (ROOTFS_HOOK=function build ...): called with the rootfs to add files.
    [[ -n ${ROOTFS_HOOK:-} ]] && "$ROOTFS_HOOK" "$dir"
    tar -C "$dir" --numeric-owner --exclude='./proc/*' --exclude='./sys/*' --exclude='./dev/*' -c . \
        | docker import "$@" - "$image" >/dev/null || die "docker import $image failed"
    t2=$(date +%s%N)
    rm -rf "$dir" "$dir.log"; trap - EXIT
    # FORCE=1: drop the replaced image unless something still uses it (then rm just fails).
    [[ -n $old ]] && docker image rm "$old" >/dev/null 2>&1 || true
    say "$image: checking: $check"
    docker run --rm --entrypoint sh "$image" -c "$check" | sed 's/^/    /' || die "$image: check failed: $check"
    local size; size="$(docker image inspect -f '{{.Size}}' "$image")"
    say "$image: $(human "$size"); debootstrap $(( (t1 - t0) / 1000000000 )) s, trim+import $(( (t2 - t1) / 1000000000 )) s"
}

want="${1:-all}"
T0=$(date +%s)
say "mirror: $MIRROR (suite $SUITE), cache: $CACHE"

if [[ $want == all || $want == python ]]; then
    build "$PYTHON_IMAGE" "python3,python3-venv,python-is-python3,ca-certificates" \
        'python3 --version && python3 -m venv /tmp/v && /tmp/v/bin/python -m pip --version' -- \
        --change "ENV PATH=$BASE_PATH" \
        --change 'ENV LANG=C.UTF-8' \
        --change 'CMD ["python3"]'
fi
if [[ $want == all || $want == jre ]]; then
    build "$JRE_IMAGE" "openjdk-17-jre-headless,ca-certificates,curl" \
        'java -version 2>&1 | head -n 1 && curl --version | head -n 1' -- \
        --change "ENV PATH=$BASE_PATH" \
        --change 'ENV LANG=C.UTF-8' \
        --change 'CMD ["java", "-version"]'
fi
if [[ $want == all || $want == prometheus ]]; then
    # debootstrap fakes start-stop-daemon while it installs: the package's service never starts.
    # The web UI needs moment-timezone's scripts, not its 212 MB of raw zone data.
    TRIM_EXTRA="usr/share/javascript/moment-timezone/data usr/share/locale" \
    build "$PROMETHEUS_IMAGE" "prometheus,ca-certificates" \
        'prometheus --version 2>&1 | head -n 1 && promtool --version 2>&1 | head -n 1' -- \
        --change "ENV PATH=$BASE_PATH" \
        --change 'ENV LANG=C.UTF-8' \
        --change 'CMD ["prometheus", "--version"]'
fi
if [[ $want == postgres ]]; then
    # The package's postinst made a cluster "main" (debootstrap fakes the service start):
    # the entrypoint makes its own in PGDATA on the first start.
    add_postgres_entrypoint() {
        install -m 0755 "$HERE/../deploy/postgres/entrypoint.sh" "$1/usr/local/bin/docker-entrypoint.sh"
        mkdir -p "$1/var/lib/postgresql/data" "$1/run/postgresql"
        chroot "$1" chown postgres:postgres /var/lib/postgresql/data /run/postgresql
    }
    TRIM_EXTRA="var/lib/postgresql/15/main etc/postgresql/15/main usr/share/locale" \
    ROOTFS_HOOK=add_postgres_entrypoint \
    build "$POSTGRES_IMAGE" "postgresql-15,ca-certificates" \
        'postgres --version && pg_dump --version && test -x /usr/local/bin/docker-entrypoint.sh' -- \
        --change "ENV PATH=/usr/lib/postgresql/15/bin:$BASE_PATH" \
        --change 'ENV LANG=C.UTF-8' \
        --change 'ENV PGDATA=/var/lib/postgresql/data' \
        --change 'VOLUME /var/lib/postgresql/data' \
        --change 'EXPOSE 5432' \
        --change 'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' \
        --change 'CMD ["postgres"]'
fi
say "done in $(( $(date +%s) - T0 )) s"
docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' \
    | grep -E "^(${PYTHON_IMAGE%%:*}|${JRE_IMAGE%%:*}|${PROMETHEUS_IMAGE%%:*}):" | sed 's/^/  /' || true
