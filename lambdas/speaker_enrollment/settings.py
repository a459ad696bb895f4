"""Typed configuration from the Lambda environment (names in docs/architecture.md), validated at cold start.

Every default is defined here once: the CDK stack imports ``Tunables`` and passes ``Tunables().environment()``
to every function, so the deployed value and the default cannot drift apart.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar


class SettingsError(ValueError):
    """A variable of the function's environment is missing or invalid; the message names it."""


@dataclass(frozen=True)
class Tunables:
    """Limits and tuning: the same in every function, each with its environment variable."""

    max_requests_per_job: int = 10_000
    speaker_quota: int = 100_000  # speakers per domain
    shard_size: int = 20  # requests per shard (one Distributed Map child)
    max_audio_file_bytes: int = 20 * 1024 * 1024
    voiceprint_threads: int = 0  # BLAS threads per worker; 0 = every core the function has
    watchlist_quota: int = 3  # watchlists per domain, the default one included
    fraudster_quota: int = 500  # fraudsters per watchlist
    max_speech_seconds: int = 120  # a request's files are read until it has this much net speech
    min_evaluation_speech_seconds: int = 10  # net speech a call needs to be evaluated (else NOT_ENOUGH_SPEECH)
    session_retention_days: int = 30  # sessions (EvaluateSession's results) expire this long after evaluation
    voiceprint_key_cache_seconds: int = 60  # a data key of a domain's KMS key is used this long (0: once)
    speaker_retention_days: int = 3 * 365  # a speaker not accessed this long is deleted (Voice ID: 3 years)

    # Every other value is at least 1; below Voice ID's 30 s a request could never have enough speech.
    MINIMUM: ClassVar[Mapping[str, int]] = {"voiceprint_threads": 0, "max_speech_seconds": 30,
                                            "voiceprint_key_cache_seconds": 0}

    @staticmethod
    def variable(field_name: str) -> str:
        return field_name.upper()

    def environment(self) -> dict[str, str]:
        return {self.variable(f.name): str(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Tunables:
        values = {f.name: _number(env, cls.variable(f.name), getattr(cls, f.name), cls.MINIMUM.get(f.name, 1))
                  for f in fields(cls)}
        return cls(**values)


@dataclass(frozen=True)
class Settings:
    jobs_table: str
    speakers_table: str
    domains_table: str
    watchlists_table: str
    fraudsters_table: str
    work_bucket: str
    inbox_bucket: str
    output_bucket: str
    kms_key_id: str
    default_data_access_role_arn: str
    region: str | None = None  # AWS_REGION (Lambda sets it); else boto3's configured region
    tunables: Tunables = Tunables()
    state_machine_arn: str | None = None  # the functions that start jobs (submit, API)
    api_token_key_id: str | None = None  # the API: HMAC_256 KMS key signing its NextTokens
    account_id: str | None = None  # the API: the account domain ARNs name (else STS is asked)
    data_access_external_id: str | None = None  # the workflow: ExternalId of its sts:AssumeRole (the stack's name)
    sessions_table: str | None = None  # sessions: the evaluating function and the API (EvaluateSession)
    maintenance_state_machine_arn: str | None = None  # the functions that start maintenance (API, scheduler)

    REQUIRED: ClassVar[Mapping[str, str]] = {
        "jobs_table": "JOBS_TABLE", "speakers_table": "SPEAKERS_TABLE", "domains_table": "DOMAINS_TABLE",
        "watchlists_table": "WATCHLISTS_TABLE", "fraudsters_table": "FRAUDSTERS_TABLE",
        "work_bucket": "WORK_BUCKET", "inbox_bucket": "INBOX_BUCKET", "output_bucket": "OUTPUT_BUCKET",
        "kms_key_id": "KMS_KEY_ID", "default_data_access_role_arn": "DEFAULT_DATA_ACCESS_ROLE_ARN",
    }
    OPTIONAL: ClassVar[Mapping[str, str]] = {
        "state_machine_arn": "STATE_MACHINE_ARN", "api_token_key_id": "API_TOKEN_KEY_ID", "account_id": "ACCOUNT_ID",
        "data_access_external_id": "DATA_ACCESS_EXTERNAL_ID",
        "sessions_table": "SESSIONS_TABLE", "maintenance_state_machine_arn": "MAINTENANCE_STATE_MACHINE_ARN",
    }

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        missing = [name for name in cls.REQUIRED.values() if not env.get(name, "").strip()]
        if missing:
            raise SettingsError(f"environment variable(s) {', '.join(missing)} must be set (see "
                                "docs/architecture.md)")
        values: dict[str, Any] = {name: env[variable].strip() for name, variable in cls.REQUIRED.items()}
        values |= {name: env.get(variable, "").strip() or None for name, variable in cls.OPTIONAL.items()}
        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None
        return cls(**values, region=region, tunables=Tunables.from_env(env))

    def required(self, name: str) -> str:
        """An optional setting a component cannot do without (e.g. STATE_MACHINE_ARN to start jobs)."""
        value = getattr(self, name)
        if not value:
            raise SettingsError(f"environment variable {self.OPTIONAL[name]} must be set for this function")
        return str(value)


def _number(env: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise SettingsError(f"environment variable {name} must be a whole number, got {text!r}") from None
    if value < minimum:
        raise SettingsError(f"environment variable {name} must be at least {minimum}, got {value}")
    return value
