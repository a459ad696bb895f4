"""Use of the customers' domain keys: the functions that seal or open voiceprints may ask KMS for data keys under
any key of this account and Region (each domain names its own key, chosen at run time by CreateDomain and
UpdateDomain), but only with the encryption context the voiceprint cipher uses, ``{"voiceid:DomainId": <id>}``
and nothing else (``speaker_enrollment.adapters.voiceprint_cipher``): the roles cannot decrypt data encrypted
under those keys with any other context, or none. The key's own policy must let them (the default key policy
delegates to IAM); see README "Domain keys"."""

from __future__ import annotations

from typing import Final

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from speaker_enrollment.adapters.voiceprint_cipher import DOMAIN_CONTEXT_KEY

from stacks.nag import acknowledge_wildcard

ACTIONS: Final = ("kms:GenerateDataKey", "kms:Decrypt")
NAG_TARGET: Final = "Resource::arn:<AWS::Partition>:kms:<AWS::Region>:<AWS::AccountId>:key/*"


def domain_key_statement(stack: Stack) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        sid="VoiceprintsUnderDomainKeys",
        actions=list(ACTIONS),
        resources=[stack.format_arn(service="kms", resource="key", resource_name="*")],
        conditions={
            "Null": {f"kms:EncryptionContext:{DOMAIN_CONTEXT_KEY}": "false"},
            "ForAllValues:StringEquals": {"kms:EncryptionContextKeys": [DOMAIN_CONTEXT_KEY]},
        },
    )


def grant_domain_keys(role: iam.Role) -> None:
    """Let `role` seal and open voiceprints under the domains' keys (GenerateDataKey, Decrypt)."""
    role.add_to_principal_policy(domain_key_statement(Stack.of(role)))
    acknowledge_wildcard(
        role, NAG_TARGET,
        "Each Voice ID domain names its own customer managed key (CreateDomain/UpdateDomain KmsKeyId), chosen at run "
        "time, so the keys are not known at deploy time. Limited to keys of this account and Region, to "
        "GenerateDataKey and Decrypt, and to requests whose encryption context has exactly the one key "
        "voiceid:DomainId (the voiceprint cipher's), so data encrypted under those keys with any other context (or "
        "none) cannot be decrypted; each key's policy must also allow it.",
    )
