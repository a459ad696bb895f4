"""Speakers (pk DomainId, sk CustomerSpeakerId; keys-only GSI GeneratedSpeakerIdKeys) and the domain's speaker count.

The count has no hot item. It is spread over `COUNT_SLOTS` slot items in the speaker table's domain partition
(sort keys ``#count#00``…, which sort before every CustomerSpeakerId and have no GeneratedSpeakerId, so neither
listings nor the index see them). A new speaker is written in one transaction with +1 on a random slot whose
count is under its share of the quota; a full slot sends the writer to the next one, and the domain is full only
when every slot is. So the quota holds exactly, and concurrent enrollments of one domain meet on the same item
only one time in `COUNT_SLOTS`. The speaker item remembers its slot (``CountSlot``), which its deletion decrements.
Speakers counted by the first release (on the domain item's ``SpeakerCount``) stay counted there.
"""

from __future__ import annotations

import random
import re
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from ...domain.shared.errors import SpeakerChangedError, SpeakerQuotaExceededError
from ...domain.shared.ids import is_generated_id
from ...domain.shared.paging import Page
from ...domain.shared.sealed import StoredVoiceprint
from ...domain.shared.speaker import Speaker
from ..codecs import SpeakerCodec, from_item, to_item
from .base import CONFLICTS, ConflictRetries, cancelled_by_condition, collect, condition_failed, set_or_remove, values

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

    from ...domain.ports import VoiceprintCipher
    from .base import Attributes

# Speakers GSIs, both pk DomainId, sk GeneratedSpeakerId. The keys-only one replaces the first releases' index, which
# projected every attribute (a second copy of every voiceprint); a deployment being upgraded has the old one until
# its keys-only index is ACTIVE (README "Upgrading"), and `find` reads it meanwhile.
GENERATED_SPEAKER_ID_INDEX = "GeneratedSpeakerIdKeys"
LEGACY_GENERATED_SPEAKER_ID_INDEX = "GeneratedSpeakerId"
UNREADABLE_INDEX_CODES = frozenset({"ValidationException", "ResourceNotFoundException"})
# What listings read: the ids, the status and the times, and the version (a listed speaker may be deleted: expiry).
SPEAKER_SUMMARY = ("DomainId, CustomerSpeakerId, GeneratedSpeakerId, #status, CreatedAt, UpdatedAt, LastAccessedAt, "
                   "Version")
COUNT_SLOTS = 16
SLOT_PREFIX = "#count#"
FIRST_SPEAKER_ID = "0"  # CustomerSpeakerIds start with [a-zA-Z0-9]: the lowest is "0", above every slot key
KEY_ATTRIBUTES = ("DomainId", "CustomerSpeakerId")


def shares(room: int, slots: int = COUNT_SLOTS) -> list[int]:
    """`room` split over the slots as evenly as whole numbers allow (they add up to `room` exactly)."""
    room = max(0, room)
    return [room // slots + (1 if slot < room % slots else 0) for slot in range(slots)]


def _unreadable_index(error: ClientError, index: str) -> bool:
    """DynamoDB's answer to a Query of an index that does not exist ("The table does not have the specified index:
    <name>") or is still being created ("Cannot read from backfilling global secondary index: <name>"); moto answers
    the former with ResourceNotFoundException "Invalid index: <name> for table: ...". Only a refusal naming the
    index counts: any other error is the query's own."""
    response = error.response["Error"]
    return response.get("Code") in UNREADABLE_INDEX_CODES and bool(
        re.search(rf": {re.escape(index)}\b", response.get("Message", "")))


class DynamoSpeakerStore:
    """Voiceprints are sealed under the domain's key by `cipher` (codecs.VoiceprintFields): never stored in
    plaintext."""

    def __init__(self, client: DynamoDBClient, speakers_table: str, domains_table: str, cipher: VoiceprintCipher,
                 *, conflicts: ConflictRetries = CONFLICTS, count_slots: int = COUNT_SLOTS) -> None:
        self._codec = SpeakerCodec(cipher)
        self._db = client
        self._table = speakers_table
        self._domains = domains_table
        self._conflicts = conflicts
        self._slots = count_slots

    def _key(self, domain_id: str, sort_key: str) -> Attributes:
        return {"DomainId": {"S": domain_id}, "CustomerSpeakerId": {"S": sort_key}}

    def _raw(self, domain_id: str, customer_speaker_id: str) -> Attributes | None:
        return self._db.get_item(
            TableName=self._table, ConsistentRead=True, Key=self._key(domain_id, customer_speaker_id),
        ).get("Item")

    def get(self, domain_id: str, customer_speaker_id: str) -> Speaker | None:
        item = self._raw(domain_id, customer_speaker_id)
        return self._codec.decode(from_item(item)) if item else None

    def find(self, domain_id: str, speaker_id: str) -> Speaker | None:
        if not is_generated_id(speaker_id):
            return self.get(domain_id, speaker_id)
        try:
            found = self._customer_speaker_ids(GENERATED_SPEAKER_ID_INDEX, domain_id, speaker_id)
        except ClientError as error:
            if not _unreadable_index(error, GENERATED_SPEAKER_ID_INDEX):
                raise
            found = self._customer_speaker_ids(LEGACY_GENERATED_SPEAKER_ID_INDEX, domain_id, speaker_id)
        # The index is eventually consistent: read the speaker itself for its current state.
        return self.get(domain_id, found[0]) if found else None

    def _customer_speaker_ids(self, index: str, domain_id: str, generated_speaker_id: str) -> list[str]:
        items = self._db.query(
            TableName=self._table, IndexName=index, ProjectionExpression="CustomerSpeakerId",
            KeyConditionExpression="DomainId = :d AND GeneratedSpeakerId = :g",
            ExpressionAttributeValues=values(d=domain_id, g=generated_speaker_id),
        )["Items"]
        return [item["CustomerSpeakerId"]["S"] for item in items]

    def page(self, domain_id: str, limit: int, after: str | None) -> Page[Speaker]:
        items, last = collect(
            self._db.query, limit, self._key(domain_id, after) if after else None, TableName=self._table,
            KeyConditionExpression="DomainId = :d AND CustomerSpeakerId >= :first",
            ExpressionAttributeValues=values(d=domain_id, first=FIRST_SPEAKER_ID),
            ProjectionExpression=SPEAKER_SUMMARY, ExpressionAttributeNames={"#status": "Status"},
        )
        return Page([self._codec.decode(from_item(i)) for i in items], last["CustomerSpeakerId"]["S"] if last else None)

    # ---------------------------------------------------------------------------------------- the count

    def count(self, domain_id: str) -> int:
        """The speakers counted against the domain's quota."""
        return self._legacy_count(domain_id) + sum(self._slot_counts(domain_id))

    def _legacy_count(self, domain_id: str) -> int:
        item = self._db.get_item(TableName=self._domains, Key={"DomainId": {"S": domain_id}}, ConsistentRead=True,
                                 ProjectionExpression="SpeakerCount").get("Item")
        return int(item["SpeakerCount"]["N"]) if item and "SpeakerCount" in item else 0

    def _slot_counts(self, domain_id: str) -> list[int]:
        pages = self._db.get_paginator("query").paginate(
            TableName=self._table, ConsistentRead=True, ProjectionExpression="#c",
            KeyConditionExpression="DomainId = :d AND begins_with(CustomerSpeakerId, :slot)",
            ExpressionAttributeNames={"#c": "Count"}, ExpressionAttributeValues=values(d=domain_id, slot=SLOT_PREFIX),
        )
        return [int(item["Count"]["N"]) for page in pages for item in page["Items"] if "Count" in item]

    def _slot_change(self, domain_id: str, slot: int, change: int, share: int = 0) -> TransactWriteItemTypeDef:
        update: TransactWriteItemTypeDef = {"Update": {
            "TableName": self._table, "Key": self._key(domain_id, f"{SLOT_PREFIX}{slot:02d}"),
            "UpdateExpression": "ADD #c :change", "ExpressionAttributeNames": {"#c": "Count"},
            "ExpressionAttributeValues": values(change=change)}}
        if change > 0:  # room under the slot's share of the quota
            update["Update"]["ConditionExpression"] = "#c < :share OR (attribute_not_exists(#c) AND :share > :zero)"
            update["Update"]["ExpressionAttributeValues"] = values(change=change, share=share, zero=0)
        return update

    def _legacy_change(self, domain_id: str) -> TransactWriteItemTypeDef:
        return {"Update": {"TableName": self._domains, "Key": {"DomainId": {"S": domain_id}},
                           "UpdateExpression": "ADD SpeakerCount :minus_one",
                           "ExpressionAttributeValues": values(minus_one=-1)}}

    # ------------------------------------------------------------------------------------------ writes

    def create(self, speaker: Speaker, quota: int) -> None:
        domain_id = speaker.domain_id
        slot_shares = shares(quota - self._legacy_count(domain_id), self._slots)
        open_slots = [slot for slot, share in enumerate(slot_shares) if share > 0]
        for slot in random.sample(open_slots, len(open_slots)):
            put: TransactWriteItemTypeDef = {"Put": {
                "TableName": self._table, "Item": to_item(self._codec.encode(speaker) | {"CountSlot": slot}),
                "ConditionExpression": "attribute_not_exists(CustomerSpeakerId)"}}
            try:
                self._write_counted(put, self._slot_change(domain_id, slot, +1, slot_shares[slot]))
                return
            except ClientError as error:
                if cancelled_by_condition(error, 0):
                    raise SpeakerChangedError(speaker.customer_speaker_id) from None
                if not cancelled_by_condition(error, 1):
                    raise
        raise SpeakerQuotaExceededError(domain_id)

    def _write_counted(self, write: TransactWriteItemTypeDef, count: TransactWriteItemTypeDef) -> None:
        self._conflicts.run(lambda: self._db.transact_write_items(TransactItems=[write, count]))

    def put(self, speaker: Speaker) -> None:
        """Write a speaker record as is, uncounted (set-up and tests); enrollment uses create/replace."""
        self._db.put_item(TableName=self._table, Item=to_item(self._codec.encode(speaker)))

    def replace(self, speaker: Speaker, expected: Speaker) -> None:
        """Every attribute but the key and the count slot, over the expected version."""
        document = {k: v for k, v in self._codec.encode(speaker).items() if k not in KEY_ATTRIBUTES}
        expression, names, attribute_values = set_or_remove(document)
        try:
            self._conflicts.run(lambda: self._db.update_item(
                TableName=self._table, Key=self._key(speaker.domain_id, speaker.customer_speaker_id),
                UpdateExpression=expression, ConditionExpression="#v = :expected",
                ExpressionAttributeNames=names | {"#v": "Version"},
                ExpressionAttributeValues=attribute_values | values(expected=expected.version)))
        except ClientError as error:
            if condition_failed(error):
                raise SpeakerChangedError(speaker.customer_speaker_id) from None
            raise

    # ---------------------------------------------------------------------------------- re-encryption

    def voiceprint_keys(self, domain_id: str, limit: int, after: str | None) -> Page[StoredVoiceprint]:
        items, last = collect(
            self._db.query, limit, self._key(domain_id, after) if after else None, TableName=self._table,
            KeyConditionExpression="DomainId = :d AND CustomerSpeakerId >= :first",
            FilterExpression="attribute_exists(SealedVoiceprint) OR attribute_exists(Voiceprint)",
            ProjectionExpression="CustomerSpeakerId, VoiceprintKeyArn, Version",
            ExpressionAttributeValues=values(d=domain_id, first=FIRST_SPEAKER_ID),
        )
        stored = [StoredVoiceprint(domain_id, i["CustomerSpeakerId"]["S"], i.get("VoiceprintKeyArn", {}).get("S"),
                                   int(i.get("Version", {}).get("N", "0"))) for i in items]
        return Page(stored, last["CustomerSpeakerId"]["S"] if last else None)

    def reseal(self, stored: StoredVoiceprint) -> bool:
        speaker = self.get(stored.domain_id, stored.record_key)
        if speaker is None or speaker.version != stored.version:
            return False
        try:
            self.replace(speaker, speaker)  # encoding seals under the current key; the version stays
        except SpeakerChangedError:
            return False
        return True

    def delete(self, speaker: Speaker) -> None:
        stored = self._raw(speaker.domain_id, speaker.customer_speaker_id)
        slot = int(stored["CountSlot"]["N"]) if stored and "CountSlot" in stored else None
        # The slot read above must still be the speaker's: a speaker deleted and made again meanwhile may have
        # another one (its Version starts again).
        slot_condition = "CountSlot = :slot" if slot is not None else "attribute_not_exists(CountSlot)"
        slot_value = values(slot=slot) if slot is not None else {}
        delete: TransactWriteItemTypeDef = {"Delete": {
            "TableName": self._table, "Key": self._key(speaker.domain_id, speaker.customer_speaker_id),
            "ConditionExpression": f"Version = :v AND {slot_condition}",
            "ExpressionAttributeValues": values(v=speaker.version) | slot_value}}
        uncount = (self._legacy_change(speaker.domain_id) if slot is None
                   else self._slot_change(speaker.domain_id, slot, -1))
        try:
            self._write_counted(delete, uncount)
        except ClientError as error:
            if cancelled_by_condition(error, 0):
                raise SpeakerChangedError(speaker.customer_speaker_id) from None
            raise
