"""The ``reencrypt`` maintenance task: after UpdateDomain with a new KMS key, every voiceprint of the domain
(speakers' and fraudsters') is sealed again under the new key, a page at a time, while reads go on (a stored
voiceprint records the key that sealed it, and opens under either).

A pass walks the speakers, then the fraudsters, resealing each voiceprint not under the domain's current key (and
any left in plaintext by an earlier release). A writer that read the old key just before the change may still
write under it while the pass runs, so the task ends only after a whole pass found nothing to reseal: then every
voiceprint is under the new key, and the update is COMPLETED. When the new or the old key refuses (disabled,
pending deletion, not allowed), ``run_page`` raises ``KeyUnusableError``, and ``fail`` records FAILED with its
message; UpdateDomain with the same key retries. Pages are idempotent: a resealed record is skipped next time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..ports import DomainRegistry, VoiceprintCipher, VoiceprintVault
from ..shared.domain import EncryptionUpdateStatus
from .domains import end_reencryption
from .maintenance import REENCRYPT, PageDone, Passes

PAGE_SIZE = 100
RESERVE_SECONDS = 10.0  # kept for the last page's writes and the return


@dataclass(frozen=True)
class ReencryptVoiceprints:
    """The DomainTask (admin/maintenance.py) named ``reencrypt``."""

    domains: DomainRegistry
    vaults: Sequence[VoiceprintVault]  # the speaker store, the fraudster store
    cipher: VoiceprintCipher
    page_size: int = PAGE_SIZE

    @property
    def name(self) -> str:
        return REENCRYPT

    def run_page(self, domain_id: str, cursor: str | None, time_left: Callable[[], float]) -> PageDone:
        position = Passes.of(cursor)
        target = self.cipher.current_key(domain_id)  # KeyUnusableError when the new key refuses
        count = 0
        while True:
            vault = self.vaults[position.source]
            page = vault.voiceprint_keys(domain_id, self.page_size, position.after)
            resealed = [vault.reseal(stored)  # KeyUnusableError when the old key refuses
                        for stored in page.items if stored.key_arn != target]
            count += sum(resealed)
            following = position.following(page.next_position, bool(resealed), len(self.vaults))
            if following is None or time_left() < RESERVE_SECONDS:
                return PageDone(following.to_cursor() if following else None, {"VoiceprintsResealed": count})
            position = following

    def complete(self, domain_id: str) -> None:
        end_reencryption(self.domains, domain_id, EncryptionUpdateStatus.COMPLETED)

    def fail(self, domain_id: str, message: str) -> None:
        end_reencryption(self.domains, domain_id, EncryptionUpdateStatus.FAILED, message)
