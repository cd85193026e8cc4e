"""Transport security settings reach the clients that use them, not only the settings object.

- Kafka: SASL_SSL with SCRAM and SSL (with a client certificate through ``extra``) render into the
  librdkafka dicts, and real confluent-kafka clients are built from them (librdkafka validates
  property names, values and the CA file at construction).
- PostgreSQL: ``sslmode``/``sslrootcert`` reach libpq on every connection path (the engine, the
  indexer's and the API's LISTEN connections, Alembic migrations). A local fake server speaks just
  enough of the protocol to answer the TLS negotiation, so the tests see what libpq asked for.
- Elasticsearch: ``ca_certs``, basic auth and the API key reach the transport; a local HTTPS server
  checks the certificate is verified against ``ca_certs`` and the credentials arrive.

Nothing here needs the embedded services; the certificates come from the ``openssl`` command.
"""

from __future__ import annotations

import base64
import http.server
import json
import logging
import shutil
import socket
import ssl
import struct
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient
from elastic_transport import TlsError
from psycopg.conninfo import conninfo_to_dict
from pydantic import SecretStr
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from services.core.db.engine import libpq_conninfo, make_engine
from services.core.db.migrate import upgrade
from services.core.kafka.consumer import consumer_conf
from services.core.kafka.producer import EventProducer
from services.core.search.client import make_async_search_client, make_search_client
from services.core.settings import ConsumerSettings, DatabaseSettings, KafkaSettings, SearchSettings, Settings
from services.indexer.loop import ChangeListener
from tests.elastic_reply import reply_json

RDKAFKA_LOG = logging.getLogger("test.librdkafka")  # librdkafka's connection noise goes to pytest's capture
SECRETS = ("kafka-s3cret", "pg-s3cret", "es-s3cret", "es-api-key-s3cret")


# -- a throwaway PKI ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    ca: Path
    other_ca: Path  # a CA that signed nothing the servers present
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _openssl(*args: str | Path, cwd: Path) -> None:
    subprocess.run(["openssl", *map(str, args)], cwd=cwd, check=True, capture_output=True, timeout=30)


def _ca(name: str, cwd: Path) -> tuple[Path, Path]:
    key, cert = cwd / f"{name}.key", cwd / f"{name}.pem"
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", key, "-out", cert, "-days", "2", "-subj", f"/CN={name}", cwd=cwd)  # fmt: skip
    return key, cert


def _leaf(name: str, ca: tuple[Path, Path], cwd: Path) -> tuple[Path, Path]:
    key, csr, cert, ext = (cwd / f"{name}.{suffix}" for suffix in ("key", "csr", "pem", "ext"))
    ext.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", key, "-out", csr, "-subj", f"/CN={name}", cwd=cwd)  # fmt: skip
    _openssl("x509", "-req", "-in", csr, "-CA", ca[1], "-CAkey", ca[0], "-CAcreateserial",
             "-out", cert, "-days", "2", "-extfile", ext, cwd=cwd)  # fmt: skip
    return cert, key


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make test certificates")
    cwd = tmp_path_factory.mktemp("pki")
    ca = _ca("test-ca", cwd)
    _, other = _ca("other-ca", cwd)
    server = _leaf("localhost", ca, cwd)
    client = _leaf("standings-client", ca, cwd)
    return Pki(ca[1], other, server[0], server[1], client[0], client[1])


# -- Kafka ----------------------------------------------------------------------------------------------


def scram(pki: Pki, mechanism: str = "SCRAM-SHA-512", **overrides: Any) -> KafkaSettings:
    fields: dict[str, Any] = {
        "bootstrap_servers": "127.0.0.1:1",  # nothing listens: construction must not need a broker
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": mechanism,
        "sasl_username": "projector",
        "sasl_password": SecretStr("kafka-s3cret"),
        "ssl_ca_location": str(pki.ca),
    }
    return KafkaSettings(**(fields | overrides))


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl_ssl_scram_renders_into_every_librdkafka_dict(pki: Pki, mechanism: str) -> None:
    kafka = scram(pki, mechanism)
    expected = {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": mechanism,
        "sasl.username": "projector",
        "sasl.password": "kafka-s3cret",
        "ssl.ca.location": str(pki.ca),
    }
    consumer = consumer_conf(kafka, "standings-projector", ConsumerSettings())
    intake = EventProducer(Settings(kafka=kafka)).config()
    for conf in (kafka.common_config(), kafka.producer_config(), consumer, intake):
        assert {k: conf.get(k) for k in expected} == expected


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_librdkafka_accepts_the_sasl_ssl_scram_config(pki: Pki, mechanism: str) -> None:
    """Real clients: the producer the intake uses, the projector's consumer, the admin client."""
    kafka = scram(pki, mechanism)
    Producer(EventProducer(Settings(kafka=kafka)).config(), logger=RDKAFKA_LOG).flush(0)
    Producer(kafka.producer_config(), logger=RDKAFKA_LOG).flush(0)
    AdminClient({**kafka.common_config(), "logger": RDKAFKA_LOG})
    consumer = Consumer(consumer_conf(kafka, "standings-projector", ConsumerSettings()), logger=RDKAFKA_LOG)
    consumer.close()


def test_librdkafka_accepts_ssl_with_a_client_certificate(pki: Pki) -> None:
    """Mutual TLS: the client certificate and key go through ``extra`` (STANDINGS_KAFKA__EXTRA)."""
    kafka = KafkaSettings(
        bootstrap_servers="127.0.0.1:1",
        security_protocol="SSL",
        ssl_ca_location=str(pki.ca),
        extra={
            "ssl.certificate.location": str(pki.client_cert),
            "ssl.key.location": str(pki.client_key),
            "ssl.endpoint.identification.algorithm": "https",
        },
    )
    conf = kafka.producer_config()
    assert conf["security.protocol"] == "SSL" and conf["ssl.certificate.location"] == str(pki.client_cert)
    assert "sasl.mechanism" not in conf
    Producer(conf, logger=RDKAFKA_LOG).flush(0)
    Consumer(consumer_conf(kafka, "g", ConsumerSettings()), logger=RDKAFKA_LOG).close()


def test_librdkafka_checks_the_ca_file_at_construction(pki: Pki) -> None:
    """The CA path is not just carried along: a missing file fails the client before any connection."""
    with pytest.raises(KafkaException, match=r"ssl\.ca\.location"):
        Producer(scram(pki, ssl_ca_location="/nonexistent/ca.pem").producer_config(), logger=RDKAFKA_LOG)


def test_librdkafka_refuses_a_misspelt_extra_property(pki: Pki) -> None:
    with pytest.raises(KafkaException, match="No such configuration property"):
        Producer(scram(pki, extra={"ssl.ca.locaton": str(pki.ca)}).producer_config(), logger=RDKAFKA_LOG)


# -- PostgreSQL -------------------------------------------------------------------------------------------

_SSL_REQUEST = 80877103
_GSSENC_REQUEST = 80877104


@dataclass
class FakePostgres:
    """Answers libpq's TLS negotiation on 127.0.0.1 and records what each connection did.

    ``tls`` None: refuses TLS ('N'). Otherwise: accepts ('S') and completes the handshake. Either
    way the connection is closed after the startup packet; no query is ever answered.
    """

    tls: ssl.SSLContext | None = None
    seen: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="fake-postgres", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(5)
                try:
                    self._negotiate(conn)
                except (OSError, ssl.SSLError) as exc:
                    self.seen.append(f"error:{type(exc).__name__}")

    def _negotiate(self, conn: socket.socket) -> None:
        while True:
            _, code = struct.unpack("!ii", _read(conn, 8))
            if code == _GSSENC_REQUEST:
                conn.sendall(b"N")
                continue
            if code != _SSL_REQUEST:
                self.seen.append("startup-in-clear")
                return
            self.seen.append("ssl-request")
            if self.tls is None:
                conn.sendall(b"N")
                continue  # libpq either gives up (require) or sends its startup packet in clear
            conn.sendall(b"S")
            with self.tls.wrap_socket(conn, server_side=True) as secure:
                self.seen.append("tls-established")
                _read(secure, 8)  # the startup packet, now encrypted
                self.seen.append("startup-over-tls")
            return

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()


def _read(conn: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise ConnectionResetError("client closed")
        data += chunk
    return data


@pytest.fixture
def fake_pg_without_tls() -> Iterator[FakePostgres]:
    server = FakePostgres()
    yield server
    server.close()


@pytest.fixture
def fake_pg_with_tls(pki: Pki) -> Iterator[FakePostgres]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    server = FakePostgres(tls=context)
    yield server
    server.close()


def db_settings(port: int, sslmode: str, sslrootcert: str | None = None, host: str = "127.0.0.1") -> DatabaseSettings:
    return DatabaseSettings(
        url=SecretStr(f"postgresql://standings:pg-s3cret@{host}:{port}/standings?gssencmode=disable"),
        sslmode=sslmode,  # type: ignore[arg-type]
        sslrootcert=sslrootcert,
        connect_timeout_s=3,
    )


def test_tls_settings_reach_every_libpq_connection_string() -> None:
    db = DatabaseSettings(
        url=SecretStr("postgresql://u:pg-s3cret@db.internal:5432/standings?application_name=api"),
        sslmode="verify-full",
        sslrootcert="/etc/standings/pg ca.pem",
    )
    expected = {"sslmode": "verify-full", "sslrootcert": "/etc/standings/pg ca.pem"}
    url = make_url(db.sqlalchemy_url())
    conninfos = {
        "engine (url + connect_args)": {**conninfo_to_dict(libpq_conninfo(url)), **db.connect_args()},
        "api LISTEN": conninfo_to_dict(libpq_conninfo(url)),
        "indexer LISTEN": conninfo_to_dict(ChangeListener(db.sqlalchemy_url(), 3)._conninfo),
    }
    for name, params in conninfos.items():
        assert {k: params.get(k) for k in expected} == expected, name
        assert params["application_name"] == "api" and params["host"] == "db.internal", name


def test_sslmode_in_settings_wins_over_the_url() -> None:
    db = DatabaseSettings(url=SecretStr("postgresql://u@h/db?sslmode=disable"), sslmode="require")
    assert conninfo_to_dict(libpq_conninfo(make_url(db.sqlalchemy_url())))["sslmode"] == "require"


def test_sslmode_require_refuses_a_server_without_tls(fake_pg_without_tls: FakePostgres) -> None:
    engine = make_engine(db_settings(fake_pg_without_tls.port, "require"))
    try:
        with pytest.raises(OperationalError, match="SSL"):
            engine.connect()
    finally:
        engine.dispose()
    assert fake_pg_without_tls.seen[0] == "ssl-request"
    assert "startup-in-clear" not in fake_pg_without_tls.seen  # never fell back to plaintext


def test_sslmode_disable_never_asks_for_tls(fake_pg_without_tls: FakePostgres) -> None:
    """The control: without the setting libpq sends its startup packet in clear at once."""
    engine = make_engine(db_settings(fake_pg_without_tls.port, "disable"))
    try:
        with pytest.raises(OperationalError):
            engine.connect()
    finally:
        engine.dispose()
    assert fake_pg_without_tls.seen[:1] == ["startup-in-clear"]


def test_the_indexer_listener_and_migrations_ask_for_tls_too(fake_pg_without_tls: FakePostgres) -> None:
    """They build their own connections from the URL (not the engine's connect_args)."""
    db = db_settings(fake_pg_without_tls.port, "require")
    with pytest.raises(psycopg.OperationalError, match="SSL"):
        ChangeListener(db.sqlalchemy_url(), db.connect_timeout_s)._connect()
    with pytest.raises(OperationalError, match="SSL"):
        upgrade(db.sqlalchemy_url())
    assert fake_pg_without_tls.seen.count("ssl-request") == 2
    assert "startup-in-clear" not in fake_pg_without_tls.seen


def test_verify_full_checks_the_server_certificate_against_sslrootcert(
    pki: Pki, fake_pg_with_tls: FakePostgres
) -> None:
    port = fake_pg_with_tls.port
    wrong = make_engine(db_settings(port, "verify-full", str(pki.other_ca), host="localhost"))
    right = make_engine(db_settings(port, "verify-full", str(pki.ca), host="localhost"))
    try:
        with pytest.raises(OperationalError, match="certificate verify failed"):
            wrong.connect()
        assert "tls-established" not in fake_pg_with_tls.seen
        with pytest.raises(OperationalError) as after_tls:  # the fake answers nothing after TLS
            right.connect()
        assert "certificate" not in str(after_tls.value)
    finally:
        wrong.dispose()
        right.dispose()
    assert "startup-over-tls" in fake_pg_with_tls.seen


# -- Elasticsearch -------------------------------------------------------------------------------------


def test_ca_certs_and_basic_auth_reach_the_transport(pki: Pki) -> None:
    settings = SearchSettings(
        url="https://es.internal:9200", username="standings", password=SecretStr("es-s3cret"), ca_certs=str(pki.ca)
    )
    for client in (make_search_client(settings), make_async_search_client(settings)):
        config = client.transport.node_pool.all()[0].config
        assert (config.scheme, config.host, config.port) == ("https", "es.internal", 9200)
        assert config.verify_certs is True and config.ca_certs == str(pki.ca)
        expected = "Basic " + base64.b64encode(b"standings:es-s3cret").decode()
        assert client._headers["authorization"] == expected


@pytest.mark.parametrize("plain_json", [False, True], ids=["elasticsearch", "opensearch-compatible"])
def test_the_api_key_reaches_the_transport(pki: Pki, plain_json: bool) -> None:
    settings = SearchSettings(
        url="https://es.internal:9200",
        api_key=SecretStr("es-api-key-s3cret"),
        ca_certs=str(pki.ca),
        plain_json_media_type=plain_json,
    )
    for client in (make_search_client(settings), make_async_search_client(settings)):
        assert client._headers["authorization"] == "ApiKey es-api-key-s3cret"
        assert client.transport.node_pool.all()[0].config.ca_certs == str(pki.ca)


class _FakeElasticsearch(http.server.BaseHTTPRequestHandler):
    seen_authorization: list[str] = []  # noqa: RUF012 (one server per test, reset by the fixture)

    def do_GET(self) -> None:
        self.seen_authorization.append(self.headers.get("authorization", ""))
        body = json.dumps({"version": {"number": "9.0.0"}, "tagline": "You Know, for Search"}).encode()
        reply_json(self, body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def fake_es(pki: Pki) -> Iterator[str]:
    _FakeElasticsearch.seen_authorization = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FakeElasticsearch)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    yield f"https://localhost:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_the_search_client_verifies_the_server_against_ca_certs(pki: Pki, fake_es: str) -> None:
    good = SearchSettings(
        url=fake_es, username="standings", password=SecretStr("es-s3cret"), ca_certs=str(pki.ca), request_timeout_s=5
    )
    client = make_search_client(good)
    try:
        assert client.info().body["version"]["number"] == "9.0.0"
    finally:
        client.close()
    assert _FakeElasticsearch.seen_authorization == ["Basic " + base64.b64encode(b"standings:es-s3cret").decode()]

    untrusted = make_search_client(good.model_copy(update={"ca_certs": str(pki.other_ca)}))
    try:
        with pytest.raises(TlsError) as refused:
            untrusted.options(max_retries=0).info()
        assert "CERTIFICATE_VERIFY_FAILED" in repr(refused.value), refused.value
    finally:
        untrusted.close()
    assert len(_FakeElasticsearch.seen_authorization) == 1  # the credentials never left the client


# -- secrets stay out of printed settings ------------------------------------------------------------


def test_printed_settings_hide_every_secret(pki: Pki) -> None:
    settings = Settings(
        kafka=scram(pki),
        database=DatabaseSettings(url=SecretStr("postgresql://u:pg-s3cret@db/standings"), sslmode="verify-full"),
        search=SearchSettings(
            url="https://es:9200", username="u", password=SecretStr("es-s3cret"), api_key=SecretStr("es-api-key-s3cret")
        ),
        token_pepper=SecretStr("pepper-s3cret"),
    )
    printed = f"{settings!r} {settings} {settings.model_dump()}"
    for secret in (*SECRETS, "pepper-s3cret"):
        assert secret not in printed, secret
