"""PhoneNumberValidate through boto3: numbers of several countries and types, and junk."""

from __future__ import annotations

from typing import Any

import pytest

from tests.stack import Stack


def _validate(pinpoint: Any, **request: str) -> dict[str, Any]:
    return pinpoint.phone_number_validate(NumberValidateRequest=request)["NumberValidateResponse"]  # type: ignore[no-any-return]


def test_us_mobile(pinpoint: Any) -> None:
    out = _validate(pinpoint, PhoneNumber="+1 206-555-0142")
    assert out == {
        "OriginalPhoneNumber": "+1 206-555-0142",
        "PhoneType": "MOBILE",
        "PhoneTypeCode": 0,
        "CleansedPhoneNumberE164": "+12065550142",
        "CleansedPhoneNumberNational": "2065550142",
        "CountryCodeNumeric": "1",
        "CountryCodeIso2": "US",
        "Country": "United States",
    }


def test_national_number_with_country(pinpoint: Any) -> None:
    out = _validate(pinpoint, PhoneNumber="020 7946 0958", IsoCountryCode="GB")
    assert out["OriginalCountryCodeIso2"] == "GB"
    assert out["CleansedPhoneNumberE164"] == "+442079460958"
    assert (out["PhoneType"], out["PhoneTypeCode"]) == ("LANDLINE", 1)
    assert (out["City"], out["Timezone"]) == ("London", "Europe/London")


@pytest.mark.parametrize(
    ("number", "iso2", "phone_type", "code"),
    [
        ("+33612345678", "FR", "MOBILE", 0),
        ("+33912345678", "FR", "VOIP", 2),
        ("+4915112345678", "DE", "MOBILE", 0),
        ("+81312345678", "JP", "LANDLINE", 1),
        ("+919812345678", "IN", "MOBILE", 0),
        ("+18005550199", "US", "OTHER", 4),
    ],
)
def test_countries_and_types(pinpoint: Any, number: str, iso2: str, phone_type: str, code: int) -> None:
    out = _validate(pinpoint, PhoneNumber=number)
    assert (out["CountryCodeIso2"], out["PhoneType"], out["PhoneTypeCode"]) == (iso2, phone_type, code)
    assert out["CleansedPhoneNumberE164"] == number


def test_mobile_carrier(pinpoint: Any) -> None:
    assert _validate(pinpoint, PhoneNumber="+4915112345678")["Carrier"] == "T-Mobile"


@pytest.mark.parametrize("number", ["not a phone", "12", "2065550142", "+999 123", "☎️" * 300])
def test_junk_is_invalid_not_an_error(pinpoint: Any, number: str) -> None:
    out = _validate(pinpoint, PhoneNumber=number)
    assert (out["PhoneType"], out["PhoneTypeCode"]) == ("INVALID", 3)
    assert out["OriginalPhoneNumber"] == number
    assert "Carrier" not in out


def test_missing_number(pinpoint: Any) -> None:
    with pytest.raises(pinpoint.exceptions.BadRequestException, match="NumberValidateRequest.PhoneNumber"):
        _validate(pinpoint, IsoCountryCode="US")


def test_key_limited_to_a_project_may_validate(stack: Stack, app_id: str) -> None:
    client = stack.client(key=stack.add_key([app_id]))
    assert _validate(client, PhoneNumber="+12065550142")["PhoneType"] == "MOBILE"
