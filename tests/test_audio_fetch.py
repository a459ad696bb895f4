"""Fetching a request's audio: what is wrong with the object is the request's 400; S3 asking to come back later is
not (the invocation fails, the state machine runs it again)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from speaker_enrollment.adapters.s3 import S3AudioSource
from speaker_enrollment.domain.shared.errors import AudioFetchError


class Refusing:
    """An S3 client whose GetObject answers with one error."""

    def __init__(self, code: str, status: int) -> None:
        self.error = ClientError({"Error": {"Code": code, "Message": code},
                                  "ResponseMetadata": {"HTTPStatusCode": status}}, "GetObject")

    def get_object(self, **request: Any) -> Any:
        raise self.error


@pytest.mark.parametrize(("code", "status", "reason"), [("NoSuchKey", 404, "does not exist"),
                                                        ("AccessDenied", 403, "cannot be read with the job's data")])
def test_a_missing_or_refused_object_is_the_requests_problem(code: str, status: int, reason: str) -> None:
    with pytest.raises(AudioFetchError, match=reason):
        S3AudioSource(Refusing(code, status)).fetch("s3://inbox/a.wav", 1 << 20)  # type: ignore[arg-type]


@pytest.mark.parametrize(("code", "status"), [("SlowDown", 503), ("InternalError", 500), ("503", 503)])
def test_a_transient_s3_error_fails_the_invocation_not_the_request(code: str, status: int) -> None:
    with pytest.raises(ClientError) as raised:
        S3AudioSource(Refusing(code, status)).fetch("s3://inbox/a.wav", 1 << 20)  # type: ignore[arg-type]
    assert not isinstance(raised.value, AudioFetchError)
