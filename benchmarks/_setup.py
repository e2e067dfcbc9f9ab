"""Shared set-up for benchmarks: a throwaway database, Django configured, migrations run.

``DATABASE_URL`` selects the database (PostgreSQL for the figures the issues ask for; start one
with ``eval "$(scripts/pg-start.sh /tmp/moulin-pg)"``). Without it a temporary SQLite file is used.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def setup_django() -> str:
    """Configure Django on a fresh database; returns the database vendor."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("MOULIN_ENV", "test")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "moulin.config.settings")
    if not os.environ.get("DATABASE_URL"):
        path = Path(tempfile.mkdtemp(prefix="moulin-bench-")) / "bench.sqlite3"
        os.environ["DATABASE_URL"] = f"sqlite:///{path}"
    import django
    from django.core.management import call_command
    from django.db import connection

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    return connection.vendor


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]
