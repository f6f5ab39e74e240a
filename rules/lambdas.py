"""Lambda function references, as Pinpoint takes them in a custom channel's `DeliveryUri`, a
journey CUSTOM activity's `DeliveryUri` and a `CampaignHook.LambdaFunctionName`.

Lambda's Invoke takes a function by name (`my-function`, `my-function:alias`), by partial ARN
(`123456789012:function:my-function`) or by ARN
(`arn:aws:lambda:us-west-2:123456789012:function:my-function[:alias]`). OpenPoint passes the
reference on unchanged (so an alias or version stays pinned) and reads the region and partition
from an ARN: a function is invoked in its own region, and one in another partition (aws-cn,
aws-us-gov) than the credentials OpenPoint holds could never be reached, so it is refused when
the campaign or journey is written, not when it runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from openpoint.errors import BadRequest

# What a project may hold for its functions (`openpoint channels credentials ... --channel CUSTOM`),
# stored encrypted with the CUSTOM channel's secrets.
CREDENTIAL_NAMES = (
    "LambdaAccessKeyId",
    "LambdaSecretAccessKey",
    "LambdaSessionToken",
    "LambdaRegion",
    "LambdaRoleArn",
    "LambdaExternalId",
)
_NAME = r"[A-Za-z0-9_-]{1,64}"
_QUALIFIER = r"(?:\$LATEST|[A-Za-z0-9_-]{1,128})"
_BY_NAME = re.compile(rf"(?P<name>{_NAME})(?::(?P<qualifier>{_QUALIFIER}))?", re.ASCII)
_PARTIAL = re.compile(rf"(?P<account>\d{{12}}):function:(?P<name>{_NAME})(?::(?P<qualifier>{_QUALIFIER}))?", re.ASCII)
_ARN = re.compile(
    rf"arn:(?P<partition>aws(?:-[a-z]+)*):lambda:(?P<region>[a-z]{{2}}(?:-[a-z]+)+-\d):(?P<account>\d{{12}})"
    rf":function:(?P<name>{_NAME})(?::(?P<qualifier>{_QUALIFIER}))?",
    re.ASCII,
)


@dataclass(frozen=True)
class FunctionRef:
    """A Lambda function as the user named it; `reference` is what Invoke gets."""

    reference: str
    name: str
    qualifier: str | None = None
    region: str | None = None  # from an ARN: the function is invoked there
    partition: str | None = None
    account: str | None = None


def function_ref(text: str) -> FunctionRef | None:
    """The function `text` names, or None when it names none (an https:// URL, a bad ARN)."""
    if text.startswith("arn:"):
        m = _ARN.fullmatch(text)
        if m is None:
            return None
        return FunctionRef(text, m["name"], m["qualifier"], m["region"], m["partition"], m["account"])
    m = _PARTIAL.fullmatch(text) or _BY_NAME.fullmatch(text)
    if m is None:
        return None
    return FunctionRef(text, m["name"], m["qualifier"], account=m.groupdict().get("account"))


def is_https(text: str) -> bool:
    parts = urlsplit(text)
    return parts.scheme == "https" and bool(parts.hostname)


def check_delivery_uri(uri: Any, field: str) -> None:
    """A custom channel's destination: an https:// webhook or a Lambda function."""
    if not isinstance(uri, str) or not uri:
        raise BadRequest(f"Missing required member {field}: a custom channel needs a DeliveryUri.")
    if is_https(uri) or function_ref(uri) is not None:
        return
    if uri.startswith("arn:"):
        raise BadRequest(
            f"Invalid value for {field}: '{uri[:200]}' is not a Lambda function ARN "
            "(arn:<partition>:lambda:<region>:<account>:function:<name>[:<alias or version>])."
        )
    raise BadRequest(
        f"Invalid value for {field}: '{uri[:200]}' is neither an https:// URL nor a Lambda function name or ARN."
    )


def check_function_name(name: Any, field: str) -> None:
    """A CampaignHook's LambdaFunctionName: a function name or ARN."""
    if not isinstance(name, str) or function_ref(name) is None:
        raise BadRequest(f"Invalid value for {field}: '{str(name)[:200]}' is not a Lambda function name or ARN.")


def function_refs(document: dict[str, Any], field: str) -> list[tuple[str, FunctionRef]]:
    """(field path, function) of every Lambda function a campaign request, a journey request or
    application settings name, for the checks that need the server's configuration."""
    found: list[tuple[str, FunctionRef]] = []

    def add(path: str, value: Any) -> None:
        ref = function_ref(value) if isinstance(value, str) and not is_https(value) else None
        if ref is not None:
            found.append((path, ref))

    add(f"{field}.Hook.LambdaFunctionName", (document.get("Hook") or {}).get("LambdaFunctionName"))
    add(f"{field}.CampaignHook.LambdaFunctionName", (document.get("CampaignHook") or {}).get("LambdaFunctionName"))
    add(
        f"{field}.CustomDeliveryConfiguration.DeliveryUri",
        (document.get("CustomDeliveryConfiguration") or {}).get("DeliveryUri"),
    )
    for i, treatment in enumerate(document.get("AdditionalTreatments") or []):
        custom = (treatment or {}).get("CustomDeliveryConfiguration") or {}
        add(f"{field}.AdditionalTreatments[{i}].CustomDeliveryConfiguration.DeliveryUri", custom.get("DeliveryUri"))
    for activity_id, activity in sorted((document.get("Activities") or {}).items()):
        custom = (activity or {}).get("CUSTOM") or {}
        add(f"{field}.Activities.{activity_id}.CUSTOM.DeliveryUri", custom.get("DeliveryUri"))
    return found


def check_partition(document: dict[str, Any], field: str, partition: str) -> None:
    """Refuse a function ARN in another partition than the one OpenPoint's credentials are for."""
    for path, ref in function_refs(document, field):
        if ref.partition is not None and ref.partition != partition:
            raise BadRequest(
                f"Invalid value for {path}: the function is in the {ref.partition} partition; "
                f"OpenPoint invokes functions in the {partition} partition."
            )
