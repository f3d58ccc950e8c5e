#!/usr/bin/env bash
# Dev/test process engine (Camunda 7 or Operaton) for camunda-workers.
#
#   engine.sh build   [camunda|operaton]                 build the jar if missing or stale
#   engine.sh start   [camunda|operaton] [-- JAR_ARGS]   build if needed, start in background, wait until ready
#   engine.sh stop    [camunda|operaton]                 stop engine(s) started by 'start'
#   engine.sh restart [camunda|operaton] [-- JAR_ARGS]   stop + start (same port)
#   engine.sh status                                     list engines started by 'start'
#
# Flavour defaults to $ENGINE_FLAVOUR or camunda. The port is $PORT (default 8080)
# or '--port N' (start/stop/restart). 'stop' without a port (neither PORT nor --port)
# stops every engine of that flavour (or all, without flavour).
# JAR_ARGS go to the Spring Boot app, e.g. -- --engine.auth=basic --engine.db-file=/tmp/x/engine
# (PostgreSQL: -- --engine.db-url=jdbc:postgresql://HOST:PORT/DB --engine.db-password-file=FILE)
# Env: ENGINE_JAVA_OPTS (JVM options), ENGINE_START_TIMEOUT (seconds, default 120),
#      ENGINE_USER / ENGINE_PASSWORD (credentials used for the readiness probe, default demo/demo),
#      ENGINE_BIND_ADDRESS (default 127.0.0.1: loopback only, the engine has no auth by
#      default; 0.0.0.0 for every interface, e.g. for containers on this machine).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RUN_DIR="$HERE/.run"
TARGET="$HERE/target"

die() { echo "engine.sh: $*" >&2; exit 1; }

usage() {
  sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

java_bin() {
  if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
    echo "$JAVA_HOME/bin/java"
  else
    command -v java || true
  fi
}

check_java() {
  local java major
  java="$(java_bin)"
  [[ -n "$java" ]] || die "Java 17 not found: apt-get install openjdk-17-jdk-headless (or set JAVA_HOME)"
  major="$("$java" -version 2>&1 | sed -n '1s/.*version "\([0-9]*\)[."].*/\1/p')"
  [[ "$major" =~ ^[0-9]+$ ]] || die "cannot determine the Java version of $java"
  (( major >= 17 )) || die "Java $major found at $java, Java 17+ needed: apt-get install openjdk-17-jdk-headless (or set JAVA_HOME)"
}

check_mvn() {
  command -v mvn >/dev/null 2>&1 || die "Maven not found: apt-get install maven"
}

check_curl() {
  command -v curl >/dev/null 2>&1 || die "curl not found: apt-get install curl"
}

flavour_of() {
  local f="${1:-${ENGINE_FLAVOUR:-camunda}}"
  case "$f" in
    camunda|operaton) echo "$f" ;;
    *) die "unknown flavour '$f' (camunda or operaton)" ;;
  esac
}

jar_of() { echo "$TARGET/engine-$1.jar"; }

jar_is_fresh() {
  local jar="$1"
  [[ -f "$jar" ]] || return 1
  [[ -z "$(find "$HERE/pom.xml" "$HERE/src" -newer "$jar" -print -quit 2>/dev/null)" ]]
}

# build FLAVOUR : build the jar unless it is newer than pom.xml and src/
# Run "$@" holding an exclusive lock on file $1, serialising parallel runs (e.g. tests);
# the lock fd is closed again so that an engine JVM started meanwhile does not inherit it.
with_lock() {
  local lockfile="$1" fd rc=0
  shift
  command -v flock >/dev/null 2>&1 || { "$@"; return; }
  exec {fd}>"$lockfile"
  flock "$fd"
  "$@" || rc=$?
  exec {fd}>&-
  return $rc
}

do_build() {
  local flavour="$1"
  mkdir -p "$RUN_DIR"
  jar_is_fresh "$(jar_of "$flavour")" && return 0
  with_lock "$RUN_DIR/build-$flavour.lock" build_locked "$flavour"
}

build_locked() {
  local flavour="$1" jar log profile=()
  jar="$(jar_of "$flavour")"
  jar_is_fresh "$jar" && return 0   # built meanwhile by a concurrent call
  check_java
  check_mvn
  [[ "$flavour" == operaton ]] && profile=(-Poperaton)
  log="$RUN_DIR/build-$flavour.log"
  echo "Building the $flavour engine jar with Maven (the first build downloads dependencies) ..."
  # each flavour has its own build directory target/<flavour>/ (see pom.xml); wipe only that one
  rm -rf "$TARGET/$flavour"
  if ! mvn -q -B -f "$HERE/pom.xml" "${profile[@]}" package >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    die "build of the $flavour engine failed (full log: $log)"
  fi
  [[ -f "$jar" ]] || die "build finished but $jar is missing (log: $log)"
  touch "$jar"
  echo "Built $jar ($(du -h "$jar" | cut -f1))"
}

# where the engine answers: the address it binds to, or loopback when it binds to all
probe_host() {
  case "${ENGINE_BIND_ADDRESS:-127.0.0.1}" in
    0.0.0.0|127.0.0.1|localhost) echo 127.0.0.1 ;;
    ::|::0|'[::]') echo '[::1]' ;;
    *:*) echo "[${ENGINE_BIND_ADDRESS}]" ;;
    *) echo "$ENGINE_BIND_ADDRESS" ;;
  esac
}

http_code() {
  curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
    -u "${ENGINE_USER:-demo}:${ENGINE_PASSWORD:-demo}" "$1" 2>/dev/null || true
}

engine_version() {
  curl -s --max-time 5 -u "${ENGINE_USER:-demo}:${ENGINE_PASSWORD:-demo}" \
    "http://$(probe_host):$1/engine-rest/version" 2>/dev/null \
    | sed -n 's/.*"version" *: *"\([^"]*\)".*/\1/p'
}

# rm_pidfile FILE PID : remove FILE only if it still names PID
rm_pidfile() {
  [[ -f "$1" && "$(cat "$1" 2>/dev/null)" == "$2" ]] && rm -f "$1"
  return 0
}

pid_alive() { [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null; }

# is PID one of our engine JVMs (guards against a recycled pid)?
pid_is_engine() {
  pid_alive "$1" || return 1
  [[ -r "/proc/$1/cmdline" ]] || return 0
  tr '\0' ' ' <"/proc/$1/cmdline" | grep -q "engine-[a-z]*\.jar"
}

ready_line() {
  local flavour="$1" port="$2" version
  version="$(engine_version "$port")"
  echo "Camunda engine ($flavour ${version:-?}) ready at http://localhost:$port/engine-rest"
}

do_start() {
  local flavour="$1" port="$2"
  check_curl
  mkdir -p "$RUN_DIR"
  # one 'start' at a time per flavour and port (parallel test runs)
  with_lock "$RUN_DIR/start-$flavour-$port.lock" start_locked "$@"
}

start_locked() {
  local flavour="$1" port="$2"; shift 2
  local jar pidfile log pid="" code other deadline timeout="${ENGINE_START_TIMEOUT:-120}"
  pidfile="$RUN_DIR/$flavour-$port.pid"
  log="$RUN_DIR/$flavour-$port.log"

  # engine of another flavour on the same port?
  for other in camunda operaton; do
    [[ "$other" == "$flavour" ]] && continue
    if [[ -f "$RUN_DIR/$other-$port.pid" ]] && pid_is_engine "$(cat "$RUN_DIR/$other-$port.pid")"; then
      die "port $port is used by the $other engine (pid $(cat "$RUN_DIR/$other-$port.pid")); stop it first: $0 stop $other --port $port"
    fi
  done

  if [[ -f "$pidfile" ]]; then
    pid="$(cat "$pidfile")"
    if pid_is_engine "$pid"; then
      code="$(http_code "http://$(probe_host):$port/engine-rest/engine")"
      if [[ "$code" == 200 ]]; then
        echo "Already running (pid $pid): $(ready_line "$flavour" "$port")"
        return 0
      fi
      echo "Engine $flavour on port $port is starting (pid $pid), waiting ..."
    else
      rm -f "$pidfile"
      pid=""
    fi
  fi

  if [[ -z "${pid:-}" ]]; then
    code="$(http_code "http://$(probe_host):$port/engine-rest/engine")"
    if [[ "$code" == 200 ]]; then
      echo "An engine not started by engine.sh already answers on port $port: $(ready_line "$flavour" "$port")"
      return 0
    elif [[ "$code" != 000 ]]; then
      die "port $port is in use by something else (HTTP $code on /engine-rest/engine)"
    fi
    do_build "$flavour"
    jar="$(jar_of "$flavour")"
    check_java
    # {fd}>&- closes with_lock's start lock (bash numbers it from 10) in the JVM: held by
    # the engine, it made every later 'start' on this port (make bench after make engine)
    # wait forever instead of saying that the engine already runs.
    # shellcheck disable=SC2086
    nohup "$(java_bin)" ${ENGINE_JAVA_OPTS:--XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xms128m -Xmx768m} \
      -jar "$jar" --server.port="$port" "$@" >"$log" 2>&1 </dev/null 8>&- 9>&- {fd}>&- &
    pid=$!
    echo "$pid" >"$pidfile"
  fi

  deadline=$(( $(date +%s) + timeout ))
  while :; do
    code="$(http_code "http://$(probe_host):$port/engine-rest/engine")"
    if [[ "$code" == 200 ]]; then
      ready_line "$flavour" "$port"
      return 0
    fi
    if ! pid_alive "$pid"; then
      echo "Engine $flavour exited during startup; last 40 lines of $log:" >&2
      tail -n 40 "$log" >&2 || true
      rm_pidfile "$pidfile" "$pid"
      exit 1
    fi
    if (( $(date +%s) >= deadline )); then
      echo "Engine $flavour not ready on port $port after ${timeout}s (last HTTP code $code); last 40 lines of $log:" >&2
      tail -n 40 "$log" >&2 || true
      stop_pid "$pid"
      rm_pidfile "$pidfile" "$pid"
      exit 1
    fi
    sleep 0.3
  done
}

stop_pid() {
  local pid="$1" i
  pid_alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for (( i = 0; i < 100; i++ )); do   # up to 20 s
    pid_alive "$pid" || return 0
    sleep 0.2
  done
  echo "pid $pid did not stop after SIGTERM, sending SIGKILL" >&2
  kill -KILL "$pid" 2>/dev/null || true
  for (( i = 0; i < 25; i++ )); do
    pid_alive "$pid" || return 0
    sleep 0.2
  done
}

# stop FLAVOUR-or-empty PORT-or-empty
do_stop() {
  local flavour="$1" port="$2" f pidfile base pid n=0
  shopt -s nullglob
  for pidfile in "$RUN_DIR"/*.pid; do
    base="$(basename "$pidfile" .pid)"      # <flavour>-<port>
    f="${base%-*}"
    [[ -n "$flavour" && "$f" != "$flavour" ]] && continue
    [[ -n "$port" && "${base##*-}" != "$port" ]] && continue
    pid="$(cat "$pidfile")"
    if pid_is_engine "$pid"; then
      stop_pid "$pid"
      echo "Stopped $f engine on port ${base##*-} (pid $pid)"
      n=$((n + 1))
    fi
    rm -f "$pidfile"
  done
  (( n > 0 )) || echo "No engine${flavour:+ ($flavour)}${port:+ on port $port} running"
}

do_status() {
  local pidfile base pid code state n=0
  shopt -s nullglob
  for pidfile in "$RUN_DIR"/*.pid; do
    base="$(basename "$pidfile" .pid)"
    pid="$(cat "$pidfile")"
    if pid_is_engine "$pid"; then
      code="$(http_code "http://$(probe_host):${base##*-}/engine-rest/engine")"
      if [[ "$code" == 200 ]]; then
        state="ready, $(engine_version "${base##*-}")"
      else
        state="starting (HTTP $code)"
      fi
      echo "${base%-*} port ${base##*-} pid $pid: $state  log: $RUN_DIR/$base.log"
      n=$((n + 1))
    else
      echo "${base%-*} port ${base##*-}: not running (stale pid file removed)"
      rm -f "$pidfile"
    fi
  done
  (( n > 0 )) || { echo "No engine running"; return 3; }
}

main() {
  local cmd="${1:-}" flavour="" port="" port_given="" extra=()
  [[ $# -gt 0 ]] && shift
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --) shift; extra=("$@"); break ;;
      --port) [[ $# -ge 2 ]] || die "--port needs a value"; port="$2"; port_given=1; shift 2 ;;
      --port=*) port="${1#--port=}"; port_given=1; shift ;;
      -h|--help) usage; exit 0 ;;
      -*) die "unexpected option '$1' (see: $0 help)" ;;
      *) [[ -z "$flavour" ]] || die "unexpected argument '$1' (see: $0 help)"
         flavour="$(flavour_of "$1")"; shift ;;
    esac
  done
  if [[ -z "$port_given" && -n "${PORT:-}" ]]; then port="$PORT"; port_given=1; fi
  [[ -z "$port" || "$port" =~ ^[0-9]+$ ]] || die "invalid port '$port'"

  case "$cmd" in
    build)   do_build "$(flavour_of "$flavour")" ;;
    start)   do_start "$(flavour_of "$flavour")" "${port:-8080}" "${extra[@]+"${extra[@]}"}" ;;
    stop)    do_stop "$flavour" "$port" ;;
    restart)
      flavour="$(flavour_of "$flavour")"
      do_stop "$flavour" "${port:-8080}"
      do_start "$flavour" "${port:-8080}" "${extra[@]+"${extra[@]}"}" ;;
    status)  do_status ;;
    help|-h|--help|"") usage ;;
    *) die "unknown command '$cmd' (build, start, stop, restart, status)" ;;
  esac
}

main "$@"
