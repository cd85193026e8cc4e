"""What the intake's routes share, built once in the lifespan (by bootstrap) and kept on ``app.state.ctx``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine

from services.core.http.auth import TokenAuthenticator
from services.core.http.ratelimit import TokenBucketLimiter
from services.core.http.readiness import Probe, database_probe
from services.core.kafka.producer import EventProducer
from services.core.settings import Settings
from services.intake.service import IntakeService


@dataclass(frozen=True)
class IntakeContext:
    settings: Settings
    engine: Engine
    producer: EventProducer
    authenticator: TokenAuthenticator
    rate_limiter: TokenBucketLimiter
    service: IntakeService

    def readiness_probes(self, broker_timeout_s: float) -> dict[str, Probe]:
        """What ``/readyz`` checks: PostgreSQL answers and the broker serves the event topic."""
        return {
            "postgres": database_probe(self.engine),
            "kafka": lambda: self.producer.check(broker_timeout_s),
        }


def get_ctx(request: Request) -> IntakeContext:
    ctx: IntakeContext = request.app.state.ctx
    return ctx


def get_service(request: Request) -> IntakeService:
    return get_ctx(request).service


CtxDep = Annotated[IntakeContext, Depends(get_ctx)]
ServiceDep = Annotated[IntakeService, Depends(get_service)]
