"""Time-zone estimation for journeys: phone numbers, postal codes, the order of methods."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

import pytest

from rules.schedules import iana_zone
from rules.timezones import ALPHA3_TO_ALPHA2, country_zones, estimate_timezone

BOTH = ("PHONE_NUMBER", "POSTAL_CODE")


def sms(address: str, country: str | None = None) -> dict[str, Any]:
    return {"ChannelType": "SMS", "Address": address, "Location": {"Country": country} if country else {}}


def postal(country: str, code: str) -> dict[str, Any]:
    return {"ChannelType": "EMAIL", "Address": "a@example.com", "Location": {"Country": country, "PostalCode": code}}


class TestPhoneNumber:
    @pytest.mark.parametrize(
        ("address", "zone"),
        [
            ("+14155550100", "America/Los_Angeles"),
            ("+12125550100", "America/New_York"),
            ("+81312345678", "Asia/Tokyo"),
            ("+33612345678", "Europe/Paris"),
            ("+61212345678", "Australia/Sydney"),
        ],
    )
    def test_a_number_whose_range_has_one_zone(self, address: str, zone: str) -> None:
        assert estimate_timezone(sms(address), ["PHONE_NUMBER"]) == zone

    def test_the_country_reads_a_national_number(self) -> None:
        assert estimate_timezone(sms("(415) 555-0100", "US"), ["PHONE_NUMBER"]) == "America/Los_Angeles"
        assert estimate_timezone(sms("03-1234-5678", "JPN"), ["PHONE_NUMBER"]) == "Asia/Tokyo"

    def test_a_range_with_several_zones_takes_its_single_zone_countrys(self) -> None:
        # UK mobiles map to London, Guernsey, Jersey and the Isle of Man.
        assert estimate_timezone(sms("+447911123456", "GB"), ["PHONE_NUMBER"]) == "Europe/London"

    @pytest.mark.parametrize(
        "address",
        ["+18005550100", "+79161234567", "+15555550100", "not a number", "+1"],  # toll-free, Russia, unassigned
    )
    def test_a_number_that_does_not_tell_gives_none(self, address: str) -> None:
        assert estimate_timezone(sms(address), ["PHONE_NUMBER"]) is None

    @pytest.mark.parametrize("channel", ["EMAIL", "GCM", "APNS"])
    def test_only_sms_and_voice_addresses_are_phone_numbers(self, channel: str) -> None:
        endpoint = {**sms("+14155550100"), "ChannelType": channel}
        assert estimate_timezone(endpoint, ["PHONE_NUMBER"]) is None
        assert estimate_timezone({**endpoint, "ChannelType": "VOICE"}, ["PHONE_NUMBER"]) == "America/Los_Angeles"


class TestPostalCode:
    @pytest.mark.parametrize(
        ("country", "code", "zone"),
        [
            ("US", "10001", "America/New_York"),
            ("US", "94105", "America/Los_Angeles"),
            ("US", "60601", "America/Chicago"),
            ("US", "85001", "America/Phoenix"),
            ("US", "80202", "America/Denver"),
            ("US", "99501", "America/Anchorage"),
            ("US", "96813", "Pacific/Honolulu"),
            ("US", "00901", "America/Puerto_Rico"),
            ("US", "79901", "America/Denver"),  # El Paso, Texas
            ("US", "32501", "America/Chicago"),  # Pensacola, Florida
            ("US", "33101-1234", "America/New_York"),
            ("CA", "M5V 3L9", "America/Toronto"),
            ("CA", "h2x1y4", "America/Toronto"),
            ("CA", "V6B 1A1", "America/Vancouver"),
            ("CA", "X0A 0H0", "America/Iqaluit"),
            ("AU", "2000", "Australia/Sydney"),
            ("AU", "0800", "Australia/Darwin"),
            ("AU", "6000", "Australia/Perth"),
            ("AU", "2880", "Australia/Broken_Hill"),
            ("FR", "75001", "Europe/Paris"),
            ("GB", "SW1A 1AA", "Europe/London"),
            ("IT", "00118", "Europe/Rome"),
            ("JP", "100-0001", "Asia/Tokyo"),
            ("DE", "10115", "Europe/Berlin"),
            ("ES", "28001", "Europe/Madrid"),
            ("ES", "35001", "Atlantic/Canary"),
            ("NZ", "6011", "Pacific/Auckland"),
            ("NZ", "8942", "Pacific/Chatham"),
        ],
    )
    def test_known_codes(self, country: str, code: str, zone: str) -> None:
        assert estimate_timezone(postal(country, code), ["POSTAL_CODE"]) == zone

    @pytest.mark.parametrize(("alpha3", "zone"), [("USA", "America/New_York"), ("fra", "Europe/Paris")])
    def test_alpha_3_countries(self, alpha3: str, zone: str) -> None:
        assert estimate_timezone(postal(alpha3, "10001"), ["POSTAL_CODE"]) == zone

    @pytest.mark.parametrize(
        ("country", "code"),
        [
            ("RU", "101000"),  # many zones, no table
            ("BR", "01000-000"),
            ("US", "09012"),  # an overseas military ZIP
            ("US", "ABCDE"),
            ("CA", "12345"),
            ("AU", "20000"),
            ("FR", ""),
            ("FR", "   "),
            ("ZZ", "12345"),
            ("United States", "10001"),
        ],
    )
    def test_codes_that_do_not_tell_give_none(self, country: str, code: str) -> None:
        assert estimate_timezone(postal(country, code), ["POSTAL_CODE"]) is None

    def test_a_postal_code_needs_a_country(self) -> None:
        assert estimate_timezone({"Location": {"PostalCode": "10001"}}, ["POSTAL_CODE"]) is None


class TestEstimate:
    def test_a_valid_timezone_is_kept(self) -> None:
        endpoint = {**sms("+14155550100"), "Demographic": {"Timezone": "Europe/Paris"}}
        assert estimate_timezone(endpoint, BOTH) == "Europe/Paris"
        assert estimate_timezone(endpoint, []) == "Europe/Paris"

    def test_an_invalid_timezone_is_estimated_over(self) -> None:
        endpoint = {**sms("+14155550100"), "Demographic": {"Timezone": "Pacific Time"}}
        assert estimate_timezone(endpoint, BOTH) == "America/Los_Angeles"

    def test_methods_are_tried_in_the_order_given(self) -> None:
        endpoint = {
            "ChannelType": "SMS",
            "Address": "+14155550100",
            "Location": {"Country": "US", "PostalCode": "10001"},
        }
        assert estimate_timezone(endpoint, ["PHONE_NUMBER", "POSTAL_CODE"]) == "America/Los_Angeles"
        assert estimate_timezone(endpoint, ["POSTAL_CODE", "PHONE_NUMBER"]) == "America/New_York"

    def test_a_later_method_is_tried_when_the_first_finds_nothing(self) -> None:
        endpoint = {
            "ChannelType": "SMS",
            "Address": "+18005550100",
            "Location": {"Country": "US", "PostalCode": "60601"},
        }
        assert estimate_timezone(endpoint, BOTH) == "America/Chicago"

    def test_no_methods_no_estimate(self) -> None:
        assert estimate_timezone(sms("+14155550100"), []) is None
        assert estimate_timezone({}, BOTH) is None


class TestData:
    def test_alpha_3_codes_cover_every_country_the_tz_database_knows(self) -> None:
        lines = files("tzdata.zoneinfo").joinpath("iso3166.tab").read_text(encoding="utf-8").splitlines()
        known = {line.split("\t")[0] for line in lines if line and not line.startswith("#")}
        assert set(ALPHA3_TO_ALPHA2.values()) == known
        assert len(ALPHA3_TO_ALPHA2) == len(known)

    def test_single_zone_countries_come_from_the_tz_database(self) -> None:
        zones = country_zones()
        assert zones["FR"] == ("Europe/Paris",) and zones["JP"] == ("Asia/Tokyo",)
        assert len(zones["US"]) > 20
        assert all(iana_zone(zone) is not None for names in zones.values() for zone in names)

    @pytest.mark.parametrize(
        ("country", "codes"),
        [
            ("US", [f"{n:03d}01" for n in range(1000)]),
            ("CA", [f"{letter}{digit}A 1A1" for letter in "ABCEGHJKLMNPRSTVXY" for digit in range(10)]),
            ("AU", [f"{n:04d}" for n in range(0, 10_000, 7)] + ["2898", "2899", "6798", "6799"]),
            ("ES", [f"{n:02d}001" for n in range(100)]),
            ("NZ", ["8942", "0000", "9999"]),
            ("DE", ["78266", "01067"]),
        ],
    )
    def test_every_zone_a_postal_table_gives_exists(self, country: str, codes: list[str]) -> None:
        zones = {estimate_timezone(postal(country, code), ["POSTAL_CODE"]) for code in codes} - {None}
        assert zones and all(iana_zone(zone) is not None for zone in zones)
