"""S3 URIs as Voice ID accepts them (``s3://bucket/key``)."""

from __future__ import annotations

from dataclasses import dataclass

from .patterns import whole

S3_URI_PATTERN = whole(r"s3://[a-z0-9][\.\-a-z0-9]{1,61}[a-z0-9](/.*)?")
S3_URI_MAX = 1024


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def file_name(self) -> str:
        return self.key.rsplit("/", 1)[-1]

    def child(self, *parts: str) -> S3Location:
        prefix = self.key.rstrip("/")
        return S3Location(self.bucket, "/".join(p for p in (prefix, *parts) if p))


def parse_s3_uri(uri: str, *, needs_key: bool) -> S3Location:
    """Parse `uri`; raise ValueError saying what is wrong with it."""
    if len(uri) > S3_URI_MAX:
        raise ValueError(f"S3Uri is longer than {S3_URI_MAX} characters")
    if not S3_URI_PATTERN.fullmatch(uri):
        raise ValueError(f"S3Uri '{uri}' is not of the form s3://bucket/key")
    bucket, _, key = uri[len("s3://") :].partition("/")
    if needs_key and (not key or key.endswith("/")):
        raise ValueError(f"S3Uri '{uri}' names no object")
    return S3Location(bucket, key)
