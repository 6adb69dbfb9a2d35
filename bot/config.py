"""Typed settings, read once from the environment (and the CLI flags that override it)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bot.cityfolder import DICTIONARIES_VARIABLE, CityFolder, beside
from bot.errors import ConfigError

DEV_KEY_FILE = "secret.key"


@dataclass(frozen=True)
class Settings:
    env: str = "development"
    host: str = "127.0.0.1"
    port: int = 8080
    db_path: Path = Path("var/bot.db")
    db_url: str = ""  # BOT_DB as a postgresql:// URL (then db_path is unused)
    flows_dir: Path = Path("flows")
    dictionaries_dir: Path | None = None  # BOT_DICTIONARIES; None: beside the flows folder
    secret_key: bytes = b""
    public_url: str = ""
    simulator: bool = True
    clock_start: str | None = None  # ISO 8601, from --clock
    max_body_bytes: int = 256 * 1024
    max_text_chars: int = 2000  # longer messages are stored truncated
    sim_wait_seconds: float = 5.0
    retention_days: float = 180.0  # texts older than this are erased
    header_timeout: float = 10.0  # seconds for a request's headers (slow clients are closed)
    body_timeout: float = 10.0  # seconds for a request's body
    keepalive_timeout: float = 75.0  # seconds an idle connection is kept
    max_connections: int = 0  # open connections at once; 0: from `ulimit -n`
    env_vars: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def database(self) -> Path | str:
        """Where the store is: the PostgreSQL URL, else the SQLite file."""
        return self.db_url or self.db_path

    @property
    def city(self) -> CityFolder:
        """The city's flows and dictionaries folders (bot.cityfolder)."""
        words = self.dictionaries_dir or beside(self.flows_dir)
        return CityFolder(self.flows_dir, words)

    @property
    def dev_key_file(self) -> Path:
        """Development's generated key, kept beside the database."""
        return self.db_path.parent / DEV_KEY_FILE

    def with_overrides(self, **changes: object) -> Settings:
        kept: dict[str, Any] = {k: v for k, v in changes.items() if v is not None}
        return replace(self, **kept)


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def is_db_url(location: object) -> bool:
    """A PostgreSQL URL (else BOT_DB / --db is a SQLite file)."""
    return str(location).startswith(("postgresql://", "postgres://"))


def _database(location: str) -> dict[str, Any]:
    """BOT_DB / --db as Settings fields: a postgresql:// URL, or a file path (SQLite)."""
    return {"db_url": location} if is_db_url(location) else {"db_path": Path(location)}


def load_settings(env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Read BOT_* variables; CLI overrides win. Production refuses to run without a key.
    Writes nothing: development's key is made by `ensure_secret`, once the rest is known
    to be valid."""
    env = dict(os.environ if env is None else env)
    if overrides.get("db_path") is not None:  # --db: a path or a URL, like BOT_DB
        overrides = {**overrides, "db_path": None, **_database(str(overrides["db_path"]))}
        env.pop("BOT_DB", None)
    mode = env.get("BOT_ENV", "development").strip() or "development"
    if mode not in {"development", "production"}:
        raise ConfigError(f"BOT_ENV must be 'development' or 'production', not {mode!r}")
    try:
        port = int(env.get("BOT_PORT", "8080"))
    except ValueError as exc:
        raise ConfigError("BOT_PORT must be a number") from exc
    try:
        sim_wait = float(env.get("BOT_SIM_WAIT_SECONDS", "5"))
    except ValueError as exc:
        raise ConfigError("BOT_SIM_WAIT_SECONDS must be a number") from exc
    try:
        retention = float(env.get("BOT_RETENTION_DAYS", "180"))
    except ValueError as exc:
        raise ConfigError("BOT_RETENTION_DAYS must be a number of days") from exc
    if retention < 1:
        raise ConfigError("BOT_RETENTION_DAYS must be at least 1")
    settings = Settings(
        env=mode,
        host=env.get("BOT_HOST", "127.0.0.1"),
        port=port,
        **_database(env.get("BOT_DB", "var/bot.db")),
        flows_dir=Path(env.get("BOT_FLOWS", "").strip() or "flows"),
        dictionaries_dir=Path(env[DICTIONARIES_VARIABLE].strip())
        if env.get(DICTIONARIES_VARIABLE, "").strip()
        else None,
        public_url=env.get("BOT_PUBLIC_URL", "").rstrip("/"),
        simulator=_flag(env.get("BOT_SIMULATOR"), default=(mode == "development")),
        sim_wait_seconds=sim_wait,
        retention_days=retention,
        header_timeout=_positive(env, "BOT_HEADER_TIMEOUT", 10.0),
        body_timeout=_positive(env, "BOT_BODY_TIMEOUT", 10.0),
        keepalive_timeout=_positive(env, "BOT_KEEPALIVE_TIMEOUT", 75.0),
        max_connections=int(_positive(env, "BOT_MAX_CONNECTIONS", 0, zero_ok=True)),
        max_body_bytes=int(_positive(env, "BOT_MAX_BODY_BYTES", 256 * 1024)),
        env_vars=env,
    ).with_overrides(**overrides)
    if not 0 <= settings.port <= 65535:
        raise ConfigError(f"the port must be 0-65535 (--port, BOT_PORT), not {settings.port}")
    return replace(settings, secret_key=_secret_key(env, settings))


def _positive(env: Mapping[str, str], key: str, default: float, zero_ok: bool = False) -> float:
    """A positive number (seconds, bytes or a count) from the environment."""
    raw = env.get(key, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{key} must be a number, not {raw!r}") from None
    if not (value >= 0 if zero_ok else value > 0) or value == float("inf"):
        raise ConfigError(f"{key} must be a positive number, not {raw!r}")
    return value


def _secret_key(env: Mapping[str, str], settings: Settings) -> bytes:
    """BOT_SECRET_KEY, or development's key file if there is one (else empty: see
    ensure_secret)."""
    raw = env.get("BOT_SECRET_KEY", "").strip()
    if raw:
        if len(raw) < 32:
            raise ConfigError("BOT_SECRET_KEY must be at least 32 characters of random text")
        return raw.encode()
    if settings.production:
        raise ConfigError("BOT_SECRET_KEY is required when BOT_ENV=production")
    key_file = settings.dev_key_file
    if key_file.is_file():
        return key_file.read_text().strip().encode()
    return b""


def database_settings(db_path: Path | str | None = None, *, create: bool) -> Settings:
    """Settings for a command that opens the database (--db, else BOT_DB: a file or a
    PostgreSQL URL). One that writes (`create`) may make it and development's key; a read
    command needs an existing SQLite file and never leaves an empty one behind."""
    settings = load_settings(db_path=db_path)
    if create:
        return ensure_secret(settings)
    path = settings.db_path
    if not settings.db_url and str(path) != ":memory:" and not path.exists():
        raise ConfigError(
            f"no database at {path}: `bot serve` creates it; run this where the bot runs, "
            f"or pass --db / set BOT_DB"
        )
    return settings


def ensure_secret(settings: Settings) -> Settings:
    """Development without BOT_SECRET_KEY: generate a key once, beside the database (0600).
    Called by the commands that write, after the configuration was checked, so a wrong
    folder or setting leaves nothing behind."""
    if settings.secret_key:
        return settings
    key_file = settings.dev_key_file
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return replace(settings, secret_key=key_file.read_text().strip().encode())
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return replace(settings, secret_key=key.encode())
