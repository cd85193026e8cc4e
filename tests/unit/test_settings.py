"""Settings: env round trip, librdkafka rendering, secrets, production guard."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from services.core.settings import (
    DatabaseSettings,
    KafkaSettings,
    SearchSettings,
    Settings,
    settings_to_env,
)


def test_env_round_trip_reproduces_the_same_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    original = Settings(
        environment="test",
        kafka=KafkaSettings(bootstrap_servers="b:1", topic="t", extra={"socket.keepalive.enable": "true"}),
        database=DatabaseSettings(url=SecretStr("postgresql+psycopg://u:secret@h/db"), sslmode="require"),
        search=SearchSettings(url="https://es:9200", plain_json_media_type=True),
    )
    env = settings_to_env(original)
    assert env["STANDINGS_KAFKA__BOOTSTRAP_SERVERS"] == "b:1"
    assert env["STANDINGS_DATABASE__URL"] == "postgresql+psycopg://u:secret@h/db"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert Settings() == original


def test_sasl_ssl_renders_into_librdkafka_config() -> None:
    kafka = KafkaSettings(
        bootstrap_servers="broker:9093",
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="projector",
        sasl_password=SecretStr("s3cret"),
        ssl_ca_location="/etc/ssl/ca.pem",
    )
    conf = kafka.producer_config()
    assert conf["security.protocol"] == "SASL_SSL"
    assert conf["sasl.mechanism"] == "SCRAM-SHA-512"
    assert conf["sasl.username"] == "projector"
    assert conf["sasl.password"] == "s3cret"
    assert conf["ssl.ca.location"] == "/etc/ssl/ca.pem"
    assert conf["enable.idempotence"] is True and conf["acks"] == "all"
    assert "s3cret" not in repr(kafka)


def test_sasl_without_credentials_is_refused() -> None:
    with pytest.raises(ValidationError, match="SASL"):
        KafkaSettings(security_protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-256")


def test_postgres_tls_settings_reach_the_driver() -> None:
    db = DatabaseSettings(url=SecretStr("postgresql://u@h/db"), sslmode="verify-full", sslrootcert="/ca.pem")
    assert db.sqlalchemy_url().startswith("postgresql+psycopg://")
    assert db.connect_args() == {"connect_timeout": 5, "sslmode": "verify-full", "sslrootcert": "/ca.pem"}


def test_production_refuses_the_placeholder_pepper() -> None:
    with pytest.raises(ValidationError, match="TOKEN_PEPPER"):
        Settings(environment="production")
    assert Settings(environment="production", token_pepper=SecretStr("x" * 32)).environment == "production"
