"""The embedded local runtime: the synthesized stack emulated in-process under moto (no AWS, no Docker).

``from enrollctl.local import LocalRuntime`` (imported lazily: ``enrollctl jobs`` needs no moto server).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from enrollctl.local.runtime import LocalRuntime, RuntimeInfo

__all__ = ["LocalRuntime", "RuntimeInfo"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from enrollctl.local import runtime  # noqa: PLC0415 - lazy on purpose

        return getattr(runtime, name)
    raise AttributeError(name)
