"""Typed configuration from the Lambda environment (names in docs/architecture.md)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    jobs_table: str
    speakers_table: str
    domains_table: str
    work_bucket: str
    inbox_bucket: str
    output_bucket: str
    kms_key_id: str
    default_data_access_role_arn: str
    state_machine_arn: str = ""
    max_requests_per_job: int = 10_000
    speaker_quota: int = 100_000
    shard_size: int = 20
    max_audio_file_bytes: int = 20 * 1024 * 1024
    voiceprint_threads: int = 0  # BLAS threads per worker; 0 = every core the function has
    watchlists_table: str = ""  # the Voice ID API (CreateDomain makes the default watchlist); S3-upload jobs
    fraudsters_table: str = ""  # the Voice ID API; the enrollment's fraud check
    watchlist_quota: int = 3  # watchlists per domain, the default one included
    fraudster_quota: int = 500  # fraudsters per watchlist
    api_token_key_id: str = ""  # HMAC_256 KMS key signing the API's NextTokens
    account_id: str = ""  # the account domain ARNs name; the API asks STS when unset
    region: str = ""  # AWS_REGION (set by Lambda)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(
            jobs_table=env["JOBS_TABLE"],
            speakers_table=env["SPEAKERS_TABLE"],
            domains_table=env["DOMAINS_TABLE"],
            work_bucket=env["WORK_BUCKET"],
            inbox_bucket=env.get("INBOX_BUCKET", ""),
            output_bucket=env.get("OUTPUT_BUCKET", ""),
            kms_key_id=env.get("KMS_KEY_ID", ""),
            default_data_access_role_arn=env.get("DEFAULT_DATA_ACCESS_ROLE_ARN", ""),
            state_machine_arn=env.get("STATE_MACHINE_ARN", ""),
            max_requests_per_job=int(env.get("MAX_REQUESTS_PER_JOB", "10000")),
            speaker_quota=int(env.get("SPEAKER_QUOTA", "100000")),
            shard_size=int(env.get("SHARD_SIZE", "20")),
            max_audio_file_bytes=int(env.get("MAX_AUDIO_FILE_BYTES", str(20 * 1024 * 1024))),
            voiceprint_threads=int(env.get("VOICEPRINT_THREADS", "0")),
            watchlists_table=env.get("WATCHLISTS_TABLE", ""),
            fraudsters_table=env.get("FRAUDSTERS_TABLE", ""),
            watchlist_quota=int(env.get("WATCHLIST_QUOTA", "3")),
            fraudster_quota=int(env.get("FRAUDSTER_QUOTA", "500")),
            api_token_key_id=env.get("API_TOKEN_KEY_ID", ""),
            account_id=env.get("ACCOUNT_ID", ""),
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION", ""),
        )
