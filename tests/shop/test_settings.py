"""Production settings come from the environment and pass Django's deployment checks (issue #2)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _manage(*args, env_overrides):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DEBUG", "SECRET_KEY", "SECURE_", "DJANGO_", "P6_LEDGER_KEY", "CSP_", "PERMISSIONS_",
                                "MEDIA_"))}
    env.update(env_overrides)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def test_production_settings_pass_check_deploy(tmp_path):
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env_overrides={
        "SECRET_KEY": "x7#kq2!v9@pL0zR$w4^mN8&bT1*eY6(uH3)jC5-aS0+dF2=gK9_iO7~lQ4|sW1",
        "ALLOWED_HOSTS": "shop.p6.example.org", "P6_VAR_DIR": str(tmp_path),
        "P6_LEDGER_KEY": "Qm3$vX8!pR2#tL6@wZ9^nB4&kF7*hJ1(dS5)yC0-gE3+aU8=oI6~rM2|eW4",
    })
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_warns_when_the_ledger_key_is_not_set(tmp_path):
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env_overrides={
        "SECRET_KEY": "x7#kq2!v9@pL0zR$w4^mN8&bT1*eY6(uH3)jC5-aS0+dF2=gK9_iO7~lQ4|sW1",
        "ALLOWED_HOSTS": "shop.p6.example.org", "P6_VAR_DIR": str(tmp_path),
    })
    assert result.returncode != 0
    assert "(fundraising.W001) P6_LEDGER_KEY is not set" in result.stdout + result.stderr


def test_production_settings_refuse_to_start_without_a_secret_key(tmp_path):
    result = _manage("check", env_overrides={"P6_VAR_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "SECRET_KEY must be set in the environment when DEBUG is off" in result.stderr


def test_a_malformed_boolean_is_refused(tmp_path):
    result = _manage("check", env_overrides={"DEBUG": "maybe", "P6_VAR_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "DEBUG must be a boolean" in result.stderr


def test_the_security_headers_are_configured_from_the_environment(tmp_path):
    show = ("from django.conf import settings; "
            "print(bool(getattr(settings, 'CONTENT_SECURITY_POLICY', None)), "
            "bool(getattr(settings, 'CONTENT_SECURITY_POLICY_REPORT_ONLY', None)), "
            "repr(settings.SECURITY_PERMISSIONS_POLICY), repr(settings.SECURE_CROSS_ORIGIN_OPENER_POLICY), "
            "settings.CONTENT_SECURITY_POLICY_REPORT_ONLY['DIRECTIVES']['img-src'] if "
            "getattr(settings, 'CONTENT_SECURITY_POLICY_REPORT_ONLY', None) else "
            "settings.CONTENT_SECURITY_POLICY['DIRECTIVES']['img-src'])")
    defaults = _manage("shell", "-c", show, env_overrides={"DEBUG": "1", "P6_VAR_DIR": str(tmp_path)})
    assert defaults.returncode == 0, defaults.stderr
    assert defaults.stdout.strip().splitlines()[-1] == (
        "True False 'payment=(\"https://js.stripe.com\"), camera=(), microphone=(), geolocation=(), usb=()' "
        "'same-origin' [\"'self'\", 'data:']")
    changed = _manage("shell", "-c", show, env_overrides={
        "DEBUG": "1", "P6_VAR_DIR": str(tmp_path), "CSP_REPORT_ONLY": "1", "PERMISSIONS_POLICY": "",
        "SECURE_CROSS_ORIGIN_OPENER_POLICY": "", "CSP_IMG_SRC": "https://img.example.org",
        "MEDIA_BUCKET": "p6-media", "MEDIA_CUSTOM_DOMAIN": "cdn.example.org"})
    assert changed.returncode == 0, changed.stderr
    assert changed.stdout.strip().splitlines()[-1] == (
        "False True '' None [\"'self'\", 'data:', 'https://img.example.org', 'https://cdn.example.org']")
