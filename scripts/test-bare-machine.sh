#!/usr/bin/env bash
# `make demo` on a bare Debian machine, from a clean clone, with nothing typed before it
# (make test-bare-machine; .ci/run runs it after `make test`; 5.5 min measured, most of it
# apt, Maven and pip downloads).
#
# The machine: `debootstrap --variant=minbase bookworm` (as the base images are made) with
# git and make, the two commands needed to get the clone and type `make demo`. It runs as a
# chroot: it shares this machine's network and reaches the package registries. Only this
# machine's own CA trust is copied in (its network passes through a TLS proxy; a real bare
# machine does not need that). Needs root and debootstrap.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
SUITE=bookworm
CACHE="${DEBOOTSTRAP_CACHE:-/var/cache/camunda-workers/debootstrap-$SUITE}"
PORT="${PORT:-18080}"
say() { printf '[bare-machine] %s\n' "$*"; }
die() { printf '[bare-machine] ERROR: %s\n' "$*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "must run as root (debootstrap and chroot need it)"
command -v debootstrap >/dev/null || die "debootstrap missing: apt-get install -y debootstrap"

# The mirror apt on this host uses (the same lookup as scripts/base-images.sh).
eval "$(sed -n '/^find_mirror()/,/^}/p' "$REPO/scripts/base-images.sh")"
MIRROR="${DEBIAN_MIRROR:-$(find_mirror)}"
[[ -n $MIRROR ]] || die "no Debian $SUITE mirror found; set DEBIAN_MIRROR=URL"

root="$(mktemp -d /var/tmp/cw-bare.XXXXXX)"
cleanup() {
  chroot "$root" /bin/bash -c 'cd /root/camunda-workers 2>/dev/null && engine/engine.sh stop' \
    >/dev/null 2>&1 || true
  for mount in dev/pts dev sys proc; do umount -l "$root/$mount" 2>/dev/null || true; done
  rm -rf "$root"
}
trap cleanup EXIT
started=$(date +%s)
mkdir -p "$CACHE"
say "debootstrap --variant=minbase --include=git,make,ca-certificates $SUITE $root"
debootstrap --variant=minbase --cache-dir="$CACHE" --include=git,make,ca-certificates \
  "$SUITE" "$root" "$MIRROR" >"$root.log" 2>&1 || die "debootstrap failed (log: $root.log)"
rm -f "$root.log"
# This machine's CA trust and DNS (see above), then the filesystems a JVM needs.
if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
  cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
  chroot "$root" update-ca-certificates >/dev/null
fi
[[ -f /etc/pip.conf ]] && cp /etc/pip.conf "$root/etc/pip.conf"
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
# The installer writes /etc/hosts on a real machine; debootstrap does not (localhost).
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n' >"$root/etc/hosts"
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount --rbind /dev "$root/dev"
git clone -q --no-local "$REPO" "$root/root/camunda-workers"
prepared=$(date +%s)
say "machine ready in $((prepared - started)) s; now, as its root user: make demo PORT=$PORT"
chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
  REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt \
  /bin/bash -c "cd /root/camunda-workers && make demo PORT=$PORT" | tee "$root/demo.log"
grep -q "started 20 hello_world instances; 20 completed" "$root/demo.log" \
  || die "make demo did not complete its 20 instances (output above)"
finished=$(date +%s)
say "make demo on the bare machine: $((finished - prepared)) s (machine $((prepared - started)) s, total $((finished - started)) s)"
