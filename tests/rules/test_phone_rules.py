"""PhoneNumberValidate's mapping from the numbering plans, as plain functions."""

from __future__ import annotations

import pytest

from rules.phone import PHONE_TYPE_CODES, is_e164, validate_number


def test_type_codes_are_pinpoints() -> None:
    # NumberValidateResponse.PhoneTypeCode: 0 mobile, 1 landline, 2 VoIP, 3 invalid, 4 other, 5 prepaid.
    assert PHONE_TYPE_CODES == {"MOBILE": 0, "LANDLINE": 1, "VOIP": 2, "INVALID": 3, "OTHER": 4, "PREPAID": 5}


def test_us_number_has_no_locality() -> None:
    assert validate_number("+1 (206) 555-0142", None) == {
        "OriginalPhoneNumber": "+1 (206) 555-0142",
        "OriginalCountryCodeIso2": None,
        "PhoneType": "MOBILE",
        "PhoneTypeCode": 0,
        "CleansedPhoneNumberE164": "+12065550142",
        "CleansedPhoneNumberNational": "2065550142",
        "CountryCodeNumeric": "1",
        "CountryCodeIso2": "US",
        "Country": "United States",
        "Carrier": None,
    }


def test_london_landline_from_national_form() -> None:
    out = validate_number("020 7946 0958", "gb")
    assert out["OriginalCountryCodeIso2"] == "gb"
    assert out["CleansedPhoneNumberE164"] == "+442079460958"
    assert (out["PhoneType"], out["PhoneTypeCode"]) == ("LANDLINE", 1)
    assert (out["City"], out["Timezone"], out["Country"]) == ("London", "Europe/London", "United Kingdom")


def test_french_mobile_names_its_carrier() -> None:
    out = validate_number("+33612345678", None)
    assert (out["PhoneType"], out["PhoneTypeCode"], out["Carrier"]) == ("MOBILE", 0, "SFR")
    assert out["Timezone"] == "Europe/Paris"
    assert "City" not in out  # the geocoder only knows the country


@pytest.mark.parametrize(
    ("number", "phone_type", "code"),
    [
        ("+33912345678", "VOIP", 2),
        ("+18005550199", "OTHER", 4),  # toll free
        ("+81312345678", "LANDLINE", 1),
        ("+5511987654321", "MOBILE", 0),
    ],
)
def test_types(number: str, phone_type: str, code: int) -> None:
    out = validate_number(number, None)
    assert (out["PhoneType"], out["PhoneTypeCode"]) == (phone_type, code)


def test_several_time_zones_give_none() -> None:
    assert "Timezone" not in validate_number("+61412345678", None)


@pytest.mark.parametrize(("number", "country"), [("hello", None), ("", "US"), ("2065550142", None), ("1", "ZZ")])
def test_unreadable_input_is_invalid(number: str, country: str | None) -> None:
    assert validate_number(number, country) == {
        "OriginalPhoneNumber": number,
        "OriginalCountryCodeIso2": country,
        "PhoneType": "INVALID",
        "PhoneTypeCode": 3,
    }


def test_unassigned_number_is_invalid_but_cleansed() -> None:
    out = validate_number("+1 555 555 0100", None)
    assert (out["PhoneType"], out["PhoneTypeCode"]) == ("INVALID", 3)
    assert out["CleansedPhoneNumberE164"] == "+15555550100"
    assert "Carrier" not in out and "City" not in out


@pytest.mark.parametrize("address", ["+12065550142", "+15555550100", "+447700900123", "+33612345678"])
def test_e164_accepted(address: str) -> None:
    assert is_e164(address)


@pytest.mark.parametrize(
    "address", ["12065550142", "+1 206 555 0142", "+1206", "+0123456789", "hello", "+4412345678901234"]
)
def test_e164_refused(address: str) -> None:
    assert not is_e164(address)
