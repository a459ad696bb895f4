"""For tests that change where the ``voice-id`` model comes from (hide botocore's copy, extend the shipped one)."""

from __future__ import annotations

from enrollctl import voiceid_commands
from speaker_enrollment.api import model as api_model


def forget_loaded_models() -> None:
    """Drop every cached ``voice-id`` model (the API's, ``enrollctl``'s commands and paginators), so the next
    use loads it again from wherever it is then."""
    api_model.service_model.cache_clear()
    voiceid_commands.service_model.cache_clear()
    voiceid_commands.paginator_model.cache_clear()
