"""Message templates through boto3: every type's round trip, versions and the active version,
listing, tags, the account-level lifetime, and every refusal (which writes nothing).

Templates belong to the account, which the whole session shares, so every test makes its own
names.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from store import templates as store
from store.db import make_engine
from tests.stack import Stack


@dataclass(frozen=True)
class Kind:
    """How boto3 spells one template type."""

    method: str  # create_<method>_template
    type: str
    request: str  # the payload member
    response: str  # Get's output member
    sample: dict[str, Any]
    created: str = "CreateTemplateMessageBody"


EMAIL = Kind(
    "email",
    "EMAIL",
    "EmailTemplateRequest",
    "EmailTemplateResponse",
    {
        "Subject": "Hi {{User.UserAttributes.FirstName}}",
        "HtmlPart": "<p>Hello {{User.UserAttributes.FirstName}}</p>",
        "TextPart": "Hello {{User.UserAttributes.FirstName}}",
        "Headers": [{"Name": "X-Campaign", "Value": "spring"}],
        "DefaultSubstitutions": json.dumps({"User.UserAttributes.FirstName": "there"}),
        "TemplateDescription": "welcome mail",
    },
)
SMS = Kind(
    "sms",
    "SMS",
    "SMSTemplateRequest",
    "SMSTemplateResponse",
    {"Body": "Code {{Attributes.Code}}", "DefaultSubstitutions": '{"Attributes.Code": "none"}'},
)
PUSH = Kind(
    "push",
    "PUSH",
    "PushNotificationTemplateRequest",
    "PushNotificationTemplateResponse",
    {
        "Default": {"Title": "Hi {{User.UserId}}", "Body": "Default body", "Action": "OPEN_APP"},
        "GCM": {"Title": "GCM", "Body": "b", "ImageUrl": "https://example.com/i.png", "RawContent": '{"a": 1}'},
        "APNS": {"Body": "apns {{Attributes.x}}", "MediaUrl": "https://example.com/m.png", "Sound": "ding"},
        "ADM": {"Body": "adm"},
        "Baidu": {"Body": "baidu"},
    },
)
VOICE = Kind(
    "voice",
    "VOICE",
    "VoiceTemplateRequest",
    "VoiceTemplateResponse",
    {"Body": "Your code is {{Attributes.Code}}", "LanguageCode": "en-US", "VoiceId": "Joanna"},
)
IN_APP = Kind(
    "in_app",
    "INAPP",
    "InAppTemplateRequest",
    "InAppTemplateResponse",
    {
        "Layout": "BOTTOM_BANNER",
        "Content": [{"BodyConfig": {"Alignment": "LEFT", "Body": "{{ no variables here", "TextColor": "#000000"}}],
        "CustomConfig": {"k": "v"},
    },
    "TemplateCreateMessageBody",
)
KINDS = [EMAIL, SMS, PUSH, VOICE, IN_APP]


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{secrets.token_hex(5)}"


def call(pinpoint: Any, verb: str, kind: Kind, name: str, **kwargs: Any) -> Any:
    return getattr(pinpoint, f"{verb}_{kind.method}_template")(TemplateName=name, **kwargs)


def create(pinpoint: Any, kind: Kind, name: str, request: dict[str, Any] | None = None) -> dict[str, Any]:
    resp = call(pinpoint, "create", kind, name, **{kind.request: kind.sample if request is None else request})
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 201
    return dict(resp[kind.created])


def get(pinpoint: Any, kind: Kind, name: str, version: str | None = None) -> dict[str, Any]:
    extra = {} if version is None else {"Version": version}
    return dict(call(pinpoint, "get", kind, name, **extra)[kind.response])


def update(pinpoint: Any, kind: Kind, name: str, request: dict[str, Any], **query: Any) -> dict[str, Any]:
    resp = call(pinpoint, "update", kind, name, **{kind.request: request}, **query)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 202
    return dict(resp["MessageBody"])


def versions(pinpoint: Any, kind: Kind, name: str, **query: Any) -> dict[str, Any]:
    resp = pinpoint.list_template_versions(TemplateName=name, TemplateType=kind.type, **query)
    return dict(resp["TemplateVersionsResponse"])


def error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


def rows(stack: Stack, name: str) -> list[tuple[str, int]]:
    """(type, version) of every stored version under `name`, in order."""
    found = stack.sql(
        "SELECT template_type, version FROM template_versions WHERE name = $1 ORDER BY template_type, version", name
    )
    return [(r["template_type"], r["version"]) for r in found]


def resolve(stack: Stack, template_type: str, name: str, version: str | None = None) -> dict[str, Any] | None:
    """store.templates.resolve, as the send path calls it."""

    async def go() -> dict[str, Any] | None:
        engine = make_engine(stack.settings.database_url, pool_size=1)
        try:
            async with engine.connect() as conn:
                return await store.resolve(conn, template_type, name, version)
        finally:
            await engine.dispose()

    return stack.run(go())


class TestRoundTrip:
    @pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.type)
    def test_create_and_get(self, pinpoint: Any, stack: Stack, kind: Kind) -> None:
        name = unique()
        created = create(pinpoint, kind, name)
        assert (
            created["Arn"]
            == f"arn:aws:mobiletargeting:us-east-1:{stack.settings.account_id}:templates/{name}/{kind.type}"
        )
        assert created["Message"] == "Created" and created["RequestID"]
        got = get(pinpoint, kind, name)
        for member, value in kind.sample.items():
            assert got[member] == value, member
        assert got["TemplateName"] == name and got["TemplateType"] == kind.type and got["Version"] == "1"
        assert got["Arn"] == created["Arn"] and got["CreationDate"].endswith("Z") and got["LastModifiedDate"]
        [row] = stack.sql("SELECT latest_version, active_version FROM templates WHERE name = $1", name)
        assert tuple(row) == (1, 1)

    def test_tags_given_at_create_come_back(self, pinpoint: Any) -> None:
        name = unique()
        create(pinpoint, SMS, name, {"Body": "hi", "tags": {"team": "crm"}})
        got = get(pinpoint, SMS, name)
        assert got["tags"] == {"team": "crm"} and got["Body"] == "hi"

    def test_same_name_in_another_type_is_another_template(self, pinpoint: Any, stack: Stack) -> None:
        name = unique()
        create(pinpoint, SMS, name)
        create(pinpoint, VOICE, name)
        assert rows(stack, name) == [("SMS", 1), ("VOICE", 1)]

    def test_names_are_case_sensitive(self, pinpoint: Any) -> None:
        name = unique("Case")
        create(pinpoint, SMS, name, {"Body": "upper"})
        create(pinpoint, SMS, name.lower(), {"Body": "lower"})
        assert get(pinpoint, SMS, name)["Body"] == "upper" and get(pinpoint, SMS, name.lower())["Body"] == "lower"

    def test_resolve_for_the_send_path(self, pinpoint: Any, stack: Stack) -> None:
        name = unique()
        create(pinpoint, EMAIL, name)
        update(pinpoint, EMAIL, name, {"Subject": "v2"}, CreateNewVersion=True)
        active = resolve(stack, "EMAIL", name)
        assert active is not None and active["version"] == 1 and active["template_type"] == "EMAIL"
        assert active["content"]["Subject"] == EMAIL.sample["Subject"]
        assert active["default_substitutions"] == {"User.UserAttributes.FirstName": "there"}
        pinned = resolve(stack, "email", name, "2")
        assert pinned is not None and pinned["content"] == {"Subject": "v2"} and pinned["default_substitutions"] == {}
        assert resolve(stack, "EMAIL", name, "3") is None and resolve(stack, "EMAIL", name, "x") is None
        assert resolve(stack, "SMS", name) is None


class TestVersions:
    def test_update_overwrites_the_latest_version(self, pinpoint: Any, stack: Stack) -> None:
        name = unique()
        create(pinpoint, SMS, name)
        assert update(pinpoint, SMS, name, {"Body": "changed"})["Message"] == "Accepted"
        got = get(pinpoint, SMS, name)
        assert got["Body"] == "changed" and got["Version"] == "1" and "DefaultSubstitutions" not in got
        assert rows(stack, name) == [("SMS", 1)]

    def test_new_versions_and_the_active_one(self, pinpoint: Any) -> None:
        name = unique()
        create(pinpoint, SMS, name, {"Body": "one"})
        update(pinpoint, SMS, name, {"Body": "two"}, CreateNewVersion=True)
        update(pinpoint, SMS, name, {"Body": "three"}, CreateNewVersion=True)
        # A new version is not active until it is made so.
        assert get(pinpoint, SMS, name)["Body"] == "one"
        assert get(pinpoint, SMS, name, "2")["Body"] == "two" and get(pinpoint, SMS, name, "2")["Version"] == "2"
        resp = pinpoint.update_template_active_version(
            TemplateName=name, TemplateType="SMS", TemplateActiveVersionRequest={"Version": "2"}
        )
        assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200 and resp["MessageBody"]["Message"]
        assert get(pinpoint, SMS, name)["Body"] == "two"
        pinpoint.update_template_active_version(
            TemplateName=name, TemplateType="sms", TemplateActiveVersionRequest={"Version": "latest"}
        )
        assert get(pinpoint, SMS, name)["Version"] == "3"

    def test_version_on_update_must_be_the_latest(self, pinpoint: Any, stack: Stack) -> None:
        name = unique()
        create(pinpoint, SMS, name, {"Body": "one"})
        update(pinpoint, SMS, name, {"Body": "two"}, CreateNewVersion=True)
        with pytest.raises(pinpoint.exceptions.BadRequestException) as exc:
            update(pinpoint, SMS, name, {"Body": "stale"}, Version="1")
        assert "1 is not the latest version (2)" in error(exc)[1]
        update(pinpoint, SMS, name, {"Body": "two, edited"}, Version="2")
        assert get(pinpoint, SMS, name, "2")["Body"] == "two, edited" and get(pinpoint, SMS, name, "1")["Body"] == "one"

    def test_new_version_with_a_version_is_refused(self, pinpoint: Any, stack: Stack) -> None:
        name = unique()
        create(pinpoint, SMS, name)
        with pytest.raises(pinpoint.exceptions.BadRequestException) as exc:
            update(pinpoint, SMS, name, {"Body": "x"}, CreateNewVersion=True, Version="1")
        assert "create-new-version" in error(exc)[1] and rows(stack, name) == [("SMS", 1)]

    def test_version_numbers_are_never_reused(self, pinpoint: Any, stack: Stack) -> None:
        name = unique()
        create(pinpoint, SMS, name, {"Body": "1"})
        update(pinpoint, SMS, name, {"Body": "2"}, CreateNewVersion=True)
        update(pinpoint, SMS, name, {"Body": "3"}, CreateNewVersion=True)
        call(pinpoint, "delete", SMS, name, Version="3")
        # The latest existing version is now 2: a plain update overwrites it...
        update(pinpoint, SMS, name, {"Body": "2b"})
        assert get(pinpoint, SMS, name, "2")["Body"] == "2b"
        # ...and the next new version is 4, not 3 again.
        update(pinpoint, SMS, name, {"Body": "4"}, CreateNewVersion=True)
        assert rows(stack, name) == [("SMS", 1), ("SMS", 2), ("SMS", 4)]
        with pytest.raises(pinpoint.exceptions.NotFoundException):
            get(pinpoint, SMS, name, "3")

    def test_list_versions_pages(self, pinpoint: Any) -> None:
        name = unique()
        create(pinpoint, PUSH, name)
        for _ in range(2):
            update(pinpoint, PUSH, name, {"Default": {"Body": "b"}, "TemplateDescription": "d"}, CreateNewVersion=True)
        first = versions(pinpoint, PUSH, name, PageSize="2")
        assert [v["Version"] for v in first["Item"]] == ["1", "2"] and first["NextToken"]
        item = first["Item"][1]
        assert item["TemplateName"] == name and item["TemplateType"] == "PUSH" and item["TemplateDescription"] == "d"
        assert item["CreationDate"] and item["LastModifiedDate"]
        rest = pinpoint.list_template_versions(TemplateName=name, TemplateType="push", NextToken=first["NextToken"])
        page = rest["TemplateVersionsResponse"]
        assert [v["Version"] for v in page["Item"]] == ["3"] and "NextToken" not in page


class TestDelete:
    def test_delete_one_version(self, pinpoint: Any, stack: Stack) -> None:
        name = unique()
        create(pinpoint, VOICE, name)
        update(pinpoint, VOICE, name, {"Body": "v2"}, CreateNewVersion=True)
        resp = call(pinpoint, "delete", VOICE, name, Version="2")
        assert resp["ResponseMetadata"]["HTTPStatusCode"] == 202 and resp["MessageBody"]["Message"]
        assert rows(stack, name) == [("VOICE", 1)] and get(pinpoint, VOICE, name)["Version"] == "1"

    def test_the_active_version_cannot_be_deleted(self, pinpoint: Any, stack: Stack) -> None:
        name = unique()
        create(pinpoint, VOICE, name)
        update(pinpoint, VOICE, name, {"Body": "v2"}, CreateNewVersion=True)
        with pytest.raises(pinpoint.exceptions.BadRequestException) as exc:
            call(pinpoint, "delete", VOICE, name, Version="1")
        assert "1 is the active version" in error(exc)[1] and rows(stack, name) == [("VOICE", 1), ("VOICE", 2)]

    def test_delete_a_missing_version(self, pinpoint: Any) -> None:
        name = unique()
        create(pinpoint, VOICE, name)
        with pytest.raises(pinpoint.exceptions.NotFoundException):
            call(pinpoint, "delete", VOICE, name, Version="7")

    def test_delete_the_whole_template(self, pinpoint: Any, stack: Stack) -> None:
        name = unique()
        arn = create(pinpoint, IN_APP, name, {**IN_APP.sample, "tags": {"a": "b"}})["Arn"]
        update(pinpoint, IN_APP, name, {"Layout": "MIDDLE_BANNER"}, CreateNewVersion=True)
        assert call(pinpoint, "delete", IN_APP, name)["ResponseMetadata"]["HTTPStatusCode"] == 202
        with pytest.raises(pinpoint.exceptions.NotFoundException):
            get(pinpoint, IN_APP, name)
        assert rows(stack, name) == [] and stack.sql("SELECT 1 FROM templates WHERE name = $1", name) == []
        assert stack.sql("SELECT 1 FROM resource_tags WHERE arn = $1", arn) == []
        # The name is free again, and the new template starts from version 1 without the old tags.
        create(pinpoint, IN_APP, name)
        got = get(pinpoint, IN_APP, name)
        assert got["Version"] == "1" and not got.get("tags")


class TestList:
    def test_prefix_type_order_and_pages(self, pinpoint: Any) -> None:
        prefix = unique("L")
        create(pinpoint, SMS, f"{prefix}-b")
        create(pinpoint, EMAIL, f"{prefix}-b")
        create(pinpoint, VOICE, f"{prefix}-a")
        create(pinpoint, SMS, f"{prefix}-c", {"Body": "c", "tags": {"k": "v"}})
        create(pinpoint, SMS, f"other-{prefix}")  # contains the prefix, does not start with it
        listed = pinpoint.list_templates(Prefix=prefix, PageSize="2")["TemplatesResponse"]
        assert [(t["TemplateName"], t["TemplateType"]) for t in listed["Item"]] == [
            (f"{prefix}-a", "VOICE"),
            (f"{prefix}-b", "EMAIL"),
        ]
        rest = pinpoint.list_templates(Prefix=prefix, NextToken=listed["NextToken"])["TemplatesResponse"]
        assert [(t["TemplateName"], t["TemplateType"]) for t in rest["Item"]] == [
            (f"{prefix}-b", "SMS"),
            (f"{prefix}-c", "SMS"),
        ]
        assert "NextToken" not in rest and rest["Item"][1]["tags"] == {"k": "v"}
        assert rest["Item"][1]["Arn"].endswith(f":templates/{prefix}-c/SMS") and rest["Item"][1]["Version"] == "1"
        sms = pinpoint.list_templates(Prefix=prefix, TemplateType="SMS")["TemplatesResponse"]["Item"]
        assert [t["TemplateName"] for t in sms] == [f"{prefix}-b", f"{prefix}-c"]

    def test_items_show_the_active_version(self, pinpoint: Any) -> None:
        name = unique("Act")
        create(pinpoint, SMS, name, {"Body": "1", "TemplateDescription": "first"})
        update(pinpoint, SMS, name, {"Body": "2", "TemplateDescription": "second"}, CreateNewVersion=True)
        [item] = pinpoint.list_templates(Prefix=name)["TemplatesResponse"]["Item"]
        assert item["Version"] == "1" and item["TemplateDescription"] == "first"

    def test_no_match_is_an_empty_list(self, pinpoint: Any) -> None:
        assert pinpoint.list_templates(Prefix=unique("none"))["TemplatesResponse"]["Item"] == []

    def test_prefix_wildcards_are_literal(self, pinpoint: Any) -> None:
        name = unique("Wild")
        create(pinpoint, SMS, f"{name}_x")
        create(pinpoint, SMS, f"{name}ax")
        assert [t["TemplateName"] for t in pinpoint.list_templates(Prefix=f"{name}_")["TemplatesResponse"]["Item"]] == [
            f"{name}_x"
        ]


class TestTags:
    def test_tag_list_untag(self, pinpoint: Any) -> None:
        name = unique()
        arn = create(pinpoint, EMAIL, name)["Arn"]
        pinpoint.tag_resource(ResourceArn=arn, TagsModel={"tags": {"env": "prod", "team": "crm"}})
        pinpoint.untag_resource(ResourceArn=arn, TagKeys=["team"])
        assert pinpoint.list_tags_for_resource(ResourceArn=arn)["TagsModel"]["tags"] == {"env": "prod"}
        assert get(pinpoint, EMAIL, name)["tags"] == {"env": "prod"}

    def test_update_ignores_tags(self, pinpoint: Any) -> None:
        name = unique()
        create(pinpoint, SMS, name, {"Body": "x", "tags": {"a": "1"}})
        update(pinpoint, SMS, name, {"Body": "y", "tags": {"b": "2"}})
        assert get(pinpoint, SMS, name)["tags"] == {"a": "1"}

    def test_missing_template_arn(self, pinpoint: Any, stack: Stack) -> None:
        name = unique()
        create(pinpoint, SMS, name)
        # Right name, other type: a different (missing) template.
        arn = f"arn:aws:mobiletargeting:us-east-1:{stack.settings.account_id}:templates/{name}/EMAIL"
        with pytest.raises(pinpoint.exceptions.NotFoundException):
            pinpoint.tag_resource(ResourceArn=arn, TagsModel={"tags": {"k": "v"}})

    def test_bad_tags_at_create_write_nothing(self, pinpoint: Any, stack: Stack) -> None:
        name = unique()
        with pytest.raises(pinpoint.exceptions.BadRequestException) as exc:
            create(pinpoint, SMS, name, {"Body": "x", "tags": {"aws:reserved": "v"}})
        assert "SMSTemplateRequest.tags" in error(exc)[1] and rows(stack, name) == []


class TestAccountLevel:
    def test_templates_survive_delete_app(self, pinpoint: Any, app_id: str) -> None:
        name = unique()
        create(pinpoint, SMS, name, {"Body": "stays", "tags": {"k": "v"}})
        pinpoint.delete_app(ApplicationId=app_id)
        got = get(pinpoint, SMS, name)
        assert got["Body"] == "stays" and got["tags"] == {"k": "v"}


class TestRefusals:
    def test_create_an_existing_template(self, pinpoint: Any, stack: Stack) -> None:
        name = unique()
        create(pinpoint, EMAIL, name, {"Subject": "first"})
        with pytest.raises(pinpoint.exceptions.BadRequestException) as exc:
            create(pinpoint, EMAIL, name, {"Subject": "second"})
        assert error(exc)[1] == f"Invalid value for TemplateName: template {name} of type EMAIL already exists."
        assert get(pinpoint, EMAIL, name)["Subject"] == "first" and rows(stack, name) == [("EMAIL", 1)]

    @pytest.mark.parametrize("name", ["-leading-hyphen", "x" * 129, "has space", "dot.ted"])
    def test_bad_names(self, pinpoint: Any, stack: Stack, name: str) -> None:
        with pytest.raises(pinpoint.exceptions.BadRequestException) as exc:
            create(pinpoint, SMS, name)
        assert "template-name" in error(exc)[1] and rows(stack, name) == []

    @pytest.mark.parametrize("verb", ["get", "update", "delete"])
    def test_missing_template(self, pinpoint: Any, verb: str) -> None:
        extra = {SMS.request: {"Body": "x"}} if verb == "update" else {}
        with pytest.raises(pinpoint.exceptions.NotFoundException) as exc:
            call(pinpoint, verb, SMS, unique("missing"), **extra)
        assert error(exc)[1] == "Resource not found"

    def test_missing_template_versions_and_active_version(self, pinpoint: Any) -> None:
        name = unique("missing")
        with pytest.raises(pinpoint.exceptions.NotFoundException):
            pinpoint.list_template_versions(TemplateName=name, TemplateType="EMAIL")
        with pytest.raises(pinpoint.exceptions.NotFoundException):
            pinpoint.update_template_active_version(
                TemplateName=name, TemplateType="EMAIL", TemplateActiveVersionRequest={"Version": "1"}
            )

    def test_versions(self, pinpoint: Any, stack: Stack) -> None:
        name = unique()
        create(pinpoint, SMS, name)
        with pytest.raises(pinpoint.exceptions.NotFoundException):
            get(pinpoint, SMS, name, "2")
        with pytest.raises(pinpoint.exceptions.BadRequestException) as exc:
            get(pinpoint, SMS, name, "abc")
        assert "'abc' is not a template version" in error(exc)[1]
        with pytest.raises(pinpoint.exceptions.NotFoundException):
            pinpoint.update_template_active_version(
                TemplateName=name, TemplateType="SMS", TemplateActiveVersionRequest={"Version": "9"}
            )
        with pytest.raises(pinpoint.exceptions.BadRequestException):
            pinpoint.update_template_active_version(
                TemplateName=name, TemplateType="SMS", TemplateActiveVersionRequest={}
            )
        assert stack.sql("SELECT active_version FROM templates WHERE name = $1", name)[0][0] == 1

    @pytest.mark.parametrize("raw", ["not json", "[1, 2]", '"a string"'])
    def test_default_substitutions_must_be_a_json_object(self, pinpoint: Any, stack: Stack, raw: str) -> None:
        name = unique()
        with pytest.raises(pinpoint.exceptions.BadRequestException) as exc:
            create(pinpoint, SMS, name, {"Body": "x", "DefaultSubstitutions": raw})
        assert "SMSTemplateRequest.DefaultSubstitutions" in error(exc)[1] and rows(stack, name) == []

    @pytest.mark.parametrize(
        ("kind", "request_", "field"),
        [
            (SMS, {"Body": "x" * 1_601}, "SMSTemplateRequest.Body"),
            (VOICE, {"Body": "x" * 10_001}, "VoiceTemplateRequest.Body"),
            (
                EMAIL,
                {"Subject": "s", "HtmlPart": "h" * 300_000, "TextPart": "t" * 300_000},
                "EmailTemplateRequest.HtmlPart",
            ),
            (PUSH, {"GCM": {"Body": "x" * 4_001}}, "PushNotificationTemplateRequest.GCM.Body"),
            (PUSH, {"ADM": {"Body": "x" * 6_001}}, "PushNotificationTemplateRequest.ADM.Body"),
            (
                IN_APP,
                {"Content": [{"BodyConfig": {"Alignment": "LEFT", "Body": "x" * 200_001, "TextColor": "#000"}}]},
                "InAppTemplateRequest.Content",
            ),
        ],
        ids=["sms", "voice", "email", "gcm", "adm", "inapp"],
    )
    def test_size_limits(self, pinpoint: Any, stack: Stack, kind: Kind, request_: dict[str, Any], field: str) -> None:
        name = unique()
        with pytest.raises(pinpoint.exceptions.BadRequestException) as exc:
            create(pinpoint, kind, name, request_)
        assert f"Invalid value for {field}:" in error(exc)[1] and rows(stack, name) == []

    @pytest.mark.parametrize(
        ("request_", "field"),
        [
            (
                {"Content": [{"HeaderConfig": {"Alignment": "LEFT", "Header": "h", "TextColor": "red"}}]},
                "InAppTemplateRequest.Content[0].HeaderConfig.TextColor",
            ),
            (
                {"Content": [{"BackgroundColor": "#fff"}, {"BackgroundColor": "#12345"}]},
                "InAppTemplateRequest.Content[1].BackgroundColor",
            ),
            ({"Layout": "CAROUSEL", "Content": [{"BackgroundColor": "#fff"}] * 6}, "InAppTemplateRequest.Content"),
        ],
        ids=["colour-name", "five-digits", "six-items"],
    )
    def test_in_app_colours_and_items(self, pinpoint: Any, stack: Stack, request_: dict[str, Any], field: str) -> None:
        name = unique()
        with pytest.raises(pinpoint.exceptions.BadRequestException) as exc:
            create(pinpoint, IN_APP, name, request_)
        assert f"Invalid value for {field}:" in error(exc)[1] and rows(stack, name) == []
        create(pinpoint, IN_APP, name)
        with pytest.raises(pinpoint.exceptions.BadRequestException):
            update(pinpoint, IN_APP, name, request_, CreateNewVersion=True)
        assert rows(stack, name) == [("INAPP", 1)]

    def test_adm_holds_more_than_other_push_parts(self, pinpoint: Any) -> None:
        name = unique()
        create(pinpoint, PUSH, name, {"ADM": {"Body": "x" * 6_000}, "GCM": {"Body": "y" * 4_000}})
        assert len(get(pinpoint, PUSH, name)["ADM"]["Body"]) == 6_000

    @pytest.mark.parametrize(
        ("kind", "request_", "field"),
        [
            (EMAIL, {"Subject": "ok", "HtmlPart": "<p>\n{{#if x}}\n</p>"}, "EmailTemplateRequest.HtmlPart"),
            (EMAIL, {"Subject": "Hi {{User.UserId"}, "EmailTemplateRequest.Subject"),
            (SMS, {"Body": "Code {{Attributes.Code"}, "SMSTemplateRequest.Body"),
            (VOICE, {"Body": "{{#each Attributes.x}}"}, "VoiceTemplateRequest.Body"),
            (PUSH, {"APNS": {"Title": "{{ oops"}}, "PushNotificationTemplateRequest.APNS.Title"),
            (PUSH, {"GCM": {"RawContent": '{"x": "{{oops"}'}}, "PushNotificationTemplateRequest.GCM.RawContent"),
        ],
        ids=["html", "subject", "sms", "voice", "apns-title", "gcm-raw"],
    )
    def test_text_that_cannot_render(
        self, pinpoint: Any, stack: Stack, kind: Kind, request_: dict[str, Any], field: str
    ) -> None:
        name = unique()
        with pytest.raises(pinpoint.exceptions.BadRequestException) as exc:
            create(pinpoint, kind, name, request_)
        message = error(exc)[1]
        assert f"Invalid value for {field}:" in message and "line" in message and rows(stack, name) == []

    def test_bad_update_changes_nothing(self, pinpoint: Any, stack: Stack) -> None:
        name = unique()
        create(pinpoint, SMS, name, {"Body": "good"})
        query = "SELECT content, updated_at FROM template_versions WHERE name = $1"
        before = [tuple(r) for r in stack.sql(query, name)]
        for bad in ({"Body": "{{ oops"}, {"Body": "x" * 1_601}, {"Body": "x", "DefaultSubstitutions": "[]"}):
            with pytest.raises(pinpoint.exceptions.BadRequestException):
                update(pinpoint, SMS, name, bad, CreateNewVersion=True)
            with pytest.raises(pinpoint.exceptions.BadRequestException):
                update(pinpoint, SMS, name, bad)
        assert [tuple(r) for r in stack.sql(query, name)] == before

    def test_bad_list_parameters(self, pinpoint: Any) -> None:
        for kwargs in ({"TemplateType": "FAX"}, {"NextToken": "garbage!"}, {"PageSize": "0"}):
            with pytest.raises(pinpoint.exceptions.BadRequestException):
                pinpoint.list_templates(**kwargs)
        with pytest.raises(pinpoint.exceptions.BadRequestException) as exc:
            pinpoint.list_template_versions(TemplateName="x", TemplateType="FAX")
        assert "template-type" in error(exc)[1]
