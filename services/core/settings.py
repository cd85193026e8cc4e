"""The one settings object. Every process builds it once and passes the parts down.

Environment variables use the prefix ``STANDINGS_`` and ``__`` for nesting, e.g.
``STANDINGS_KAFKA__BOOTSTRAP_SERVERS``. Kafka settings render into librdkafka dicts here
and nowhere else, so every member of a consumer group derives its config the same way.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

APP_VERSION = "0.1.0"

# The constraints most knobs share, stated once.
Positive = Annotated[float, Field(gt=0)]  # a duration, an interval or a rate
Count = Annotated[int, Field(ge=1)]  # a size, a limit or a number of workers: at least one
Port = Annotated[int, Field(ge=0, le=65535)]  # 0 picks a free port (tests)


class KafkaSettings(BaseModel):
    bootstrap_servers: str = "127.0.0.1:9092"
    topic: str = "match-events"
    dlq_topic: str = "match-events.dlq"
    partitions: Count = 6
    replication_factor: Count = 1
    client_id: str = "standings"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_ca_location: str | None = None
    # Neither embedded broker answers a fetch early; the default 500 ms dominates latency.
    fetch_wait_max_ms: int = Field(default=5, ge=0)
    linger_ms: int = Field(default=0, ge=0)
    queue_buffering_max_messages: Count = 100_000
    # Extra librdkafka properties for operators (e.g. a real cluster's tuning).
    extra: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _sasl_complete(self) -> KafkaSettings:
        if self.security_protocol.startswith("SASL") and not (
            self.sasl_mechanism and self.sasl_username and self.sasl_password
        ):
            raise ValueError("SASL security protocol needs sasl_mechanism, sasl_username and sasl_password")
        return self

    def common_config(self) -> dict[str, Any]:
        conf: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap_servers,
            "client.id": self.client_id,
            "security.protocol": self.security_protocol,
        }
        if self.sasl_mechanism:
            conf["sasl.mechanism"] = self.sasl_mechanism
            conf["sasl.username"] = self.sasl_username
            conf["sasl.password"] = self.sasl_password.get_secret_value() if self.sasl_password else None
        if self.ssl_ca_location:
            conf["ssl.ca.location"] = self.ssl_ca_location
        conf.update(self.extra)
        return conf

    def producer_config(self) -> dict[str, Any]:
        conf = self.common_config()
        conf.update(
            {
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": self.linger_ms,
                "queue.buffering.max.messages": self.queue_buffering_max_messages,
            }
        )
        return conf

    def consumer_config(self, group_id: str, consumer: ConsumerSettings) -> dict[str, Any]:
        conf = self.common_config()
        conf.update(
            {
                "group.id": group_id,
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "auto.offset.reset": "earliest",
                "partition.assignment.strategy": consumer.assignment_strategy,
                "max.poll.interval.ms": consumer.max_poll_interval_ms,
                "session.timeout.ms": consumer.session_timeout_ms,
                "heartbeat.interval.ms": max(100, consumer.session_timeout_ms // 3),
                "fetch.wait.max.ms": self.fetch_wait_max_ms,
                "fetch.min.bytes": 1,
            }
        )
        return conf


class ConsumerSettings(BaseModel):
    """Consumer-group knobs; the fingerprint of these is compared across group members."""

    max_poll_interval_ms: int = Field(default=300_000, ge=1000)
    session_timeout_ms: int = Field(default=45_000, ge=1000)
    assignment_strategy: str = "cooperative-sticky"
    batch_size: Count = 2000
    batch_timeout_s: Positive = 0.05


class DatabaseSettings(BaseModel):
    url: SecretStr = SecretStr("postgresql+psycopg://postgres@127.0.0.1:5432/standings")
    pool_size: Count = 5
    connect_timeout_s: Count = 5
    sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] | None = None
    sslrootcert: str | None = None

    def sqlalchemy_url(self) -> str:
        """The URL, TLS parameters included: every connection made from it (the engine, the indexer's
        LISTEN connection, Alembic migrations) negotiates TLS the same way, not only the engine's."""
        url = self.url.get_secret_value()
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://") :]
        return _set_query(url, self.tls_params())

    def tls_params(self) -> dict[str, str]:
        params: dict[str, str] = {}
        if self.sslmode:
            params["sslmode"] = self.sslmode
        if self.sslrootcert:
            params["sslrootcert"] = self.sslrootcert
        return params

    def connect_args(self) -> dict[str, Any]:
        return {"connect_timeout": self.connect_timeout_s, **self.tls_params()}


def _set_query(url: str, params: dict[str, str]) -> str:
    """``url`` with ``params`` in its query string (replacing those keys; other parameters kept verbatim)."""
    if not params:
        return url
    base, has_query, query = url.partition("?")
    kept = [p for p in query.split("&") if p and p.split("=", 1)[0] not in params] if has_query else []
    added = [f"{key}={quote(value, safe='/')}" for key, value in params.items()]
    return base + "?" + "&".join(kept + added)


class SearchSettings(BaseModel):
    url: str = "http://127.0.0.1:9200"
    username: str | None = None
    password: SecretStr | None = None
    api_key: SecretStr | None = None
    ca_certs: str | None = None
    # Plain application/json instead of the client's vnd.elasticsearch compat media type
    # (needed for the OpenSearch-compatible embedded engine; real Elasticsearch takes either).
    plain_json_media_type: bool = False
    alias: str = "rankings"
    request_timeout_s: Positive = 10.0
    breaker_failure_threshold: Count = 3
    breaker_half_open_after_s: Positive = 30.0
    freshness_slo_s: Positive = 60.0
    bulk_chunk_size: Count = 2000
    bulk_concurrency: Count = 2


class ProjectorSettings(BaseModel):
    group_id: str = "standings-projector"
    consumer: ConsumerSettings = Field(default_factory=ConsumerSettings)
    ruleset: str = "combat-default"
    # /livez, /readyz and /metrics of the projector process.
    http_host: str = "127.0.0.1"
    http_port: Port = 9102
    # A batch still running after this long (at most a third of max.poll.interval.ms) pauses the
    # partitions and keeps polling; until then the next batch is read ahead.
    pause_after_s: Positive = 1.0
    member_heartbeat_s: Positive = 5.0
    lag_interval_s: Positive = 5.0
    dlq_flush_timeout_s: Positive = 10.0
    # SIGTERM: how long an in-flight batch may take to finish before it is abandoned (rolled back).
    shutdown_grace_s: float = Field(default=20.0, ge=0)
    retry_max_backoff_s: Positive = 5.0


class IndexerSettings(BaseModel):
    poll_interval_s: Positive = 0.2
    batch_size: Count = 2000
    # Categories re-ranked per step of the rankings stage (each in its own short transaction).
    rerank_batch: Count = 50
    # Health endpoint (/livez, /readyz, /metrics); port 0 picks a free port (tests).
    http_host: str = "127.0.0.1"
    http_port: Port = 9103


class IntakeSettings(BaseModel):
    delivery_timeout_s: Positive = 2.0
    rate_limit_per_s: Positive = 50.0
    rate_limit_burst: Count = 100
    max_body_bytes: int = Field(default=16_384, ge=256)
    producer_id: str = "intake"
    port: int = Field(default=8001, ge=1, le=65535)


class ApiSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8000
    cors_origins: list[str] = Field(default_factory=list)
    stale_after_s: Positive = 10.0
    sse_heartbeat_s: Positive = 15.0
    # Read API freshness (services/api/freshness.py): how often the projector's lag reports are read,
    # and how old a member's heartbeat may be before its partitions count as behind.
    lag_poll_s: Positive = 1.0
    projector_heartbeat_stale_s: Positive = 30.0
    max_body_bytes: int = Field(default=1_048_576, ge=1024)  # admin/registration import bodies


class TracingSettings(BaseModel):
    """OpenTelemetry traces (services/core/tracing.py). Off unless an OTLP endpoint is set; the
    events' ``traceparent`` is propagated either way, so a trace can be followed once it is on."""

    otlp_endpoint: str | None = None  # e.g. http://otel-collector:4318/v1/traces (OTLP over HTTP)
    sample_ratio: float = Field(default=1.0, ge=0.0, le=1.0)  # of new traces; a sampled parent is kept


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STANDINGS_", env_nested_delimiter="__", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    log_level: str = "INFO"
    log_json: bool = True
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    search: SearchSettings = Field(default_factory=SearchSettings)
    projector: ProjectorSettings = Field(default_factory=ProjectorSettings)
    indexer: IndexerSettings = Field(default_factory=IndexerSettings)
    intake: IntakeSettings = Field(default_factory=IntakeSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    tracing: TracingSettings = Field(default_factory=TracingSettings)
    token_pepper: SecretStr = SecretStr("dev-only-pepper")

    @model_validator(mode="after")
    def _no_placeholder_secrets_in_production(self) -> Settings:
        if self.environment == "production" and self.token_pepper.get_secret_value() == "dev-only-pepper":
            raise ValueError("STANDINGS_TOKEN_PEPPER must be set to a real secret in production")
        return self


def settings_to_env(settings: BaseModel, prefix: str = "STANDINGS_") -> dict[str, str]:
    """Render settings as the ``STANDINGS_*`` environment a child process reads back into the same Settings."""
    env: dict[str, str] = {}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        key = f"{prefix}{name.upper()}"
        if isinstance(value, BaseModel):
            env.update(settings_to_env(value, prefix=key + "__"))
        elif value is None:
            continue
        elif isinstance(value, SecretStr):
            env[key] = value.get_secret_value()
        elif isinstance(value, bool):
            env[key] = "true" if value else "false"
        elif isinstance(value, (dict, list)):
            env[key] = json.dumps(value)
        else:
            env[key] = str(value)
    return env
