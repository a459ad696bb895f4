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

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..ports import DomainRegistry, VoiceprintCipher, VoiceprintVault
from ..shared.domain import EncryptionUpdateStatus
from .domains import REENCRYPT, end_reencryption

PAGE_SIZE = 100
RESERVE_SECONDS = 10.0  # kept for the last page's writes and the return


@dataclass(frozen=True)
class _Position:
    vault: int = 0  # index into the task's vaults (speakers, then fraudsters)
    after: str | None = None
    resealed: bool = False  # whether this pass resealed anything so far

    def to_cursor(self) -> str:
        return json.dumps({"vault": self.vault, "after": self.after, "resealed": self.resealed})

    @classmethod
    def of(cls, cursor: str | None) -> _Position:
        if cursor is None:
            return cls()
        data = json.loads(cursor)
        return cls(int(data["vault"]), data.get("after"), bool(data.get("resealed")))


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

    def run_page(self, domain_id: str, cursor: str | None, time_left: Callable[[], float]) -> str | None:
        position = _Position.of(cursor)
        target = self.cipher.current_key(domain_id)  # KeyUnusableError when the new key refuses
        while True:
            page = self.vaults[position.vault].voiceprint_keys(domain_id, self.page_size, position.after)
            resealed = False
            for stored in page.items:
                if stored.key_arn != target:
                    self.vaults[position.vault].reseal(stored)  # KeyUnusableError when the old key refuses
                    resealed = True
            following = self._next(position, page.next_position, resealed)
            if following is None:
                return None
            if time_left() < RESERVE_SECONDS:
                return following.to_cursor()
            position = following

    def _next(self, position: _Position, after: str | None, resealed: bool) -> _Position | None:
        """Where to go on from; None when a whole pass found nothing to reseal."""
        resealed = resealed or position.resealed
        if after is not None:
            return _Position(position.vault, after, resealed)
        if position.vault + 1 < len(self.vaults):
            return _Position(position.vault + 1, None, resealed)
        return _Position() if resealed else None  # another pass, to catch writers that used the old key

    def complete(self, domain_id: str) -> None:
        end_reencryption(self.domains, domain_id, EncryptionUpdateStatus.COMPLETED)

    def fail(self, domain_id: str, message: str) -> None:
        end_reencryption(self.domains, domain_id, EncryptionUpdateStatus.FAILED, message)
