#!/usr/bin/env bash
# Start one background worker and the development server; Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${MOULIN_PORT:-8000}"
PY=.venv/bin/python

$PY manage.py db_worker --interval 1 >"${TMPDIR:-/tmp}/moulin-worker.log" 2>&1 &
WORKER=$!
trap 'kill $WORKER 2>/dev/null; wait $WORKER 2>/dev/null; echo; echo "Moulin stopped."' EXIT INT TERM

cat <<BANNER

  Moulin is starting on http://127.0.0.1:${PORT}/
  Sign in as admin@example.com (or any demo login above) with the demo password shown above.
  API docs: http://127.0.0.1:${PORT}/api/v1/docs — a background worker is running (pid ${WORKER}).
  Press Ctrl-C to stop.

BANNER
$PY manage.py runserver "127.0.0.1:${PORT}" --skip-checks
