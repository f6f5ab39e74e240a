"""PhoneNumberValidate as a pure mapping from Google's libphonenumber (the `phonenumbers`
package, with its carrier, geocoder and timezone data) onto Pinpoint's NumberValidateResponse.

Pinpoint asks the carriers; libphonenumber knows the numbering plans. What that means here:
- PhoneType comes from the plan. Where a plan cannot tell mobile from fixed lines (the US and
  Canada, FIXED_LINE_OR_MOBILE) the number is reported MOBILE: it may receive SMS, which is
  what callers ask PhoneNumberValidate to find out. PREPAID is never reported (no plan says so).
- Carrier is the operator the number range was allocated to, where the plan data names one.
- City is the geocoder's place name when it is finer than the country; County and ZipCode are
  never known. Timezone is given when the number maps to exactly one zone.
- As Pinpoint does since 2024, numbers of the US and Canada get no City, County, Timezone or
  ZipCode.
- Input that cannot be read as a number is not an error: it answers PhoneType INVALID.
"""

from __future__ import annotations

import re
from typing import Any

import phonenumbers
from phonenumbers import PhoneNumber, PhoneNumberType, carrier, geocoder, timezone

# PhoneType -> PhoneTypeCode, as NumberValidateResponse documents them.
PHONE_TYPE_CODES = {"MOBILE": 0, "LANDLINE": 1, "VOIP": 2, "INVALID": 3, "OTHER": 4, "PREPAID": 5}

_PHONE_TYPES = {
    PhoneNumberType.MOBILE: "MOBILE",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "MOBILE",
    PhoneNumberType.FIXED_LINE: "LANDLINE",
    PhoneNumberType.VOIP: "VOIP",
}
_NO_LOCALITY = frozenset({"US", "CA"})
_E164 = re.compile(r"\+[1-9][0-9]{1,14}")
_LANG = "en"


def _parse(number: str, region: str | None) -> PhoneNumber | None:
    try:
        return phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return None


def is_e164(address: str) -> bool:
    """Written in E.164 (`+` and up to 15 digits) and of a length the country's plan allows.
    Ranges the plan has not assigned pass (test and fictional numbers are sent to as well)."""
    if not _E164.fullmatch(address):
        return False
    parsed = _parse(address, None)
    return parsed is not None and phonenumbers.is_possible_number(parsed)


def _type_of(parsed: PhoneNumber) -> str:
    if not phonenumbers.is_valid_number(parsed):
        return "INVALID"
    return _PHONE_TYPES.get(phonenumbers.number_type(parsed), "OTHER")


def _locality(parsed: PhoneNumber, country: str) -> dict[str, str]:
    city = geocoder.description_for_number(parsed, _LANG)
    zones = [z for z in timezone.time_zones_for_number(parsed) if z != timezone.UNKNOWN_TIMEZONE]
    return {
        "City": city if city and city != country else "",
        "Timezone": zones[0] if len(zones) == 1 else "",
    }


def validate_number(phone_number: str, iso_country_code: str | None) -> dict[str, Any]:
    """The NumberValidateResponse for a number as a user wrote it; `iso_country_code` is the
    country a number without a `+` prefix belongs to."""
    region = iso_country_code.strip().upper() if iso_country_code else None
    out: dict[str, Any] = {"OriginalPhoneNumber": phone_number, "OriginalCountryCodeIso2": iso_country_code}
    parsed = _parse(phone_number, region)
    phone_type = "INVALID" if parsed is None else _type_of(parsed)
    out.update(PhoneType=phone_type, PhoneTypeCode=PHONE_TYPE_CODES[phone_type])
    if parsed is None:
        return out
    iso2 = phonenumbers.region_code_for_number(parsed)
    country = geocoder.country_name_for_number(parsed, _LANG)
    out.update(
        CleansedPhoneNumberE164=phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164),
        CleansedPhoneNumberNational=phonenumbers.national_significant_number(parsed),
        CountryCodeNumeric=str(parsed.country_code),
        CountryCodeIso2=iso2,
        Country=country or None,
    )
    if phone_type == "INVALID":
        return out
    out["Carrier"] = carrier.name_for_number(parsed, _LANG) or None
    if iso2 not in _NO_LOCALITY:
        out.update({k: v for k, v in _locality(parsed, country).items() if v})
    return out
