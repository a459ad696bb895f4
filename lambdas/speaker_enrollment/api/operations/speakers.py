"""DescribeSpeaker, ListSpeakers, DeleteSpeaker, OptOutSpeaker. SpeakerId is the CustomerSpeakerId or the
GeneratedSpeakerId, as in Voice ID; a domain only ever sees its own speakers."""

from __future__ import annotations

from typing import Any

from ..services import ApiServices
from .paging import listing


def describe_speaker(services: ApiServices, params: dict[str, Any]) -> dict[str, Any]:
    domain = services.domain_admin.describe(params["DomainId"])
    return {"Speaker": services.speaker_admin.describe(domain.domain_id, params["SpeakerId"]).to_api()}


def list_speakers(services: ApiServices, params: dict[str, Any]) -> dict[str, Any]:
    domain = services.domain_admin.describe(params["DomainId"])
    items, token = listing(services, "ListSpeakers", params,
                           lambda limit, after: services.speaker_admin.page(domain.domain_id, limit, after))
    return {"SpeakerSummaries": [speaker.to_api() for speaker in items], "NextToken": token}


def delete_speaker(services: ApiServices, params: dict[str, Any]) -> dict[str, Any]:
    domain = services.domain_admin.describe(params["DomainId"])
    services.speaker_admin.delete(domain.domain_id, params["SpeakerId"])
    return {}


def opt_out_speaker(services: ApiServices, params: dict[str, Any]) -> dict[str, Any]:
    domain = services.domain_admin.describe(params["DomainId"])
    return {"Speaker": services.speaker_admin.opt_out(domain.domain_id, params["SpeakerId"]).to_api()}


OPERATIONS = {
    "DescribeSpeaker": describe_speaker,
    "ListSpeakers": list_speakers,
    "DeleteSpeaker": delete_speaker,
    "OptOutSpeaker": opt_out_speaker,
}
