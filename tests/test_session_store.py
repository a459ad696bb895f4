"""The SessionStore contract, held by the in-memory store (tests/fakes.py) and DynamoSessionStore on moto (the
Sessions table as the synthesized template defines it), as tests/test_store_contracts.py does for the others."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import boto3
import pytest
from fakes import MemorySessions
from moto import mock_aws
from speaker_enrollment.adapters.dynamodb import DynamoSessionStore
from speaker_enrollment.domain.workflow.sessions import Session, SessionStore, StreamingStatus, session_id_of
from speaker_enrollment.domain.workflow.verification import (
    AudioWindow,
    AuthenticationDecision,
    AuthenticationResult,
    FraudDetectionDecision,
    FraudDetectionResult,
)
from test_store_contracts import REGION, tables

DOMAIN = "D" * 22
NOW = 1_700_000_000.0
WINDOW = AudioWindow(NOW, NOW + 2.5)


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        spec = tables()["sessions"]
        client.create_table(TableName=spec.name, KeySchema=spec.key_schema, BillingMode="PAY_PER_REQUEST",
                            AttributeDefinitions=spec.attribute_definitions)
        yield client


@pytest.fixture(params=["memory", "dynamodb"])
def sessions(request: pytest.FixtureRequest) -> SessionStore:
    if request.param == "memory":
        return MemorySessions()
    return DynamoSessionStore(request.getfixturevalue("dynamodb"), tables()["sessions"].name)


def ongoing(name: str = "contact-1", order: str = "0" * 31 + "1", lease: float = NOW + 120) -> Session:
    return Session(DOMAIN, session_id_of(DOMAIN, name), name, StreamingStatus.ONGOING, order, NOW, NOW,
                   NOW + 30 * 86_400, "version-1", lease_expires_at=lease)


def ended(session: Session) -> Session:
    authentication = AuthenticationResult("a" * 22, AuthenticationDecision.ACCEPT, 90, WINDOW, score=97,
                                          customer_speaker_id="caller-1", generated_speaker_id="id#" + "g" * 22)
    fraud = FraudDetectionResult("f" * 22, FraudDetectionDecision.HIGH_RISK, 50, "W" * 22, WINDOW, risk_score=88,
                                 generated_fraudster_id="id#" + "x" * 22)
    return session.ended(NOW + 3, authentication, fraud)


def test_a_session_is_begun_ended_and_read_back_whole(sessions: SessionStore) -> None:
    session = ongoing()
    assert sessions.begin(session, NOW) is None
    assert sessions.get(DOMAIN, session.session_id) == session
    done = ended(session)
    assert sessions.finish(done)
    assert sessions.get(DOMAIN, session.session_id) == done
    assert sessions.get(DOMAIN, session_id_of(DOMAIN, "other")) is None
    problem = ongoing("contact-2").ended(NOW, problem="Audio problem: x")
    assert sessions.begin(ongoing("contact-2"), NOW) is None and sessions.finish(problem)
    assert sessions.get(DOMAIN, problem.session_id) == problem


def test_the_same_upload_begins_once_unless_its_lease_ran_out(sessions: SessionStore) -> None:
    session = ongoing()
    assert sessions.begin(session, NOW) is None
    assert sessions.begin(replace(session, created_at=NOW + 1), NOW + 1) == session  # leased: refused
    later = replace(session, updated_at=NOW + 121, lease_expires_at=NOW + 241)
    assert sessions.begin(later, NOW + 121) is None  # the lease ran out: taken over
    done = ended(later)
    assert sessions.finish(done)
    assert sessions.begin(replace(session, lease_expires_at=NOW + 999), NOW + 999) == done  # ENDED: refused


def test_a_newer_upload_takes_over_and_an_older_one_never_does(sessions: SessionStore) -> None:
    first = ongoing(order="0" * 31 + "5")
    assert sessions.begin(first, NOW) is None
    newer = ongoing(order="0" * 31 + "A")
    assert sessions.begin(newer, NOW) is None  # a re-upload while the first is evaluated
    assert not sessions.finish(ended(first))  # the first one's result is dropped
    assert sessions.begin(ongoing(order="0" * 31 + "7"), NOW) == newer
    assert sessions.finish(ended(newer))
    assert sessions.get(DOMAIN, newer.session_id) == ended(newer)
