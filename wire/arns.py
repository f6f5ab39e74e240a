"""Pinpoint ARNs: built for responses, parsed for the tag operations."""

from __future__ import annotations

from dataclasses import dataclass

from openpoint.errors import BadRequest
from openpoint.settings import Settings

# Resource kinds under an app, as they appear in ARNs.
APP_RESOURCES = ("campaigns", "segments", "journeys")


@dataclass(frozen=True)
class Arn:
    kind: str  # apps | campaigns | segments | journeys | templates | recommenders
    app_id: str | None
    resource_id: str | None  # campaign/segment/journey id, "name/TYPE" for templates

    def render(self, settings: Settings) -> str:
        prefix = f"arn:aws:mobiletargeting:{settings.region}:{settings.account_id}:"
        if self.kind == "apps":
            return f"{prefix}apps/{self.app_id}"
        if self.kind in APP_RESOURCES:
            return f"{prefix}apps/{self.app_id}/{self.kind}/{self.resource_id}"
        return f"{prefix}{self.kind}/{self.resource_id}"


def app_arn(settings: Settings, app_id: str) -> str:
    return Arn("apps", app_id, None).render(settings)


def parse(arn: str) -> Arn:
    """Any region and account are accepted: a client migrating from AWS keeps its ARNs' shape."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "mobiletargeting":
        raise BadRequest(f"Invalid value for ResourceArn: '{arn}' is not a Pinpoint ARN.")
    path = parts[5].split("/")
    if path[0] == "apps" and len(path) == 2 and path[1]:
        return Arn("apps", path[1], None)
    if path[0] == "apps" and len(path) == 4 and path[2] in APP_RESOURCES and path[3]:
        return Arn(path[2], path[1], path[3])
    if path[0] == "templates" and len(path) == 3 and path[1] and path[2]:
        return Arn("templates", None, f"{path[1]}/{path[2]}")
    if path[0] == "recommenders" and len(path) == 2 and path[1]:
        return Arn("recommenders", None, path[1])
    raise BadRequest(f"Invalid value for ResourceArn: '{arn}' names no taggable Pinpoint resource.")
