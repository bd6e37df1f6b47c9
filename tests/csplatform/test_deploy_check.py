"""`manage.py check --deploy` is clean with the production variables of `.env.production.example`,
and loud without them. Run in a subprocess because the settings are read once, at start-up."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_deploy_check(tmp_path: Path, **variables: str) -> subprocess.CompletedProcess:
    # Only the variables given here: none of the test run's (DJANGO_SETTINGS_MODULE=tests.settings,
    # DEBUG...) may leak in. A developer's own `.env` in the project root still fills the gaps.
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DJANGO_SETTINGS_MODULE": "csplatform.settings",
        "DATABASE_URL": os.environ["DATABASE_URL"],
        "REDIS_URL": os.environ["REDIS_URL"],
        "CSPLATFORM_VAR_DIR": str(tmp_path),
        **variables,
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def production_variables() -> dict[str, str]:
    return {
        "SECRET_KEY": secrets.token_urlsafe(64),
        "DEBUG": "0",
        "ALLOWED_HOSTS": "cs.example.com",
        "CSRF_TRUSTED_ORIGINS": "https://cs.example.com",
        "BEHIND_TLS_PROXY": "1",
        "SECURE_SSL_REDIRECT": "1",
        "SECURE_HSTS_SECONDS": "31536000",
        "SECURE_HSTS_PRELOAD": "1",
        "SESSION_COOKIE_SECURE": "1",
        "CSRF_COOKIE_SECURE": "1",
        "EMAIL_URL": "smtp+tls://csplatform:password@smtp.example.com:587",
        "DEFAULT_FROM_EMAIL": "csplatform <noreply@cs.example.com>",
    }


def test_the_deploy_check_is_clean_with_the_production_variables(tmp_path):
    result = run_deploy_check(tmp_path, **production_variables())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_the_production_example_file_sets_every_variable_the_deploy_check_needs():
    example = (ROOT / ".env.production.example").read_text()
    names = {line.split("=", 1)[0] for line in example.splitlines() if "=" in line and not line.startswith("#")}
    assert set(production_variables()) <= names


def test_the_deploy_check_fails_on_debug_and_the_default_secret_key(tmp_path):
    result = run_deploy_check(tmp_path, DEBUG="1")
    assert result.returncode != 0
    assert "security.W009" in result.stderr  # the django-insecure- default key
    assert "security.W018" in result.stderr  # DEBUG
