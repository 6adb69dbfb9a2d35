import os
import stat

import pytest
from cryptography.exceptions import InvalidTag

from bot.config import ensure_secret, load_settings
from bot.errors import ConfigError
from bot.identity import NumberVault


def test_resident_id_is_keyed_and_stable():
    a, b = NumberVault(b"k" * 40), NumberVault(b"j" * 40)
    assert a.resident_id("+819012345678") == a.resident_id("+819012345678")
    assert a.resident_id("+819012345678") != b.resident_id("+819012345678")
    assert "9012345678" not in a.resident_id("+819012345678")


def test_number_encryption_round_trip_and_tamper_detection():
    vault = NumberVault(b"k" * 40)
    blob = vault.encrypt("+819012345678")
    assert b"9012345678" not in blob
    assert vault.encrypt("+819012345678") != blob  # a fresh nonce every time
    assert vault.decrypt(blob) == "+819012345678"
    with pytest.raises(InvalidTag):
        vault.decrypt(blob[:-1] + bytes([blob[-1] ^ 1]))
    with pytest.raises(InvalidTag):
        NumberVault(b"j" * 40).decrypt(blob)


def test_production_refuses_to_start_without_a_key(tmp_path):
    with pytest.raises(ConfigError, match="BOT_SECRET_KEY"):
        load_settings({"BOT_ENV": "production", "BOT_DB": str(tmp_path / "b.db")})


def test_production_turns_simulator_off_by_default(tmp_path):
    settings = load_settings(
        {"BOT_ENV": "production", "BOT_SECRET_KEY": "x" * 40, "BOT_DB": str(tmp_path / "b.db")}
    )
    assert settings.production and not settings.simulator


def test_short_key_rejected(tmp_path):
    with pytest.raises(ConfigError, match="32"):
        load_settings({"BOT_SECRET_KEY": "short", "BOT_DB": str(tmp_path / "b.db")})


def test_development_key_generated_once_and_private(tmp_path):
    env = {"BOT_DB": str(tmp_path / "var" / "bot.db")}
    unchecked = load_settings(env)
    assert unchecked.secret_key == b"" and not (tmp_path / "var").exists()  # reads only
    first = ensure_secret(unchecked)
    key_file = tmp_path / "var" / "secret.key"
    assert key_file.exists()
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert load_settings(env).secret_key == first.secret_key
    assert ensure_secret(load_settings(env)).secret_key == first.secret_key
    assert len(first.secret_key) >= 32


def test_unknown_env_mode_is_an_error():
    with pytest.raises(ConfigError, match="BOT_ENV"):
        load_settings({"BOT_ENV": "staging"})


def test_bot_db_and_db_take_a_file_or_a_postgresql_url(tmp_path):
    url = "postgresql://bot:secret@db.internal:5432/sakura?sslmode=require"
    key = {"BOT_SECRET_KEY": "k" * 40}
    from_env = load_settings({**key, "BOT_DB": url})
    assert from_env.db_url == url and from_env.database == url  # not mangled into a path
    flag = load_settings({**key, "BOT_DB": str(tmp_path / "a.db")}, db_path=url)
    assert flag.database == url
    back = load_settings({**key, "BOT_DB": url}, db_path=str(tmp_path / "b.db"))
    assert back.db_url == "" and back.database == tmp_path / "b.db"
    default = load_settings(key)
    assert default.db_url == "" and str(default.database) == "var/bot.db"
