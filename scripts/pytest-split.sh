#!/usr/bin/env bash
# `make test`'s pytest, as two processes at once (usage: scripts/pytest-split.sh PYTEST [ARGS]):
# the tests marked `docker` (every test under tests/deploy is, see tests/conftest.py) run
# one after another in one of them: they share this machine's Swarm and its three-node
# cluster, and wait on them most of the time (about 30 minutes at a load average of 1).
# The other tests run meanwhile in the second; their output is shown after the Docker
# tests', then the short summaries of both. The exit status is non-zero if either failed.
# (pytest-xdist's --dist loadgroup would do this in one report, but its groups do not
# work with pytest 9's node ids.)
set -uo pipefail
pytest="$1"
shift
logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT

# A background command of a script ignores SIGINT: given back, so that Ctrl-C stops (and
# tears down) both, not only the Docker tests while the others run on unseen.
env --default-signal=SIGINT "$pytest" -m "not docker" "$@" >"$logs/other" 2>&1 &
other_pid=$!
"$pytest" -m docker "$@" 2>&1 | tee "$logs/docker"
docker_rc=${PIPESTATUS[0]}
wait "$other_pid"
other_rc=$?

echo
echo "======================= the other tests (ran meanwhile) ======================="
cat "$logs/other"
echo
echo "=============================== both, in short ================================"
for part in docker other; do
  echo "-- the $part tests:"
  sed -n '/short test summary info/,$p' "$logs/$part" | grep -v "short test summary info"
  grep -q "short test summary info" "$logs/$part" || tail -n 1 "$logs/$part"
done
if (( docker_rc != 0 || other_rc != 0 )); then
  echo "pytest failed: the Docker tests exited $docker_rc, the others $other_rc" >&2
  exit 1
fi
