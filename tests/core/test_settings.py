"""Configuration by environment variables: production refuses unsafe settings."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items()
             if k not in {"SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "MOULIN_ENV", "DEBUG",
                          "DJANGO_ALLOW_ASYNC_UNSAFE"}}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env={**clean, **env},
                          capture_output=True, text=True, timeout=120, check=False)


def production_env(**extra: str) -> dict:
    return {"MOULIN_ENV": "production", "SECRET_KEY": secrets.token_urlsafe(64),
            "ALLOWED_HOSTS": "moulin.example.com",
            "DATABASE_URL": "postgres://moulin:secret@db.internal:5432/moulin", **extra}


def test_production_settings_pass_the_deployment_checklist():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **production_env())
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_to_start_without_a_secret_key():
    env = production_env()
    del env["SECRET_KEY"]
    result = manage("check", **env)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_production_refuses_a_short_secret_key():
    result = manage("check", **production_env(SECRET_KEY="too-short"))
    assert result.returncode != 0
    assert "at least 50" in result.stderr


def test_production_refuses_to_start_without_allowed_hosts():
    env = production_env()
    del env["ALLOWED_HOSTS"]
    result = manage("check", **env)
    assert result.returncode != 0
    assert "ALLOWED_HOSTS" in result.stderr


def test_a_malformed_database_url_is_reported():
    result = manage("check", DATABASE_URL="mysqlx://nope")
    assert result.returncode != 0
    assert "mysqlx" in result.stderr or "DATABASE_URL" in result.stderr


def test_an_unknown_environment_name_is_reported():
    result = manage("check", MOULIN_ENV="prod")
    assert result.returncode != 0
    assert "MOULIN_ENV must be" in result.stderr
