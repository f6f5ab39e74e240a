"""The template pages' pure parts, without a browser: the in-app editor's form ⇄
InAppTemplateRequest, an API error's member path ⇄ the field, the preview card's colours; the
test send's MessageRequest and its result rows."""

from __future__ import annotations

from typing import Any

from api.messages import message_request
from api.templates import template_request
from console import inapp_form as form
from console import template_send as send


def _form(**values: str) -> dict[str, str]:
    return {k.replace("__", "."): v for k, v in values.items()}


class TestInAppForm:
    def test_untouched_groups_are_left_out(self) -> None:
        fields, errors = form.request_fields(
            _form(Layout="TOP_BANNER", c0__header__align="CENTER", c0__primary__action="CLOSE", items="1"),
            with_tags=True,
        )
        assert fields == {"Layout": "TOP_BANNER"} and errors == {}

    def test_a_filled_item_round_trips(self) -> None:
        values = _form(
            Layout="CAROUSEL",
            items="2",
            c0__header__text="Hi",
            c0__header__align="CENTER",
            c0__header__color="#fff",
            c0__primary__text="Go",
            c0__primary__action="LINK",
            c0__primary__radius="4",
            c0__primary__web__action="DEEP_LINK",
            c1__body__text="Two\nlines",
            c1__body__align="RIGHT",
            c1__body__color="#000000",
            CustomConfig="a = 1\n\nb=2",
            tags="team=x",
        )
        fields, errors = form.request_fields(values, with_tags=True)
        assert errors == {}
        assert fields["Content"] == [
            {
                "HeaderConfig": {"Header": "Hi", "Alignment": "CENTER", "TextColor": "#fff"},
                "PrimaryBtn": {
                    "DefaultConfig": {"Text": "Go", "ButtonAction": "LINK", "BorderRadius": 4},
                    "Web": {"ButtonAction": "DEEP_LINK"},
                },
            },
            {"BodyConfig": {"Body": "Two\nlines", "Alignment": "RIGHT", "TextColor": "#000000"}},
        ]
        assert fields["CustomConfig"] == {"a": "1", "b": "2"} and fields["tags"] == {"team": "x"}
        assert template_request("INAPP", fields) == fields  # botocore's model takes it as it is
        back = form.form_values(fields)
        assert {k: back[k] for k in values if k not in ("tags", "CustomConfig")} == {
            k: v for k, v in values.items() if k not in ("tags", "CustomConfig")
        }

    def test_a_radius_that_is_not_a_number_is_sent_for_the_model_to_refuse(self) -> None:
        fields, _ = form.request_fields(_form(c0__primary__text="Go", c0__primary__radius="big"), with_tags=False)
        assert fields["Content"][0]["PrimaryBtn"]["DefaultConfig"]["BorderRadius"] == "big"

    def test_a_line_that_is_not_key_value(self) -> None:
        _, errors = form.request_fields(_form(CustomConfig="ok=1\nnope"), with_tags=False)
        assert errors == {"CustomConfig": "Line 2 of CustomConfig is not key=value."}

    def test_tags_only_when_asked(self) -> None:
        fields, _ = form.request_fields(_form(tags="a=b"), with_tags=False)
        assert "tags" not in fields

    def test_item_count_is_kept_in_bounds(self) -> None:
        assert [form.item_count({"items": v}) for v in ("0", "3", "9", "x", "")] == [1, 3, 5, 1, 1]

    def test_errors_map_to_fields(self) -> None:
        cases = {
            "Invalid value for InAppTemplateRequest.Content[1].HeaderConfig.TextColor: 'red' is not": "c1.header.color",
            "Missing required member InAppTemplateRequest.Content[0].PrimaryBtn.DefaultConfig.Text.": "c0.primary.text",
            "Invalid value for InAppTemplateRequest.Content[0].SecondaryBtn.IOS.ButtonAction: 'X'": (
                "c0.secondary.ios.action"
            ),
            "Invalid value for InAppTemplateRequest.Layout: 'X' is not one of": "Layout",
            "Invalid value for InAppTemplateRequest.Content: an in-app message holds at most 5": "items",
            "Invalid value for InAppTemplateRequest.tags: too many": "tags",
            "Invalid value for template-name: a template name starts": "name",
            "Template already exists.": "form",
        }
        assert {m: form.field_of(m) for m in cases} == cases

    def test_the_card_draws_hex_colours_only(self) -> None:
        content: dict[str, Any] = {
            "Layout": "MIDDLE_BANNER",
            "Content": [
                {
                    "BackgroundColor": "red",
                    "HeaderConfig": {"Header": "<b>x</b>", "Alignment": "RIGHT", "TextColor": "#abc"},
                    "PrimaryBtn": {"DefaultConfig": {"Text": "Go", "ButtonAction": "CLOSE", "BorderRadius": 99}},
                },
                {"BodyConfig": {"Body": "second"}},
            ],
        }
        card = form.card(content)
        assert card["layout"] == "MIDDLE_BANNER" and len(card["items"]) == 1  # one item outside a carousel
        item = card["items"][0]
        assert item["bg"] is None and item["header_color"] == "#abc" and item["header_align"] == "right"
        assert item["header"] == "<b>x</b>"  # escaped by the template, not here
        assert item["buttons"][0]["radius"] == form.MAX_RADIUS
        assert len(form.card({**content, "Layout": "CAROUSEL"})["items"]) == 2
        assert form.card({"Layout": "nonsense"})["layout"] == "BOTTOM_BANNER"


class TestSendForm:
    def test_the_message_request(self) -> None:
        fields = send.message_fields("EMAIL", "welcome", 3, address="a@example.com", channel="EMAIL", endpoint="")
        assert message_request(fields) == {
            "MessageConfiguration": {},
            "TemplateConfiguration": {"EmailTemplate": {"Name": "welcome", "Version": "3"}},
            "Addresses": {"a@example.com": {"ChannelType": "EMAIL"}},
        }
        push = send.message_fields("PUSH", "p", 1, address="", channel="APNS", endpoint="ep-1")
        assert push["Endpoints"] == {"ep-1": {}} and "Addresses" not in push
        assert push["TemplateConfiguration"] == {"PushTemplate": {"Name": "p", "Version": "1"}}

    def test_result_rows(self) -> None:
        response = {
            "Result": {"a@x": {"DeliveryStatus": "SUCCESSFUL", "StatusCode": 200, "MessageId": "m1"}},
            "EndpointResult": {"ep": {"Address": "b@x", "DeliveryStatus": "OPT_OUT", "StatusCode": 400}},
        }
        assert send.result_rows(response) == [
            {
                "recipient": "a@x",
                "endpoint": False,
                "Address": None,
                "DeliveryStatus": "SUCCESSFUL",
                "StatusCode": 200,
                "StatusMessage": None,
                "MessageId": "m1",
            },
            {
                "recipient": "ep",
                "endpoint": True,
                "Address": "b@x",
                "DeliveryStatus": "OPT_OUT",
                "StatusCode": 400,
                "StatusMessage": None,
                "MessageId": None,
            },
        ]

    def test_errors_map_to_fields(self) -> None:
        assert send.field_of("Invalid value for MessageRequest.Addresses.x.ChannelType: 'Y'") == "address"
        assert send.field_of("Invalid value for MessageRequest.Endpoints: at most 100") == "endpoint"
        assert send.field_of("Template welcome version 9 of type EMAIL was not found.") == "form"
