"""Voice ID's API (JSON 1.0, ``X-Amz-Target: VoiceID.<Operation>``), independent of the transport.

``VoiceIdApi(services).handle(target, body) -> ApiResponse(status, body)``; ``composition.api_from_env()`` builds it.
"""

from __future__ import annotations

from .dispatcher import CONTENT_TYPE, TARGET_PREFIX, ApiResponse, VoiceIdApi
from .services import ApiServices

__all__ = ["CONTENT_TYPE", "TARGET_PREFIX", "ApiResponse", "ApiServices", "VoiceIdApi"]
