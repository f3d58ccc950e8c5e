#!/bin/bash
# Entrypoint of local/postgres:15 (scripts/base-images.sh postgres): Debian's PostgreSQL with
# the environment contract of the public postgres image, so the stack file works with both:
#   POSTGRES_PASSWORD_FILE (or POSTGRES_PASSWORD)  the password of POSTGRES_USER, required on
#                                                  the first start
#   POSTGRES_USER (default postgres), POSTGRES_DB (default: POSTGRES_USER), PGDATA
#   (default /var/lib/postgresql/data)
# The first start (empty PGDATA) runs initdb and creates POSTGRES_DB; later starts use what is
# there. Connections over the network need the password (scram-sha-256); the local socket
# inside the container is trusted (docker exec pg_dump, pg_isready), as in the public image.
set -euo pipefail

export PGDATA="${PGDATA:-/var/lib/postgresql/data}"
die() { echo "postgres entrypoint: $*" >&2; exit 1; }

if [[ $(id -u) == 0 ]]; then
    mkdir -p "$PGDATA" /run/postgresql
    chown postgres:postgres "$PGDATA" /run/postgresql
    chmod 700 "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [[ -n ${POSTGRES_PASSWORD_FILE:-} ]]; then
    [[ -r $POSTGRES_PASSWORD_FILE ]] || die "POSTGRES_PASSWORD_FILE $POSTGRES_PASSWORD_FILE cannot be read"
    POSTGRES_PASSWORD="$(<"$POSTGRES_PASSWORD_FILE")"
fi
user="${POSTGRES_USER:-postgres}"
db="${POSTGRES_DB:-$user}"

if [[ ! -s $PGDATA/PG_VERSION ]]; then
    [[ -n ${POSTGRES_PASSWORD:-} ]] || die "the database is not initialised and no password is given: set POSTGRES_PASSWORD_FILE (a Docker secret)"
    pwfile="$(mktemp)"
    printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
    initdb -D "$PGDATA" -U "$user" --pwfile="$pwfile" -E UTF8 --auth-local=trust \
        --auth-host=scram-sha-256 >/dev/null
    rm -f "$pwfile"
    printf 'host all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
    if [[ $db != postgres ]]; then
        psql -v ON_ERROR_STOP=1 -U "$user" -d postgres -q \
            -c "create database \"${db//\"/\"\"}\"" >/dev/null
    fi
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
    echo "postgres entrypoint: initialised $PGDATA (user $user, database $db)"
fi
unset POSTGRES_PASSWORD
[[ ${1:-} == postgres ]] && shift   # `command: [postgres, -c, ...]` as with the public image
exec postgres -D "$PGDATA" -c listen_addresses='*' "$@"
