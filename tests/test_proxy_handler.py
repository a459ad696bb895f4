"""``speaker_enrollment.handlers.api``: API Gateway REST proxy events in, proxy responses out, with a fake
``VoiceIdApi`` standing in for ``speaker_enrollment.composition.api_from_env()``."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from speaker_enrollment.api import ApiResponse
from speaker_enrollment.handlers import api as api_handler
from speaker_enrollment.handlers import runtime

REQUEST_ID = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
DOMAIN_ID = "Ab3dEf6hIj9kLmN0pQr5tU"


@dataclass
class FakeApi:
    """Answers every request with ``answer`` and records what it was asked."""

    answer: ApiResponse = field(default_factory=lambda: ApiResponse(200, {"Domain": {"DomainId": DOMAIN_ID}}))
    calls: list[tuple[str, bytes]] = field(default_factory=list)
    callers: list[str | None] = field(default_factory=list)
    error: Exception | None = None
    broken_wiring: Exception | None = None  # api_from_env itself fails (e.g. STS unreachable)

    def handle(self, target: str, body: bytes, caller: str | None = None) -> ApiResponse:
        self.calls.append((target, body))
        self.callers.append(caller)
        if self.error is not None:
            raise self.error
        return self.answer


@dataclass(frozen=True)
class FakeContext:
    function_name: str = "VoiceIdApiFunction"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:VoiceIdApiFunction"
    aws_request_id: str = "lambda-request-id"


@pytest.fixture
def fake_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeApi]:
    """``api_from_env`` builds this fake (what it builds is cached per container: at most once here)."""
    fake = FakeApi()
    built: list[FakeApi] = []

    def api_from_env() -> FakeApi:
        if fake.broken_wiring:
            raise fake.broken_wiring
        built.append(fake)
        return fake

    monkeypatch.setattr(api_handler, "api_from_env", api_from_env)
    monkeypatch.setattr(runtime.metrics.provider, "namespace", "SpeakerEnrollmentTest")
    api_handler.voice_id_api.cache_clear()
    yield fake
    api_handler.voice_id_api.cache_clear()
    assert len(built) <= 1  # one API per container, however many requests


def proxy_event(
    target: str | None, body: bytes, *, base64_body: bool = False, header: str = "X-Amz-Target"
) -> dict[str, Any]:
    """An API Gateway REST API proxy event as API Gateway sends it for ``POST /`` (trimmed)."""
    headers = {"Content-Type": "application/x-amz-json-1.0", "Host": "abc123.execute-api.us-east-1.amazonaws.com"}
    if target is not None:
        headers[header] = target
    return {
        "resource": "/",
        "path": "/",
        "httpMethod": "POST",
        "headers": headers,
        "multiValueHeaders": {key: [value] for key, value in headers.items()},
        "queryStringParameters": None,
        "requestContext": {"requestId": REQUEST_ID, "stage": "v1", "httpMethod": "POST", "resourcePath": "/",
                           "identity": {"userArn": "arn:aws:iam::123456789012:user/admin"}},
        "body": base64.b64encode(body).decode() if base64_body else body.decode(),
        "isBase64Encoded": base64_body,
    }


def invoke(event: dict[str, Any]) -> dict[str, Any]:
    response: dict[str, Any] = api_handler.handler(event, FakeContext())
    return response


def emitted(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def test_the_target_and_body_reach_the_api_and_its_answer_is_the_response(fake_api: FakeApi) -> None:
    body = json.dumps({"DomainId": DOMAIN_ID}).encode()
    response = invoke(proxy_event("VoiceID.DescribeDomain", body))
    assert fake_api.calls == [("VoiceID.DescribeDomain", body)]
    assert response == {
        "statusCode": 200,
        "headers": {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": REQUEST_ID},
        "body": json.dumps({"Domain": {"DomainId": DOMAIN_ID}}, separators=(",", ":")),
    }


def test_the_caller_api_gateway_authenticated_reaches_the_api(fake_api: FakeApi) -> None:
    invoke(proxy_event("VoiceID.ListDomains", b"{}"))
    event = proxy_event("VoiceID.ListDomains", b"{}")
    event["requestContext"]["identity"] = {"userArn": "arn:aws:sts::123456789012:assumed-role/Admin/alice"}
    invoke(event)
    del event["requestContext"]["identity"]
    invoke(event)
    assert fake_api.callers == ["arn:aws:iam::123456789012:user/admin",
                                "arn:aws:sts::123456789012:assumed-role/Admin/alice", None]


def test_a_base64_body_is_decoded(fake_api: FakeApi) -> None:
    body = json.dumps({"DomainId": DOMAIN_ID, "Name": "caf\u00e9"}).encode()
    invoke(proxy_event("VoiceID.UpdateDomain", body, base64_body=True))
    assert fake_api.calls == [("VoiceID.UpdateDomain", body)]


@pytest.mark.parametrize("header", ["x-amz-target", "X-AMZ-TARGET", "X-Amz-Target"])
def test_the_target_header_is_found_in_any_case(fake_api: FakeApi, header: str) -> None:
    invoke(proxy_event("VoiceID.ListDomains", b"{}", header=header))
    assert fake_api.calls == [("VoiceID.ListDomains", b"{}")]


def test_a_missing_target_and_body_are_passed_on_empty(fake_api: FakeApi) -> None:
    event = proxy_event(None, b"")
    event["body"] = None
    invoke(event)
    assert fake_api.calls == [("", b"")]


def test_the_api_error_status_and_shape_are_kept(fake_api: FakeApi) -> None:
    error = {"__type": "ResourceNotFoundException", "message": "no such domain", "ResourceType": "DOMAIN"}
    fake_api.answer = ApiResponse(404, error)
    response = invoke(proxy_event("VoiceID.DescribeDomain", b"{}"))
    assert response["statusCode"] == 404
    assert json.loads(response["body"]) == error
    assert response["headers"]["Content-Type"] == "application/x-amz-json-1.0"


@pytest.mark.parametrize("failure", ["handle", "wiring"])
def test_an_unexpected_exception_is_an_internal_server_exception(fake_api: FakeApi, failure: str) -> None:
    if failure == "handle":
        fake_api.error = RuntimeError("boom")
    else:
        fake_api.broken_wiring = RuntimeError("no STS")
    response = invoke(proxy_event("VoiceID.DescribeDomain", b"{}"))
    assert response["statusCode"] == 500
    body = json.loads(response["body"])
    assert (body["__type"], body["message"]) == ("InternalServerException", "An internal error occurred.")
    assert response["headers"] == {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": REQUEST_ID}


def test_the_api_is_built_once_per_container(fake_api: FakeApi) -> None:
    for _ in range(3):
        invoke(proxy_event("VoiceID.ListDomains", b"{}"))
    assert len(fake_api.calls) == 3  # the fixture checks api_from_env ran once


def test_logs_carry_the_api_gateway_request_id_as_correlation_id(
    fake_api: FakeApi, caplog: pytest.LogCaptureFixture
) -> None:
    invoke(proxy_event("VoiceID.DescribeDomain", b"{}"))
    assert runtime.logger.get_correlation_id() == REQUEST_ID
    answered = next(record for record in caplog.records if record.getMessage() == "request answered")
    assert (answered.__dict__["operation"], answered.__dict__["status"]) == ("DescribeDomain", 200)


@pytest.mark.parametrize(
    ("target", "status", "operation", "counts"),
    [
        ("VoiceID.DescribeDomain", 200, "DescribeDomain", (1, 0, 0)),
        ("VoiceID.StartSpeakerEnrollmentJob", 409, "StartSpeakerEnrollmentJob", (1, 1, 0)),
        ("VoiceID.ListSpeakers", 500, "ListSpeakers", (1, 0, 1)),
        ("VoiceID.NoSuchOperation", 400, "Unknown", (1, 1, 0)),  # dimension values stay the model's operations
        ("Other.DescribeDomain", 400, "Unknown", (1, 1, 0)),
    ],
)
def test_metrics_count_requests_and_errors_per_operation(  # noqa: PLR0917 - parametrized
    fake_api: FakeApi, capsys: pytest.CaptureFixture[str], target: str, status: int, operation: str,
    counts: tuple[int, int, int],
) -> None:
    fake_api.answer = ApiResponse(status, {})
    invoke(proxy_event(target, b"{}"))
    (metric,) = [line for line in emitted(capsys.readouterr().out) if "_aws" in line]  # EMF, one per invocation
    (directive,) = metric["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "SpeakerEnrollmentTest"
    assert directive["Dimensions"] == [["Operation"]]
    assert metric["Operation"] == operation
    values = [metric[name] for name in ("Requests", "ClientErrors", "ServerErrors")]
    assert values == [[float(count)] for count in counts]
