"""Tag limits (Pinpoint quotas: 50 per resource, key <= 128, value <= 256, `aws:` reserved)."""

from __future__ import annotations

from openpoint.errors import BadRequest

MAX_TAGS = 50


def check_tags(tags: dict[str, str], field: str = "tags") -> None:
    if len(tags) > MAX_TAGS:
        raise BadRequest(f"Invalid value for {field}: a resource holds at most {MAX_TAGS} tags.")
    for key, value in tags.items():
        if not 1 <= len(key) <= 128:
            raise BadRequest(f"Invalid value for {field}: tag keys are 1 to 128 characters.")
        if key.lower().startswith("aws:"):
            raise BadRequest(f"Invalid value for {field}: the tag key prefix 'aws:' is reserved.")
        if len(value) > 256:
            raise BadRequest(f"Invalid value for {field}.{key}: tag values are at most 256 characters.")
