"""What the stores (ports) report when a conditional write loses or a limit holds: conflicts every context
shares. The workflow turns them into per-request results, the admin API into Voice ID exceptions."""

from __future__ import annotations


class AudioFetchError(Exception):
    """An audio object could not be read; the message says which and why."""


class SpeakerQuotaExceededError(Exception):
    pass


class SpeakerChangedError(Exception):
    """Another writer changed the speaker first; read it again and decide again."""


class DomainChangedError(Exception):
    """The domain changed (or went away) since it was read; read it again and decide again."""


class QuotaExceededError(Exception):
    """A count limit would be passed (watchlists per domain, fraudsters per watchlist)."""


class WatchlistNotEmptyError(Exception):
    """A watchlist still has fraudsters, so it cannot be deleted."""


class WatchlistGoneError(Exception):
    """A watchlist the write needs no longer exists."""


class FraudsterChangedError(Exception):
    """Another writer changed (or deleted) the fraudster first; read it again and decide again."""


class ClientTokenReusedError(Exception):
    """The same ClientToken was used for a different request."""


class KeyUnusableError(Exception):
    """A domain's KMS key refused to protect or reveal voiceprints: disabled, pending deletion, gone, not a
    symmetric encryption key, or not usable by this service (its key policy). Nothing was written in plaintext.
    ``reason`` is KMS's answer (``DisabledException``, ``KMSInvalidStateException``, ``NotFoundException``,
    ``AccessDeniedException``, ``InvalidKeyUsageException``, ...); the message is fit for the domain's owner."""

    def __init__(self, key_id: str, reason: str, message: str) -> None:
        super().__init__(message)
        self.key_id = key_id
        self.reason = reason
