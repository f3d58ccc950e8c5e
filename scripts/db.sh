#!/usr/bin/env bash
# Backup and restore of the stack's PostgreSQL database (the db service), with the tools in
# the db service's own container (pg_dump, pg_restore; its local socket needs no password).
#
#   scripts/db.sh backup [FILE]   pg_dump (custom format) to FILE, default
#                                 backups/STACK-db-YYYYmmdd-HHMMSS.dump; the engine keeps running
#   scripts/db.sh restore FILE    stop the engine service, restore FILE into the database
#                                 (pg_restore --clean, one transaction), start the engine again
#
# STACK (default camunda-workers) names the stack; DB_USER / DB_NAME (default camunda) the
# database. Docker must reach the node that runs the db task: the node labelled
# camunda-workers.db=true (e.g. DOCKER_HOST=ssh://root@that-node).
set -euo pipefail

STACK="${STACK:-camunda-workers}"
DB_USER="${DB_USER:-camunda}"
DB_NAME="${DB_NAME:-camunda}"

die() { echo "db.sh: $*" >&2; exit 1; }

db_container() {
    local id
    id="$(docker ps -q --filter "label=com.docker.swarm.service.name=${STACK}_db" | head -n 1)"
    [[ -n $id ]] || die "no running container of service ${STACK}_db on this Docker engine; run this on (or with DOCKER_HOST of) the node labelled camunda-workers.db=true"
    echo "$id"
}

wait_ready() {
    local i
    for (( i = 0; i < 120; i++ )); do
        docker exec "$1" pg_isready -q -U "$DB_USER" -d "$DB_NAME" && return 0
        sleep 1
    done
    die "the database in container $1 did not get ready within 120 s"
}

backup() {
    local file="${1:-backups/${STACK}-db-$(date -u +%Y%m%d-%H%M%S).dump}" container
    container="$(db_container)"
    mkdir -p "$(dirname "$file")"
    # written beside, renamed when complete: a failed dump leaves no half file under FILE
    if ! docker exec "$container" pg_dump -U "$DB_USER" -d "$DB_NAME" -Fc >"$file.part"; then
        rm -f "$file.part"
        die "pg_dump in ${STACK}_db failed (see above); nothing written"
    fi
    mv "$file.part" "$file"
    echo "backed up database $DB_NAME of ${STACK}_db to $file ($(du -h "$file" | cut -f1))"
}

replicas_of() {
    docker service inspect -f '{{.Spec.Mode.Replicated.Replicas}}' "$1" 2>/dev/null \
        || die "no service $1: is STACK=$STACK right?"
}

restore() {
    local file="${1:-}" container engine="${STACK}_camunda" replicas
    [[ -n $file ]] || die "give the dump to restore: scripts/db.sh restore FILE (make db-restore FILE=...)"
    [[ -r $file ]] || die "$file cannot be read"
    replicas="$(replicas_of "$engine")"
    container="$(db_container)"
    wait_ready "$container"
    echo "stopping $engine while the database is restored"
    docker service scale -d "$engine=0" >/dev/null
    local i
    for (( i = 0; i < 120; i++ )); do
        [[ -z $(docker ps -q --filter "label=com.docker.swarm.service.name=$engine") ]] && break
        sleep 1
    done
    if ! docker exec -i "$container" pg_restore -U "$DB_USER" -d "$DB_NAME" --clean --if-exists \
            --no-owner --single-transaction <"$file"; then
        docker service scale -d "$engine=$replicas" >/dev/null
        die "pg_restore of $file failed (see above); the database is as before, $engine started again"
    fi
    docker service scale -d "$engine=$replicas" >/dev/null
    echo "restored $file into database $DB_NAME of ${STACK}_db; $engine started again ($replicas replica(s))"
}

case "${1:-}" in
    backup) shift; backup "$@" ;;
    restore) shift; restore "$@" ;;
    *) sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
