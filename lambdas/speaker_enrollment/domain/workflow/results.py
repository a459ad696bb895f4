"""What a request of any job kind ends as: a success entry of its kind, or a RequestError (a leaf module: the
job types, the output merge and the ports all use it, and it uses none of them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


class JobResult(Protocol):
    """One entry of the output file: a success of the job's kind or a RequestError."""

    @property
    def request_id(self) -> str | None: ...

    def to_json(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class RequestError:
    """One entry of the output file's Errors list."""

    request_id: str | None
    error_code: int
    error_message: str

    def to_json(self) -> dict[str, Any]:
        return {"RequestId": self.request_id, "ErrorCode": self.error_code, "ErrorMessage": self.error_message}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RequestError:
        return cls(data["RequestId"], int(data["ErrorCode"]), data["ErrorMessage"])

    @staticmethod
    def describes(data: dict[str, Any]) -> bool:
        """Whether a result document is an error entry (rather than a success of the job's kind)."""
        return "ErrorCode" in data
