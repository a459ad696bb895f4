"""The ``expire`` maintenance task: a speaker not accessed (enrolled, re-enrolled or successfully authenticated)
for the retention period is deleted, voiceprint and all, as Voice ID did after 3 years for BIPA. Opted-out speakers
stay: their record is the opt-out (it holds no voiceprint) and must outlive any retention, or the next job would
enroll them again.

Voice ID kept an expired speaker's record with the status EXPIRED; deleting it keeps nothing personal longer than
the schedule says (its CustomerSpeakerId included). A later call of that speaker is SPEAKER_NOT_ENROLLED.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..ports import SpeakerDirectory
from ..shared.errors import SpeakerChangedError
from ..shared.speaker import Speaker, SpeakerStatus
from .maintenance import EXPIRE, PageDone

PAGE_SIZE = 500
RESERVE_SECONDS = 10.0
DAY_SECONDS = 86_400.0


def last_access(speaker: Speaker) -> float:
    """Voice ID's LastAccessedAt, or the enrollment for a speaker never accessed since."""
    return speaker.last_accessed_at if speaker.last_accessed_at is not None else speaker.created_at


@dataclass(frozen=True)
class ExpireSpeakers:
    """The DomainTask (admin/maintenance.py) named ``expire``."""

    speakers: SpeakerDirectory
    retention_days: int
    clock: Callable[[], float]
    page_size: int = PAGE_SIZE

    @property
    def name(self) -> str:
        return EXPIRE

    def is_expired(self, speaker: Speaker, now: float) -> bool:
        return speaker.status is not SpeakerStatus.OPTED_OUT and (
            now - last_access(speaker) > self.retention_days * DAY_SECONDS)

    def run_page(self, domain_id: str, cursor: str | None, time_left: Callable[[], float]) -> PageDone:
        expired = 0
        while True:
            page = self.speakers.page(domain_id, self.page_size, cursor)
            now = self.clock()
            expired += sum(self._expire(speaker) for speaker in page.items if self.is_expired(speaker, now))
            cursor = page.next_position
            if cursor is None or time_left() < RESERVE_SECONDS:
                return PageDone(cursor, {"SpeakersExpired": expired})

    def _expire(self, speaker: Speaker) -> bool:
        """False when the speaker changed since it was listed (accessed, re-enrolled, opted out): it is not due."""
        try:
            self.speakers.delete(speaker)
        except SpeakerChangedError:
            return False
        return True

    def complete(self, domain_id: str) -> None:
        """Nothing to record: the next scheduled run starts over."""

    def fail(self, domain_id: str, message: str) -> None:
        """Nothing to record: the next scheduled run tries again (the workflow's failure is alarmed on)."""
