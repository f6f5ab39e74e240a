"""PhoneNumberValidate: what the numbering plans say about a phone number (rules/phone.py).
The operation belongs to the account, not to a project, so any valid key may call it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.operations import Call, pinpoint
from openpoint.errors import BadRequest
from rules.phone import validate_number

router = APIRouter(tags=["phone"])
FIELD = "NumberValidateRequest"


@pinpoint(router, "PhoneNumberValidate")
async def phone_number_validate(call: Call) -> dict[str, Any]:
    number = call.body.get("PhoneNumber")
    if number is None:
        raise BadRequest(f"Missing required member {FIELD}.PhoneNumber.")
    return validate_number(number, call.body.get("IsoCountryCode"))
