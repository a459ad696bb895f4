"""Administering a domain's speakers: describe, list, delete, opt out (either speaker id works)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..ports import SpeakerDirectory
from ..shared.errors import SpeakerChangedError, SpeakerQuotaExceededError
from ..shared.ids import is_generated_id, new_generated_speaker_id
from ..shared.paging import Page
from ..shared.speaker import Speaker, SpeakerStatus, opted_out_speaker
from .errors import ConcurrentChangeError, ResourceKind, ResourceNotFoundError

MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class SpeakerAdmin:
    speakers: SpeakerDirectory
    speaker_quota: int
    clock: Callable[[], float]

    def describe(self, domain_id: str, speaker_id: str) -> Speaker:
        speaker = self.speakers.find(domain_id, speaker_id)
        if speaker is None:
            raise _not_found(domain_id, speaker_id)
        return speaker

    def page(self, domain_id: str, limit: int, after: str | None) -> Page[Speaker]:
        return self.speakers.page(domain_id, limit, after)

    def delete(self, domain_id: str, speaker_id: str) -> None:
        """Delete the speaker, its voiceprint and its status (an opted-out speaker may then enroll again)."""
        for _ in range(MAX_ATTEMPTS):
            try:
                self.speakers.delete(self.describe(domain_id, speaker_id))
                return
            except SpeakerChangedError:
                continue
        raise ConcurrentChangeError(f"Speaker '{speaker_id}' kept changing while being deleted; retry")

    def opt_out(self, domain_id: str, speaker_id: str) -> Speaker:
        """Opt the speaker out (deleting its voiceprint); a customer id never seen before gets an OPTED_OUT
        record with a new GeneratedSpeakerId, counted against the speaker quota."""
        for _ in range(MAX_ATTEMPTS):
            try:
                return self._opt_out_once(domain_id, speaker_id)
            except SpeakerChangedError:
                continue
        raise ConcurrentChangeError(f"Speaker '{speaker_id}' kept changing while being opted out; retry")

    def _opt_out_once(self, domain_id: str, speaker_id: str) -> Speaker:
        current = self.speakers.find(domain_id, speaker_id)
        now = self.clock()
        if current is None:
            if is_generated_id(speaker_id):
                raise _not_found(domain_id, speaker_id)
            fresh = opted_out_speaker(domain_id, speaker_id, new_generated_speaker_id(), now)
            try:
                self.speakers.create(fresh, self.speaker_quota)
            except SpeakerQuotaExceededError:
                raise SpeakerQuotaExceededError(
                    f"Domain '{domain_id}' has reached its quota of {self.speaker_quota:,} speakers: no record can "
                    f"be made for the new speaker '{speaker_id}'") from None
            return fresh
        if current.status is SpeakerStatus.OPTED_OUT:
            return current
        updated = current.opted_out(now)
        self.speakers.replace(updated, current)
        return updated


def _not_found(domain_id: str, speaker_id: str) -> ResourceNotFoundError:
    return ResourceNotFoundError(ResourceKind.SPEAKER, f"Speaker '{speaker_id}' does not exist in domain "
                                                       f"'{domain_id}'")
