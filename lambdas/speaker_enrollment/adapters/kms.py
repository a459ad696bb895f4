"""KMS HMAC (GenerateMac / VerifyMac): the signature of the API's pagination tokens; the key never leaves KMS."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from botocore.exceptions import ClientError

if TYPE_CHECKING:  # the stubs are dev-only: the Lambda runtime never imports them
    from mypy_boto3_kms.client import KMSClient

MAC_ALGORITHM: Final = "HMAC_SHA_256"  # the algorithm of an HMAC_256 key


class KmsMacSigner:
    def __init__(self, client: KMSClient, key_id: str) -> None:
        self._kms = client
        self._key_id = key_id

    def sign(self, message: bytes) -> bytes:
        response = self._kms.generate_mac(KeyId=self._key_id, Message=message, MacAlgorithm=MAC_ALGORITHM)
        return bytes(response["Mac"])

    def verify(self, message: bytes, mac: bytes) -> bool:
        try:
            response = self._kms.verify_mac(KeyId=self._key_id, Message=message, Mac=mac, MacAlgorithm=MAC_ALGORITHM)
        except ClientError as error:
            if error.response["Error"]["Code"] == "KMSInvalidMacException":
                return False
            raise
        return bool(response["MacValid"])
