#!/usr/bin/env bash
# Start a throwaway PostgreSQL on a free loopback port, owned by this shell's caller.
# Usage: eval "$(scripts/pg-start.sh DIR)"  → exports DATABASE_URL and PG_STOP (a command).
# Used by .ci/run and by benchmarks; needs Debian's postgresql package and root (runuser).
set -euo pipefail
DIR=${1:?usage: pg-start.sh DIR}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
mkdir -p "$DIR" && chmod 755 "$DIR"
mkdir -p "$DIR/pg" && chown postgres:postgres "$DIR/pg"
PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
runuser -u postgres -- "$PGBIN/initdb" -D "$DIR/pg/data" -U postgres --auth=trust -E UTF8 \
  --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 || { cat "$DIR/initdb.log" >&2; exit 1; }
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$DIR/pg/data" -l "$DIR/pg/pg.log" -w -t 60 start \
  -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR/pg -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=512MB" \
  >/dev/null || { cat "$DIR/pg/pg.log" >&2; exit 1; }
"$PGBIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres moulin
echo "export DATABASE_URL=postgres://postgres@127.0.0.1:$PORT/moulin"
echo "export PG_STOP='runuser -u postgres -- $PGBIN/pg_ctl -D $DIR/pg/data -m fast stop'"
