"""End-to-end fixtures: the pipeline on tansu and on librdkafka's mock cluster (a second broker), and
headless Chromium for the page tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services.embedded.postgres import EmbeddedPostgres
from services.embedded.search_engine import OsmemEngine
from tests.cdp import Chromium, find_chromium
from tests.e2e.pipeline import Pipeline, running_pipeline
from tests.e2e.ranked_stack import Stack, ranked_stack


@pytest.fixture(scope="module", params=["tansu", "mock"])
def pipeline(
    request: pytest.FixtureRequest, pg: EmbeddedPostgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pipeline]:
    """The whole pipeline through HTTP; parametrized over both Kafka-protocol brokers."""
    broker = request.getfixturevalue("kafka" if request.param == "tansu" else "mock_kafka")
    log_dir: Path = tmp_path_factory.mktemp(f"e2e-{request.param}")
    with running_pipeline(pg, broker.bootstrap, mock_broker=request.param == "mock", log_dir=log_dir) as p:
        yield p


@pytest.fixture(scope="module")
def chromium() -> Iterator[Chromium]:
    """Headless Chromium for a module's page tests (tests/cdp.py is the one browser driver)."""
    binary = find_chromium()
    if binary is None:
        pytest.skip("headless Chromium not installed (apt-get install -y chromium)")
    browser = Chromium(binary).start()
    yield browser
    browser.stop()


@pytest.fixture(scope="module", params=["tansu", "mock"])
def stack(
    request: pytest.FixtureRequest,
    pg: EmbeddedPostgres,
    search: OsmemEngine,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    """The pipeline with the rankings indexer on the search engine, on both brokers (one per module)."""
    yield from ranked_stack(request, pg, search, tmp_path_factory)


@pytest.fixture(scope="module")
def tansu_stack(
    request: pytest.FixtureRequest,
    pg: EmbeddedPostgres,
    search: OsmemEngine,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    """The same stack on tansu only: for page tests, where the broker is not what is under test."""
    yield from ranked_stack(request, pg, search, tmp_path_factory, broker_name="tansu")
