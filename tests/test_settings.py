"""Settings are validated at cold start with a message naming the variable; failures map to their status codes
without a hand-kept list; the composition root refuses to build what lacks its configuration."""

from __future__ import annotations

import pytest
from speaker_enrollment.composition import Composition
from speaker_enrollment.domain.workflow.errors import JobFailure, JobNotFoundError, failure_details
from speaker_enrollment.settings import Settings, SettingsError, Tunables

ENVIRONMENT = {name: f"value-of-{name.lower()}" for name in Settings.REQUIRED.values()}


def test_a_complete_environment_reads_with_the_documented_defaults() -> None:
    settings = Settings.from_env({**ENVIRONMENT, "AWS_REGION": "eu-west-1"})
    assert settings.jobs_table == "value-of-jobs_table" and settings.region == "eu-west-1"
    assert settings.tunables == Tunables() and settings.state_machine_arn is None


@pytest.mark.parametrize("variable", sorted(Settings.REQUIRED.values()))
def test_a_missing_or_blank_required_variable_is_named(variable: str) -> None:
    for broken in ({k: v for k, v in ENVIRONMENT.items() if k != variable}, {**ENVIRONMENT, variable: "  "}):
        with pytest.raises(SettingsError, match=variable):
            Settings.from_env(broken)


@pytest.mark.parametrize(("variable", "value", "problem"), [
    ("SHARD_SIZE", "0", "SHARD_SIZE must be at least 1, got 0"),
    ("SPEAKER_QUOTA", "-5", "SPEAKER_QUOTA must be at least 1"),
    ("MAX_AUDIO_FILE_BYTES", "20MB", "MAX_AUDIO_FILE_BYTES must be a whole number, got '20MB'"),
    ("VOICEPRINT_THREADS", "-1", "VOICEPRINT_THREADS must be at least 0"),
])
def test_an_invalid_number_is_refused_at_start(variable: str, value: str, problem: str) -> None:
    with pytest.raises(SettingsError, match=problem):
        Settings.from_env({**ENVIRONMENT, variable: value})


def test_tunables_round_trip_through_the_environment_the_stack_sets() -> None:
    custom = Tunables(shard_size=5, voiceprint_threads=1, fraudster_quota=7)
    assert Tunables.from_env(custom.environment()) == custom
    assert set(Tunables().environment()) == {"MAX_REQUESTS_PER_JOB", "SPEAKER_QUOTA", "SHARD_SIZE",
                                             "MAX_AUDIO_FILE_BYTES", "VOICEPRINT_THREADS", "WATCHLIST_QUOTA",
                                             "FRAUDSTER_QUOTA", "MAX_SPEECH_SECONDS", "MIN_EVALUATION_SPEECH_SECONDS",
                                             "SESSION_RETENTION_DAYS", "VOICEPRINT_KEY_CACHE_SECONDS",
                                             "SPEAKER_RETENTION_DAYS"}


@pytest.mark.parametrize(("component", "variable"), [("workflow", "STATE_MACHINE_ARN"),
                                                     ("submitter", "STATE_MACHINE_ARN"),
                                                     ("api", "API_TOKEN_KEY_ID"),
                                                     ("sessions", "SESSIONS_TABLE"),
                                                     ("maintenance", "MAINTENANCE_STATE_MACHINE_ARN"),
                                                     ("purge", "SESSIONS_TABLE")])
def test_a_component_without_its_configuration_is_not_built(component: str, variable: str) -> None:
    root = Composition(Settings.from_env(ENVIRONMENT), client=lambda service: object())
    with pytest.raises(SettingsError, match=variable):
        getattr(root, component)


def test_every_job_failure_maps_to_its_status_code_by_class_name() -> None:
    assert failure_details("JobNotFoundError", "Job 'x' does not exist").status_code == JobNotFoundError.status_code
    assert JobNotFoundError.status_code == 404

    class QuotaGoneError(JobFailure):  # a failure defined anywhere registers itself
        status_code = 429

    try:
        assert failure_details("QuotaGoneError", "try later").status_code == 429
    finally:
        JobFailure.known.pop("QuotaGoneError")
    unknown = failure_details("KeyError", "'x'")
    assert unknown.status_code == 500 and unknown.message == "Internal error while running the job (KeyError: 'x')"
