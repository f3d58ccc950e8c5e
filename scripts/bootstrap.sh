#!/usr/bin/env bash
# Install what the project's commands need on a Debian/Ubuntu machine, and say why:
#
#   scripts/bootstrap.sh demo   # `make demo`: Python 3 with venv, Java 17, Maven, curl
#   scripts/bootstrap.sh test   # `make test` (and .ci/run): the same, and what the tests
#                               # run: Prometheus, Node.js/npm, the cluster test's tools, PostgreSQL
#
# Nothing missing: it prints nothing. As root it runs apt-get; otherwise sudo (it asks for
# the password); with neither, it stops with the exact command to run. On other systems it
# prints the one line of packages to install with the system's package manager.
set -euo pipefail
purpose="${1:-demo}"
case "$purpose" in demo|test) ;; *) echo "usage: $0 demo|test" >&2; exit 2 ;; esac

packages=()
reasons=()
need() { packages+=("$1"); reasons+=("  $1: $2"); }

command -v python3 >/dev/null || need python3 "runs the tooling and the workers"
python3 -c 'import ensurepip' 2>/dev/null || need python3-venv "make setup creates .venv"
command -v java >/dev/null || need openjdk-17-jdk-headless "the local Camunda engine runs on Java 17"
command -v mvn >/dev/null || need maven "builds the engine jar (engine/engine.sh)"
command -v curl >/dev/null || need curl "engine/engine.sh waits for the engine with it"
if [[ $purpose == test ]]; then
  command -v git >/dev/null || need git "the template tests use real git"
  command -v promtool >/dev/null || need prometheus "rule unit tests, make monitoring"
  command -v node >/dev/null || need nodejs "the benchmark's smoke test runs the official JS client"
  command -v npm >/dev/null || need npm "installs the JS client"
  command -v valgrind >/dev/null || need valgrind "the benchmark's smoke test counts instructions with callgrind"
  command -v tmux >/dev/null || need tmux "the test of workers new -i in a real terminal"
  command -v ip >/dev/null || need iproute2 "the three-node Swarm of the cluster test"
  command -v iptables >/dev/null || need iptables "the cluster's bridge rule"
  command -v docker-registry >/dev/null || need docker-registry "the cluster's registry"
  [[ -x /usr/sbin/sshd ]] || need openssh-server "the sshd in front of the cluster's manager"
  command -v ssh >/dev/null || need openssh-client "DOCKER_HOST=ssh:// tests"
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null \
    || need postgresql "the engine's production database (the tests start it)"
fi
((${#packages[@]})) || exit 0

echo "bootstrap: \`make $purpose\` needs ${#packages[@]} package(s) this machine lacks:"
printf '%s\n' "${reasons[@]}"
if ! command -v apt-get >/dev/null; then
  echo "bootstrap: not a Debian/Ubuntu system; install with your package manager (names" \
       "differ): Python >= 3.11 with venv, a Java 17 JDK, Maven, curl, e.g." \
       "\`sudo dnf install python3 java-17-openjdk-devel maven curl\`" >&2
  exit 1
fi
install=(apt-get install -y -qq --no-install-recommends "${packages[@]}")
if [[ $(id -u) -eq 0 ]]; then
  run=()
elif command -v sudo >/dev/null; then
  run=(sudo)
  echo "bootstrap: installing with sudo (it may ask for your password)"
else
  echo "bootstrap: not root and no sudo; as root run: apt-get update && ${install[*]}" >&2
  exit 1
fi
echo "bootstrap: apt-get install ${packages[*]}"
"${run[@]}" apt-get update -qq
"${run[@]}" env DEBIAN_FRONTEND=noninteractive "${install[@]}"
