"""S3 adapters: objects read and written with the job's data access role, and the work bucket."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import ClientError

from ..domain.ports import JsonDocument
from ..domain.shared.errors import AudioFetchError
from ..domain.shared.paging import Erased
from ..domain.shared.s3uri import S3Location, parse_s3_uri
from ..domain.workflow.errors import InputNotReadableError, OutputNotWritableError

if TYPE_CHECKING:  # the stubs are dev-only: the Lambda runtime never imports them
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef, PutObjectRequestTypeDef

ACCESS_ERRORS = {"AccessDenied", "AllAccessDisabled", "InvalidObjectState", "KMS.AccessDeniedException"}
MISSING_ERRORS = {"NoSuchKey", "NoSuchBucket", "404", "NotFound"}
TRANSIENT_ERRORS = {"SlowDown", "503", "InternalError", "ServiceUnavailable", "RequestTimeout", "Throttling"}
# A role the functions may assume carries this tag with the value "true" (stacks/workflow.py: the opt-in).
OPT_IN_TAG = "speaker-enrollment:data-access"
OPT_IN_VALUE = "true"
SESSION_TAG_DOMAIN = "DomainId"
SESSION_TAG_JOB = "JobId"
DELETE_OBJECTS_MAX = 1000  # S3's limit of keys per DeleteObjects (and per listing page)


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "Unknown"))


def describe_s3_error(location: S3Location, error: ClientError) -> str:
    code = error_code(error)
    if code in MISSING_ERRORS:
        return f"{location.uri} does not exist"
    if code in ACCESS_ERRORS or code.startswith("KMS"):
        return f"{location.uri} cannot be read with the job's data access role ({code})"
    return f"{location.uri} could not be read ({code})"


@dataclass(frozen=True)
class DataAccessSession:
    """Who asks to act as a job's DataAccessRoleArn: ``ExternalId`` names this deployment and the session tags
    name the domain and the job, so the role's trust policy can pin both (``sts:ExternalId``,
    ``aws:RequestTag/DomainId``); see README "Security and authorization"."""

    role_arn: str
    external_id: str
    domain_id: str
    job_id: str

    @property
    def session_name(self) -> str:
        return f"enrollment-{self.job_id}"[:64]


def data_access_client(session: DataAccessSession) -> S3Client:
    """An S3 client acting as the job's DataAccessRoleArn (fresh credentials on every call). Both clients come
    from boto3's default session, whose service models stay loaded for the life of the container (a new
    ``boto3.Session`` loads them again, about 0.3 s of CPU per invocation).

    A refusal fails the job (InputNotReadableError, 403) saying no more than that: not the role, and nothing of what
    this service's own identity could see."""
    try:
        credentials = boto3.client("sts").assume_role(
            RoleArn=session.role_arn, RoleSessionName=session.session_name, ExternalId=session.external_id,
            Tags=[{"Key": SESSION_TAG_DOMAIN, "Value": session.domain_id},
                  {"Key": SESSION_TAG_JOB, "Value": session.job_id}],
        )["Credentials"]
    except ClientError as error:
        if is_transient(error):
            raise
        raise InputNotReadableError(
            f"This service cannot assume the job's DataAccessRoleArn ({error_code(error)}): the role must opt in "
            f"(tag {OPT_IN_TAG}={OPT_IN_VALUE}) and trust this service's functions with its ExternalId"
        ) from None
    # boto3.client itself is untyped (no boto3-stubs): the annotation names what an "s3" client is.
    client: S3Client = boto3.client(
        "s3",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
    return client


class S3Objects:
    """Whole-object reads and writes through one S3 client."""

    def __init__(self, client: S3Client) -> None:
        self.client = client

    def read(self, location: S3Location, version_id: str | None = None) -> bytes:
        if version_id:
            response = self.client.get_object(Bucket=location.bucket, Key=location.key, VersionId=version_id)
        else:
            response = self.client.get_object(Bucket=location.bucket, Key=location.key)
        return bytes(response["Body"].read())

    def read_json(self, location: S3Location) -> Any:
        return json.loads(self.read(location))

    def write(self, location: S3Location, body: bytes, kms_key_id: str | None = None,
              content_type: str = "application/json") -> None:
        request: PutObjectRequestTypeDef = {
            "Bucket": location.bucket, "Key": location.key, "Body": body, "ContentType": content_type}
        if kms_key_id:
            request |= {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_id}
        self.client.put_object(**request)

    def write_json(self, location: S3Location, document: Any) -> None:
        self.write(location, json.dumps(document, separators=(",", ":")).encode())

    def exists(self, location: S3Location) -> bool:
        try:
            self.client.head_object(Bucket=location.bucket, Key=location.key)
        except ClientError as error:
            if error_code(error) in MISSING_ERRORS:
                return False
            raise
        return True

    def metadata(self, location: S3Location, version_id: str | None = None) -> dict[str, str]:
        if version_id:
            response = self.client.head_object(Bucket=location.bucket, Key=location.key, VersionId=version_id)
        else:
            response = self.client.head_object(Bucket=location.bucket, Key=location.key)
        return dict(response.get("Metadata", {}))


def is_transient(error: ClientError) -> bool:
    """S3 asking to come back later (SlowDown, 5xx): the invocation fails and is retried; it says nothing about
    the object."""
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
    return status >= 500 or error_code(error) in TRANSIENT_ERRORS


class S3AudioSource:
    """Fetches enrollment audio; an object that is missing, refused or too large is an AudioFetchError naming it
    (the request's 400), a transient S3 error is raised as is (the invocation is retried)."""

    def __init__(self, client: S3Client) -> None:
        self._client = client

    def fetch(self, s3_uri: str, max_bytes: int) -> bytes:
        location = parse_s3_uri(s3_uri, needs_key=True)
        try:
            response = self._client.get_object(Bucket=location.bucket, Key=location.key)
        except ClientError as error:
            if is_transient(error):
                raise
            raise AudioFetchError(describe_s3_error(location, error)) from None
        size = int(response.get("ContentLength", 0))
        if size > max_bytes:
            response["Body"].close()
            raise AudioFetchError(f"{s3_uri}: file is {size:,} bytes, over the {max_bytes:,}-byte limit")
        return bytes(response["Body"].read())


class S3DataAccess(S3AudioSource):
    """The job's reads (manifest, audio) and its output write, made with the data access role."""

    def __init__(self, client: S3Client) -> None:
        super().__init__(client)
        self._objects = S3Objects(client)

    def read_manifest(self, s3_uri: str, version_id: str | None = None) -> bytes:
        try:
            location = parse_s3_uri(s3_uri, needs_key=True)
        except ValueError as exc:
            raise InputNotReadableError(f"InputDataConfig: {exc}") from None
        try:
            return self._objects.read(location, version_id)
        except ClientError as error:
            raise InputNotReadableError(f"The input manifest {describe_s3_error(location, error)}") from None

    def write_output(self, location: S3Location, body: bytes, kms_key_id: str | None) -> None:
        try:
            self._objects.write(location, body, kms_key_id)
        except ClientError as error:
            raise OutputNotWritableError(
                f"The output file {location.uri} cannot be written with the job's data access role "
                f"({error_code(error)})"
            ) from None


class S3WorkStore:
    """The job's scratch space in the work bucket (see docs/architecture.md for the keys)."""

    def __init__(self, client: S3Client, bucket: str) -> None:
        self._objects = S3Objects(client)
        self._client = client
        self._bucket = bucket

    def _at(self, job_id: str, *parts: str) -> S3Location:
        return S3Location(self._bucket, "/".join(("jobs", job_id, *parts)))

    def put_shards(self, domain_id: str, job_id: str, shards: Sequence[Sequence[JsonDocument]]) -> str:
        items = []
        for index, shard in enumerate(shards):
            location = self._at(job_id, "shards", f"{index:05d}.json")
            self._objects.write_json(location, list(shard))
            items.append({"DomainId": domain_id, "JobId": job_id, "ShardIndex": index, "ShardKey": location.key})
        listing = self._at(job_id, "shards.json")
        self._objects.write_json(listing, items)
        return listing.key

    def shard_requests(self, job_id: str, shard_index: int) -> list[JsonDocument]:
        return list(self._objects.read_json(self._at(job_id, "shards", f"{shard_index:05d}.json")))

    def put_results(self, job_id: str, shard_index: int, results: Sequence[JsonDocument]) -> None:
        self._objects.write_json(self._at(job_id, "results", f"{shard_index:05d}.json"), list(results))

    def results(self, job_id: str, shard_index: int) -> list[JsonDocument] | None:
        location = self._at(job_id, "results", f"{shard_index:05d}.json")
        if not self._objects.exists(location):
            return None
        return list(self._objects.read_json(location))

    def put_validation_errors(self, job_id: str, errors: Sequence[JsonDocument]) -> None:
        self._objects.write_json(self._at(job_id, "validation-errors.json"), list(errors))

    def validation_errors(self, job_id: str) -> list[JsonDocument]:
        return list(self._objects.read_json(self._at(job_id, "validation-errors.json")))

    def erase_job(self, job_id: str) -> int:
        """Every file of the job (its shards hold speaker ids and audio URIs, its results the outcomes)."""
        erased = 0
        while True:
            page = erase_prefix_page(self._client, self._bucket, self._at(job_id).key + "/")
            erased += page.count
            if page.next_position is None:
                return erased


def erase_prefix_page(client: S3Client, bucket: str, prefix: str) -> Erased:
    """Delete one listing page (up to 1,000) of the object versions and delete markers under `prefix`, so nothing
    of them is left for a versioned bucket to bring back. Each page lists from the start: what it deleted is gone.
    The position returned is the prefix while more remain."""
    listing = client.list_object_versions(Bucket=bucket, Prefix=prefix, MaxKeys=DELETE_OBJECTS_MAX)
    versions: list[ObjectIdentifierTypeDef] = [
        {"Key": v["Key"], "VersionId": v["VersionId"]}
        for v in (*listing.get("Versions", []), *listing.get("DeleteMarkers", []))]
    if versions:
        failed = client.delete_objects(Bucket=bucket, Delete={"Objects": versions, "Quiet": True}).get("Errors", [])
        if failed:
            raise ObjectsNotDeletedError(f"{len(failed)} of {len(versions)} object versions not deleted in {bucket}: "
                                         f"{sorted({error.get('Code', '?') for error in failed})}")
    return Erased(len(versions), prefix if listing.get("IsTruncated") else None)


class ObjectsNotDeletedError(RuntimeError):
    """S3 refused to delete some versions (their error codes, never their keys: keys are personal data)."""


@dataclass(frozen=True)
class InboxPrefix:
    """A deleted domain's uploads under ``<prefix>/<DomainId>/`` of the inbox bucket (DomainData, admin/purge.py)."""

    client: S3Client
    bucket: str
    prefix: str  # manifests, fraudsters, evaluations, sessions

    @property
    def name(self) -> str:
        return "Inbox" + self.prefix.capitalize()

    def erase_page(self, domain_id: str, after: str | None) -> Erased:
        return erase_prefix_page(self.client, self.bucket, f"{self.prefix}/{domain_id}/")


TAG_VALUE_UNSAFE = re.compile(r"[^\w .:/=+\-@]")  # S3 tag values: letters, digits, spaces and _ . : / = + - @
TAG_VALUE_MAX = 256


def tag_value(text: str) -> str:
    """`text` as an S3 tag value can hold it (other characters become spaces, at most 256 of them)."""
    return " ".join(TAG_VALUE_UNSAFE.sub(" ", text).split())[:TAG_VALUE_MAX]


class S3SessionInbox:
    """Session recordings in the inbox, read (at the version the event names) and tagged with the evaluating
    function's own access; what cannot be read is an AudioFetchError that names the session's file, not its URI."""

    def __init__(self, client: S3Client, error_tag: str) -> None:
        self._client = client
        self._objects = S3Objects(client)
        self._error_tag = error_tag

    def metadata(self, location: S3Location, version_id: str | None) -> dict[str, str]:
        return self._objects.metadata(location, version_id)

    def fetch(self, location: S3Location, version_id: str | None, max_bytes: int) -> bytes:
        try:
            if version_id:
                response = self._client.get_object(Bucket=location.bucket, Key=location.key, VersionId=version_id)
            else:
                response = self._client.get_object(Bucket=location.bucket, Key=location.key)
        except ClientError as error:
            if is_transient(error):
                raise
            raise AudioFetchError(f"{location.file_name} could not be read ({error_code(error)})") from None
        size = int(response.get("ContentLength", 0))
        if size > max_bytes:
            response["Body"].close()
            raise AudioFetchError(f"{location.file_name}: file is {size:,} bytes, over the {max_bytes:,}-byte limit")
        return bytes(response["Body"].read())

    def mark_refused(self, location: S3Location, version_id: str | None, reason: str) -> None:
        tagging: Any = {"TagSet": [{"Key": self._error_tag, "Value": tag_value(reason)}]}
        if version_id:
            self._client.put_object_tagging(Bucket=location.bucket, Key=location.key, VersionId=version_id,
                                            Tagging=tagging)
        else:
            self._client.put_object_tagging(Bucket=location.bucket, Key=location.key, Tagging=tagging)
