"""The provider credentials a project may hold beyond what Pinpoint's channel requests carry
(`openpoint channels credentials` and the console's Channels page): which names each channel
takes, and the checks made before anything is stored. Pure: no I/O."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from rules.lambdas import CREDENTIAL_NAMES

# Its own SMTP relay, its own Twilio account; CUSTOM holds the AWS credentials for the project's
# Lambda functions (custom channels, journey custom activities, campaign hooks); unset, the
# environment's are used. Stored encrypted with the channel's other secrets.
EXTRA_CREDENTIALS: dict[str, tuple[str, ...]] = {
    "EMAIL": ("SmtpUrl",),
    "SMS": ("TwilioAccountSid", "TwilioAuthToken"),
    "VOICE": ("TwilioAccountSid", "TwilioAuthToken"),
    "CUSTOM": CREDENTIAL_NAMES,
}
# What is not a secret and may be shown back (a Twilio account's SID is its public name).
SHOWN = frozenset({"TwilioAccountSid", "LambdaRegion", "LambdaRoleArn"})
SMTP_SCHEMES = ("smtp", "smtps", "smtp+starttls")

_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}", re.ASCII)


class CredentialsRefused(ValueError):
    """Why the credentials were not stored (the CLI prints it; the console shows it)."""


def check_credentials(channel: str, given: dict[str, str]) -> None:
    """Refuse names the channel does not take, a lone half of an AWS key pair, an IAM role ARN
    that is not one, and an SMTP URL of another scheme; nothing is stored on refusal."""
    allowed = EXTRA_CREDENTIALS.get(channel, ())
    unknown = [n for n in given if n not in allowed]
    if unknown:
        takes = ", ".join(f"{a}=..." for a in allowed) or "no extra credentials"
        raise CredentialsRefused(f"{channel} takes {takes}")
    if ("LambdaAccessKeyId" in given) != ("LambdaSecretAccessKey" in given):
        raise CredentialsRefused("LambdaAccessKeyId and LambdaSecretAccessKey go together")
    if "LambdaRoleArn" in given and not _ROLE_ARN.fullmatch(given["LambdaRoleArn"]):
        raise CredentialsRefused(f"LambdaRoleArn: '{given['LambdaRoleArn']}' is not an IAM role ARN")
    if "SmtpUrl" in given:
        scheme = urlsplit(given["SmtpUrl"]).scheme
        if scheme not in SMTP_SCHEMES:
            raise CredentialsRefused(
                f"an SMTP URL must be smtp://, smtps:// or smtp+starttls://, got {scheme or '(none)'}://"
            )
