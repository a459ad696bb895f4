"""The emulated KMS honours key state, as AWS KMS does and moto does not: a cryptographic operation with a key that
is disabled answers ``DisabledException``, with one pending deletion (or in another unusable state)
``KMSInvalidStateException``; Encrypt and GenerateDataKey with a key that is not a symmetric encryption key answer
``InvalidKeyUsageException``. Both the local runtime and the tests' moto (``mock_aws``) use it: it patches moto's
KMS backend class, so every KMS backend of the process (server or in-process mock) is strict while it is installed.

The operations covered: Encrypt, Decrypt, ReEncrypt (source and destination), GenerateDataKey (with and without
plaintext), GenerateMac, VerifyMac, Sign, Verify.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.kms.models import Key, KmsBackend

ENABLED = "Enabled"
SYMMETRIC = "SYMMETRIC_DEFAULT"
ENCRYPT_DECRYPT = "ENCRYPT_DECRYPT"


class _Installation:
    """How many installs are open, and moto's own methods to restore after the last."""

    lock = threading.Lock()
    count = 0
    originals: dict[str, Callable[..., Any]] = {}  # noqa: RUF012 (one per process, never shared by instances)


class DisabledException(JsonRESTError):
    code = 400

    def __init__(self, key: Key) -> None:
        super().__init__("DisabledException", f"{key.arn} is disabled.")


class KMSInvalidStateException(JsonRESTError):
    code = 400

    def __init__(self, key: Key) -> None:
        state = "pending deletion" if key.key_state == "PendingDeletion" else key.key_state
        super().__init__("KMSInvalidStateException", f"{key.arn} is {state}.")


class InvalidKeyUsageException(JsonRESTError):
    code = 400

    def __init__(self, key: Key, operation: str) -> None:
        super().__init__("InvalidKeyUsageException", f"{key.arn} key usage is {key.key_usage} and key spec is "
                                                     f"{key.key_spec}, which is not valid for {operation}.")


def check_state(key: Key) -> None:
    """What KMS answers for a cryptographic operation with `key` in its current state."""
    if key.key_state == ENABLED:
        return
    if key.key_state == "Disabled":
        raise DisabledException(key)
    raise KMSInvalidStateException(key)


def _key(backend: KmsBackend, key_id: str) -> Key:
    return backend.keys[backend.any_id_to_key_id(key_id)]


def _encrypt(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def encrypt(self: KmsBackend, key_id: str, *args: Any, **kwargs: Any) -> Any:
        key = _key(self, key_id)
        check_state(key)
        if key.key_spec != SYMMETRIC or (key.key_usage or ENCRYPT_DECRYPT) != ENCRYPT_DECRYPT:  # moto: None = default
            raise InvalidKeyUsageException(key, "Encrypt")
        return original(self, key_id, *args, **kwargs)
    return encrypt


def _decrypt(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def decrypt(self: KmsBackend, *args: Any, **kwargs: Any) -> Any:
        plaintext, arn = original(self, *args, **kwargs)  # which key the ciphertext names is known only now
        check_state(_key(self, arn))
        return plaintext, arn
    return decrypt


def _keyed(original: Callable[..., Any], argument: str) -> Callable[..., Any]:
    """An operation whose key is the keyword or positional argument `argument` (GenerateMac, Sign, Verify)."""
    position = original.__code__.co_varnames.index(argument)

    @functools.wraps(original)
    def operation(self: KmsBackend, *args: Any, **kwargs: Any) -> Any:
        key_id = kwargs[argument] if argument in kwargs else args[position - 1]
        check_state(_key(self, key_id))
        return original(self, *args, **kwargs)
    return operation


def _patches() -> dict[str, Callable[..., Any]]:
    return {
        "encrypt": _encrypt(KmsBackend.encrypt),  # also GenerateDataKey and ReEncrypt's destination
        "decrypt": _decrypt(KmsBackend.decrypt),  # also ReEncrypt's source
        "generate_mac": _keyed(KmsBackend.generate_mac, "key_id"),  # also VerifyMac
        "sign": _keyed(KmsBackend.sign, "key_id"),
        "verify": _keyed(KmsBackend.verify, "key_id"),
    }


def install() -> None:
    """Make moto's KMS honour key state (nested installs are counted; the last uninstall restores moto)."""
    with _Installation.lock:
        if _Installation.count == 0:
            for name, patched in _patches().items():
                _Installation.originals[name] = getattr(KmsBackend, name)
                setattr(KmsBackend, name, patched)
        _Installation.count += 1


def uninstall() -> None:
    with _Installation.lock:
        if _Installation.count == 0:
            return
        _Installation.count -= 1
        if _Installation.count == 0:
            for name, original in _Installation.originals.items():
                setattr(KmsBackend, name, original)
            _Installation.originals.clear()


@contextmanager
def key_state_enforced() -> Iterator[None]:
    install()
    try:
        yield
    finally:
        uninstall()
