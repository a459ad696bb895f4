"""NextToken: an opaque, tamper-proof page position bound to one listing, valid for 24 hours.

A token is ``base64url(payload) "." base64url(HMAC(payload))``; the payload holds the store's position,
a digest of the request it continues (operation, DomainId, filters: everything but NextToken and
MaxResults) and its expiry. The HMAC is made and checked by a MacSigner (KMS GenerateMac / VerifyMac with an
HMAC_256 key in AWS), so no key material lives in the function.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from .errors import InternalServerException, ValidationException

TOKEN_LIFETIME_SECONDS = 24 * 3600
MAX_PAYLOAD_BYTES = 4096  # KMS GenerateMac's message limit
UNBOUND_PARAMETERS = ("NextToken", "MaxResults")


class MacSigner(Protocol):
    def sign(self, message: bytes) -> bytes: ...

    def verify(self, message: bytes, mac: bytes) -> bool: ...


@dataclass(frozen=True)
class PageTokens:
    signer: MacSigner | None  # None: API_TOKEN_KEY_ID is not configured
    clock: Callable[[], float]
    lifetime: float = TOKEN_LIFETIME_SECONDS

    def issue(self, operation: str, params: Mapping[str, Any], position: str) -> str:
        payload = json.dumps({"s": scope_digest(operation, params), "p": position,
                              "e": int(self.clock() + self.lifetime)}, separators=(",", ":")).encode()
        return f"{_encode(payload)}.{_encode(self._signer().sign(payload))}"

    def open(self, operation: str, params: Mapping[str, Any], token: str) -> str:
        """The position `token` stands for; ValidationException if it was not issued for this very listing
        by this API, was changed, or has expired."""
        payload, mac = _split(token)
        if not self._signer().verify(payload, mac):
            raise ValidationException("NextToken is invalid: it was not issued by this API or was altered")
        data = json.loads(payload)
        if data["e"] < self.clock():
            raise ValidationException("NextToken has expired (tokens are valid for 24 hours); list again "
                                      "from the first page")
        if data["s"] != scope_digest(operation, params):
            raise ValidationException("NextToken belongs to a different listing: the operation, DomainId and "
                                      "filters must stay the same from page to page")
        return str(data["p"])

    def _signer(self) -> MacSigner:
        if self.signer is None:
            raise InternalServerException("Pagination is not configured: API_TOKEN_KEY_ID (an HMAC_256 KMS key) "
                                          "is not set")
        return self.signer


def scope_digest(operation: str, params: Mapping[str, Any]) -> str:
    scope = {key: value for key, value in params.items() if key not in UNBOUND_PARAMETERS}
    canonical = json.dumps([operation, scope], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _split(token: str) -> tuple[bytes, bytes]:
    try:
        encoded_payload, encoded_mac = token.split(".")
        payload, mac = _decode(encoded_payload), _decode(encoded_mac)
        json.loads(payload)
    except (ValueError, binascii.Error):
        payload = mac = b""
    if not payload or not mac or len(payload) > MAX_PAYLOAD_BYTES:
        raise ValidationException("NextToken is invalid: it was not issued by this API or was altered")
    return payload, mac
