"""Sessions (pk DomainId, sk SessionId; TTL ExpiresAt): recorded calls and their EvaluateSession results.

SessionName → SessionId needs no second item: the id derives from (DomainId, SessionName)
(``domain.workflow.sessions.session_id_of``). Each upload's S3 sequencer (``UploadOrder``) decides which upload a
session follows, by conditional writes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ...domain.workflow.sessions import Session, StreamingStatus
from ...domain.workflow.verification import AuthenticationResult, FraudDetectionResult
from ..codecs import SCHEMA_VERSION, _version, from_item, to_item
from .base import CONFLICTS, ConflictRetries, condition_failed, values

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

    from .base import Attributes

# Written when absent, or over an older upload, or over this upload's evaluation whose invocation's lease ran out.
BEGIN_CONDITION = ("attribute_not_exists(SessionId) OR UploadOrder < :order OR "
                   "(UploadOrder = :order AND StreamingStatus = :ongoing AND LeaseExpiresAt < :now)")


class SessionCodec:
    VERSION = 1

    def encode(self, session: Session) -> dict[str, Any]:
        return {
            SCHEMA_VERSION: self.VERSION, "DomainId": session.domain_id, "SessionId": session.session_id,
            "SessionName": session.session_name, "StreamingStatus": session.status.value,
            "UploadOrder": session.upload_order, "UploadVersionId": session.version_id,
            "CreatedAt": session.created_at, "UpdatedAt": session.updated_at,
            "ExpiresAt": int(session.expires_at), "LeaseExpiresAt": session.lease_expires_at,
            "AuthenticationResult": session.authentication.to_api() if session.authentication else None,
            "FraudDetectionResult": session.fraud_detection.to_api() if session.fraud_detection else None,
            "Problem": session.problem,
        }

    def decode(self, document: Mapping[str, Any]) -> Session:
        _version(document, self.VERSION, "Sessions")
        authentication = document.get("AuthenticationResult")
        fraud = document.get("FraudDetectionResult")
        lease = document.get("LeaseExpiresAt")
        return Session(
            document["DomainId"], document["SessionId"], document["SessionName"],
            StreamingStatus(document["StreamingStatus"]), document["UploadOrder"], float(document["CreatedAt"]),
            float(document["UpdatedAt"]), float(document["ExpiresAt"]), document.get("UploadVersionId"),
            lease_expires_at=float(lease) if lease is not None else None,
            authentication=AuthenticationResult.from_api(authentication) if authentication else None,
            fraud_detection=FraudDetectionResult.from_api(fraud) if fraud else None,
            problem=document.get("Problem"),
        )


_codec = SessionCodec()


class DynamoSessionStore:
    def __init__(self, client: DynamoDBClient, table: str, conflicts: ConflictRetries = CONFLICTS) -> None:
        self._db = client
        self._table = table
        self._conflicts = conflicts

    @staticmethod
    def _key(domain_id: str, session_id: str) -> Attributes:
        return {"DomainId": {"S": domain_id}, "SessionId": {"S": session_id}}

    def get(self, domain_id: str, session_id: str) -> Session | None:
        item = self._db.get_item(TableName=self._table, ConsistentRead=True,
                                 Key=self._key(domain_id, session_id)).get("Item")
        return _codec.decode(from_item(item)) if item else None

    def begin(self, session: Session, now: float) -> Session | None:
        try:
            self._conflicts.run(lambda: self._db.put_item(
                TableName=self._table, Item=to_item(_codec.encode(session)), ConditionExpression=BEGIN_CONDITION,
                ExpressionAttributeValues=values(order=session.upload_order, ongoing=StreamingStatus.ONGOING.value,
                                                 now=now)))
        except ClientError as error:
            if not condition_failed(error):
                raise
            stored = self.get(session.domain_id, session.session_id)
            if stored is None:  # deleted in between (its TTL, a purge): begin on an empty slot
                return self.begin(session, now)
            return stored
        return None

    def finish(self, session: Session) -> bool:
        try:
            self._conflicts.run(lambda: self._db.put_item(
                TableName=self._table, Item=to_item(_codec.encode(session)),
                ConditionExpression="UploadOrder = :order",
                ExpressionAttributeValues=values(order=session.upload_order)))
        except ClientError as error:
            if condition_failed(error):
                return False
            raise
        return True
