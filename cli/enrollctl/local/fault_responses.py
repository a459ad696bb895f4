"""The error responses DynamoDB and S3 send, byte for byte as botocore receives them from AWS (status code, headers,
body), so that botocore parses each into the error code, message and modelled members a caller of AWS sees (and
retries what it retries in AWS). ``call_guard`` answers the functions' calls with them instead of sending."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from botocore.awsrequest import AWSResponse, HeadersDict

from enrollctl.local.faults import FaultInjector

DYNAMODB_PREFIX = "com.amazonaws.dynamodb.v20120810#"
DYNAMODB_CONTENT_TYPE = "application/x-amz-json-1.0"
CONFLICT_MESSAGE = "Transaction is ongoing for the item"
THROTTLES = {  # error type (as DynamoDB names it in __type) → message
    "com.amazon.coral.availability#ThrottlingException":
        "Throughput exceeds the current capacity of your table or index. DynamoDB is automatically scaling your table "
        "or index so please try again shortly. If exceptions persist, check if you have a hot key: "
        "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html",
    f"{DYNAMODB_PREFIX}ProvisionedThroughputExceededException":
        "The level of configured provisioned throughput for the table was exceeded. Consider increasing your "
        "provisioning level with the UpdateTable API.",
}
SLOW_DOWN_STATUS = 503
BAD_REQUEST = 400


class _Body(io.BytesIO):
    """The raw body botocore reads an ``AWSResponse`` from (urllib3's ``stream`` interface)."""

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.getvalue()


@dataclass(frozen=True)
class ErrorAnswer:
    code: str  # the error code botocore will parse out of ``response`` (for the log line)
    response: AWSResponse


def response(url: str, status: int, headers: dict[str, str], body: bytes) -> AWSResponse:
    all_headers = HeadersDict({**headers, "Content-Length": str(len(body))})
    return AWSResponse(url, status, all_headers, _Body(body))


def _dynamodb_error(url: str, document: dict[str, Any]) -> ErrorAnswer:
    headers = {"Content-Type": DYNAMODB_CONTENT_TYPE, "x-amzn-RequestId": _request_id()}
    code = str(document["__type"]).rsplit("#", 1)[-1]
    return ErrorAnswer(code, response(url, BAD_REQUEST, headers, json.dumps(document).encode()))


def _request_id() -> str:
    return uuid.uuid4().hex.upper()[:32]


def transaction_canceled(url: str, item_count: int, conflicting: int) -> ErrorAnswer:
    """TransactWriteItems cancelled: one reason per item in request order, ``TransactionConflict`` for the item
    another transaction holds and ``None`` for the others (DynamoDB's ``CancellationReasons``)."""
    reasons: list[dict[str, str]] = [{"Code": "None"} for _ in range(item_count)]
    reasons[conflicting] = {"Code": "TransactionConflict", "Message": CONFLICT_MESSAGE}
    codes = ", ".join(reason["Code"] for reason in reasons)
    return _dynamodb_error(url, {
        "__type": f"{DYNAMODB_PREFIX}TransactionCanceledException",
        "Message": f"Transaction cancelled, please refer cancellation reasons for specific reasons [{codes}]",
        "CancellationReasons": reasons,
    })


def transaction_conflict(url: str) -> ErrorAnswer:
    """A single-item write to an item a pending transaction holds."""
    return _dynamodb_error(url, {"__type": f"{DYNAMODB_PREFIX}TransactionConflictException",
                                 "message": CONFLICT_MESSAGE})


def dynamodb_throttle(url: str, faults: FaultInjector) -> ErrorAnswer:
    """A hot partition: ``ThrottlingException`` or ``ProvisionedThroughputExceededException`` (on-demand tables
    answer both, depending on which limit was hit)."""
    error_type = faults.choice(sorted(THROTTLES))
    return _dynamodb_error(url, {"__type": error_type, "message": THROTTLES[error_type]})


def s3_slow_down(url: str, method: str) -> ErrorAnswer:
    """503 SlowDown (a HEAD response has no body: botocore then names the error by its status code)."""
    request_id = _request_id()[:16]
    headers = {"Content-Type": "application/xml", "x-amz-request-id": request_id, "x-amz-id-2": uuid.uuid4().hex}
    body = b"" if method == "HEAD" else (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
        f"<Message>Please reduce your request rate.</Message><RequestId>{request_id}</RequestId>"
        f"<HostId>{headers['x-amz-id-2']}</HostId></Error>").encode()
    return ErrorAnswer("SlowDown", response(url, SLOW_DOWN_STATUS, headers, body))
