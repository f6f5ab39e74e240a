"""Template rules as plain functions: names, types, sizes, substitutions, version arithmetic."""

from __future__ import annotations

import pytest

from openpoint.errors import BadRequest
from rules.templates import (
    MAX_VERSIONS,
    check_in_app,
    check_name,
    check_size,
    check_version_delete,
    is_colour,
    parse_substitutions,
    parse_version,
    rendered_fields,
    template_type,
    update_target,
)


@pytest.mark.parametrize("name", ["a", "A1", "0_x-y", "x" * 128, "Welcome_Email-2"])
def test_names_accepted(name: str) -> None:
    check_name(name)


@pytest.mark.parametrize("name", ["", "-a", "_a", "x" * 129, "a b", "a.b", "é", "a/b"])
def test_names_refused(name: str) -> None:
    with pytest.raises(BadRequest, match="template-name"):
        check_name(name)


@pytest.mark.parametrize(("raw", "expected"), [("email", "EMAIL"), ("SMS", "SMS"), ("InApp", "INAPP")])
def test_type_in_either_case(raw: str, expected: str) -> None:
    assert template_type(raw) == expected


def test_unknown_type() -> None:
    with pytest.raises(BadRequest, match="'FAX' is not one of EMAIL, SMS, PUSH, VOICE, INAPP"):
        template_type("FAX")


class TestSize:
    @pytest.mark.parametrize(("ttype", "limit"), [("SMS", 1_600), ("VOICE", 10_000)])
    def test_body_limits(self, ttype: str, limit: int) -> None:
        check_size(ttype, {"Body": "x" * limit}, "R")
        with pytest.raises(BadRequest, match=r"R\.Body: .*limit is"):
            check_size(ttype, {"Body": "x" * (limit + 1)}, "R")

    def test_email_parts_count_together_and_the_largest_is_named(self) -> None:
        check_size("EMAIL", {"Subject": "s" * 100_000, "HtmlPart": "h" * 500_000}, "E")
        with pytest.raises(BadRequest, match=r"E\.HtmlPart: the email template holds 600,001 characters"):
            check_size("EMAIL", {"Subject": "s" * 100_001, "HtmlPart": "h" * 500_000}, "E")

    def test_description_and_substitutions_do_not_count(self) -> None:
        check_size("SMS", {"Body": "x" * 1_600, "TemplateDescription": "d" * 5_000, "DefaultSubstitutions": "{}"}, "R")

    def test_push_parts_have_their_own_limits(self) -> None:
        check_size("PUSH", {"ADM": {"Body": "x" * 6_000}, "GCM": {"Body": "x" * 4_000}}, "P")
        with pytest.raises(BadRequest, match=r"P\.GCM\.Title: the GCM part holds 4,001"):
            check_size("PUSH", {"GCM": {"Title": "x" * 4_000, "Body": "y"}}, "P")
        with pytest.raises(BadRequest, match=r"P\.ADM\.Body"):
            check_size("PUSH", {"ADM": {"Body": "x" * 6_001}}, "P")

    def test_in_app_counts_nested_content(self) -> None:
        content = [{"BodyConfig": {"Body": "x" * 199_000, "Alignment": "LEFT", "TextColor": "#000"}}]
        check_size("INAPP", {"Content": content}, "I")
        content[0]["HeaderConfig"] = {"Header": "h" * 1_000}
        with pytest.raises(BadRequest, match=r"I\.Content: the inapp template holds"):
            check_size("INAPP", {"Content": content}, "I")


class TestInApp:
    @pytest.mark.parametrize("value", ["#000", "#FFF", "#a1B2c3", "#ffffff"])
    def test_hex_colours(self, value: str) -> None:
        assert is_colour(value)

    @pytest.mark.parametrize("value", ["red", "#12", "#1234", "#gggggg", "000000", "#0000000", "rgb(0,0,0)", " #000"])
    def test_not_colours(self, value: str) -> None:
        assert not is_colour(value)

    def test_a_bad_colour_names_its_member(self) -> None:
        ok = {"BodyConfig": {"Alignment": "LEFT", "Body": "b", "TextColor": "#000"}, "BackgroundColor": "#fff"}
        bad = {"PrimaryBtn": {"DefaultConfig": {"Text": "t", "ButtonAction": "CLOSE", "TextColor": "blue"}}}
        check_in_app({"Content": [ok]}, "I")
        with pytest.raises(BadRequest, match=r"I\.Content\[1\]\.PrimaryBtn\.DefaultConfig\.TextColor: 'blue' is not"):
            check_in_app({"Content": [ok, bad]}, "I")

    def test_at_most_five_items(self) -> None:
        check_in_app({"Layout": "CAROUSEL", "Content": [{}] * 5}, "I")
        with pytest.raises(BadRequest, match=r"I\.Content: an in-app message holds at most 5 items"):
            check_in_app({"Layout": "CAROUSEL", "Content": [{}] * 6}, "I")

    def test_negative_corner_radius(self) -> None:
        bad = {"SecondaryBtn": {"DefaultConfig": {"Text": "t", "ButtonAction": "CLOSE", "BorderRadius": -1}}}
        with pytest.raises(BadRequest, match=r"I\.Content\[0\]\.SecondaryBtn\.DefaultConfig\.BorderRadius"):
            check_in_app({"Content": [bad]}, "I")


class TestRenderedFields:
    def test_email(self) -> None:
        req = {"Subject": "s", "HtmlPart": "h", "TemplateDescription": "{{not rendered"}
        assert rendered_fields("EMAIL", req, "E") == [("s", "E.Subject"), ("h", "E.HtmlPart")]

    def test_push_per_platform(self) -> None:
        req = {
            "Default": {"Title": "t", "Sound": "ding"},
            "APNS": {"Body": "b", "RawContent": "{}", "MediaUrl": "m"},
            "GCM": {"Url": "u"},
        }
        assert rendered_fields("PUSH", req, "P") == [
            ("b", "P.APNS.Body"),
            ("{}", "P.APNS.RawContent"),
            ("t", "P.Default.Title"),
            ("u", "P.GCM.Url"),
        ]

    def test_in_app_has_no_variables(self) -> None:
        assert rendered_fields("INAPP", {"Content": [{"BodyConfig": {"Body": "{{x"}}]}, "I") == []


class TestSubstitutions:
    def test_object_of_scalars(self) -> None:
        raw = '{"User.UserAttributes.FirstName": "there", "Metrics.n": 2, "flag": true}'
        assert parse_substitutions(raw, "D") == {
            "User.UserAttributes.FirstName": "there",
            "Metrics.n": "2",
            "flag": "true",
        }

    @pytest.mark.parametrize("raw", [None, "", "  "])
    def test_absent(self, raw: str | None) -> None:
        assert parse_substitutions(raw, "D") == {}

    @pytest.mark.parametrize("raw", ["not json", "[1]", '"text"', "3"])
    def test_not_an_object(self, raw: str) -> None:
        with pytest.raises(BadRequest, match=r"Invalid value for R\.DefaultSubstitutions: it must be a JSON object"):
            parse_substitutions(raw, "R.DefaultSubstitutions")

    def test_nested_values_refused(self) -> None:
        with pytest.raises(BadRequest, match=r"D\.a: a default is a string"):
            parse_substitutions('{"a": {"b": 1}}', "D")


class TestVersions:
    @pytest.mark.parametrize("raw", ["0", "-1", "abc", "1.5", "", "١"])
    def test_bad_identifiers(self, raw: str) -> None:
        with pytest.raises(BadRequest, match="is not a template version"):
            parse_version(raw)

    def test_identifier(self) -> None:
        assert parse_version("12") == 12

    def test_overwrite_latest_existing(self) -> None:
        assert update_target(create_new_version=False, version=None, latest_existing=3, last_assigned=5, count=3) == (
            3,
            False,
        )
        assert update_target(create_new_version=False, version=3, latest_existing=3, last_assigned=5, count=3) == (
            3,
            False,
        )

    def test_version_must_be_the_latest(self) -> None:
        with pytest.raises(BadRequest, match=r"2 is not the latest version \(3\)"):
            update_target(create_new_version=False, version=2, latest_existing=3, last_assigned=3, count=3)

    def test_new_version_never_reuses_a_number(self) -> None:
        assert update_target(create_new_version=True, version=None, latest_existing=3, last_assigned=5, count=3) == (
            6,
            True,
        )

    def test_new_version_and_version_together_refused(self) -> None:
        with pytest.raises(BadRequest, match="leave it out when create-new-version is true"):
            update_target(create_new_version=True, version=1, latest_existing=1, last_assigned=1, count=1)

    def test_version_quota(self) -> None:
        update_target(
            create_new_version=True, version=None, latest_existing=1, last_assigned=9_000, count=MAX_VERSIONS - 1
        )
        with pytest.raises(BadRequest, match="at most 5,000 versions"):
            update_target(
                create_new_version=True, version=None, latest_existing=1, last_assigned=9_000, count=MAX_VERSIONS
            )

    def test_active_version_cannot_be_deleted(self) -> None:
        check_version_delete(2, active=1)
        with pytest.raises(BadRequest, match="1 is the active version"):
            check_version_delete(1, active=1)
