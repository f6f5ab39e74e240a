"""The campaign wizard's form ⇄ WriteCampaignRequest (pure, no browser): every option the form
offers goes out as the API's members and comes back into the same fields; what the form cannot
hold makes the campaign not editable; an error's member path finds its field; the review."""

from __future__ import annotations

from typing import Any

import pytest

from api.campaigns import write_request
from console import campaign_form as f
from console.campaign_review import review
from openpoint.errors import BadRequest

EMAIL_AB: dict[str, Any] = {
    "Name": "Spring A/B",
    "Description": "two subjects",
    "SegmentId": "seg1",
    "SegmentVersion": 2,
    "TreatmentName": "Control",
    "TreatmentDescription": "plain",
    "Schedule": {"StartTime": "2030-01-05T09:00:00Z", "Frequency": "ONCE"},
    "MessageConfiguration": {
        "EmailMessage": {"Title": "Hi", "HtmlBody": "<p>Hi</p>", "Body": "Hi", "FromAddress": "a@example.com"}
    },
    "HoldoutPercent": 10,
    "AdditionalTreatments": [
        {"SizePercent": 30, "TreatmentName": "B", "TemplateConfiguration": {"EmailTemplate": {"Name": "welcome"}}},
        {
            "SizePercent": 20,
            "TreatmentDescription": "pinned",
            "TemplateConfiguration": {"EmailTemplate": {"Name": "welcome", "Version": "3"}},
        },
    ],
}
RECURRING_LOCAL: dict[str, Any] = {
    "Name": "Daily digest",
    "SegmentId": "seg1",
    "Schedule": {
        "StartTime": "2030-02-01T08:30:00Z",
        "EndTime": "2030-03-01T08:30:00Z",
        "Frequency": "DAILY",
        "IsLocalTime": True,
        "Timezone": "UTC+05:30",
        "QuietTime": {"Start": "22:00", "End": "07:00"},
    },
    "Limits": {"Daily": 1, "Total": 20, "MessagesPerSecond": 50, "MaximumDuration": 600, "Session": 2},
    "MessageConfiguration": {
        "SMSMessage": {
            "Body": "Your digest",
            "MessageType": "PROMOTIONAL",
            "SenderId": "SHOP",
            "OriginationNumber": "+15550100",
        }
    },
}
EVENT: dict[str, Any] = {
    "Name": "After purchase",
    "SegmentId": "seg1",
    "Schedule": {
        "StartTime": "IMMEDIATE",
        "Frequency": "EVENT",
        "EventFilter": {
            "FilterType": "ENDPOINT",
            "Dimensions": {
                "EventType": {"DimensionType": "INCLUSIVE", "Values": ["purchase", "refund"]},
                "Attributes": {"plan": {"AttributeType": "EXCLUSIVE", "Values": ["free", "trial"]}},
                "Metrics": {"price": {"ComparisonOperator": "GREATER_THAN", "Value": 9.5}},
            },
        },
    },
    "MessageConfiguration": {
        "DefaultMessage": {"Title": "Thanks", "Body": "Enjoy", "Action": "URL", "Url": "https://x.example/"}
    },
}
SYSTEM_EVENT_SMS_TEMPLATE: dict[str, Any] = {
    "Name": "Bounce follow-up",
    "SegmentId": "seg1",
    "Schedule": {
        "StartTime": "2030-01-01T00:00:00Z",
        "EndTime": "2030-06-01T00:00:00Z",
        "Frequency": "EVENT",
        "EventFilter": {
            "FilterType": "SYSTEM",
            "Dimensions": {"EventType": {"DimensionType": "EXCLUSIVE", "Values": ["_email.delivered"]}},
        },
    },
    "TemplateConfiguration": {"SMSTemplate": {"Name": "sorry", "Version": "1"}},
}
CUSTOM: dict[str, Any] = {
    "Name": "Hook",
    "SegmentId": "seg1",
    "Schedule": {"StartTime": "IMMEDIATE", "Frequency": "ONCE"},
    "MessageConfiguration": {"CustomMessage": {"Data": '{"a": 1}'}},
    "CustomDeliveryConfiguration": {"DeliveryUri": "https://hook.example/x", "EndpointTypes": ["EMAIL", "SMS"]},
    "IsPaused": False,
}
PUSH_WEEKLY_TEMPLATE: dict[str, Any] = {
    "Name": "Weekly push",
    "SegmentId": "seg1",
    "Schedule": {"StartTime": "2030-01-07T10:00:00.000Z", "Frequency": "WEEKLY"},
    "TemplateConfiguration": {"PushTemplate": {"Name": "news"}},
    "IsPaused": True,
    "Priority": 3,
}


@pytest.mark.parametrize(
    "definition",
    [EMAIL_AB, RECURRING_LOCAL, EVENT, SYSTEM_EVENT_SMS_TEMPLATE, CUSTOM, PUSH_WEEKLY_TEMPLATE],
    ids=["email-ab", "recurring-local", "event", "system-event-template", "custom", "push-weekly"],
)
def test_every_option_round_trips(definition: dict[str, Any]) -> None:
    form = f.form_of(definition)
    again = f.request_of(form, kept=definition)
    assert f.editable(definition)
    assert again == definition
    # ... and the browser's post of those fields (read back by the route) gives the same request
    assert f.request_of(f.read(form), kept=definition) == definition
    write_request(again)  # the model takes it


def test_a_stored_response_with_ids_and_states_is_editable() -> None:
    stored = {
        **EMAIL_AB,
        "AdditionalTreatments": [{**t, "Id": str(i)} for i, t in enumerate(EMAIL_AB["AdditionalTreatments"], 1)],
    }
    assert f.editable(stored)


@pytest.mark.parametrize(
    "definition",
    [
        {**EMAIL_AB, "MessageConfiguration": {"EmailMessage": {"Title": "x"}, "SMSMessage": {"Body": "y"}}},
        {**EMAIL_AB, "AdditionalTreatments": [{"SizePercent": 5, "Schedule": {"StartTime": "IMMEDIATE"}}]},
        {
            **EMAIL_AB,
            "MessageConfiguration": {"EmailMessage": {"Title": "x", "Headers": [{"Name": "a", "Value": "b"}]}},
        },
        {
            **EVENT,
            "Schedule": {
                **EVENT["Schedule"],
                "EventFilter": {"FilterType": "ENDPOINT", "Dimensions": {"Attributes": {"a": {"Values": ["x,y"]}}}},
            },
        },
    ],
    ids=["two-channels", "treatment-schedule", "email-headers", "comma-in-a-value"],
)
def test_what_the_form_cannot_hold_is_not_editable(definition: dict[str, Any]) -> None:
    assert not f.editable(definition)


def test_the_blank_form_sends_now_and_numbers_stay_text_for_the_api_to_refuse() -> None:
    form = {**f.blank(), "name": "x", "segment": "s", "t0.subject": "Hi", "limit_daily": "lots"}
    request = f.request_of(form)
    assert request["Schedule"] == {"StartTime": "IMMEDIATE", "Frequency": "ONCE"}
    assert request["Limits"] == {"Daily": "lots"}
    with pytest.raises(BadRequest) as refused:
        write_request(request)
    assert f.field_of(refused.value.message) == "limit_daily"


def test_a_changed_start_is_sent_as_typed_an_unchanged_one_as_it_was() -> None:
    form = f.form_of(PUSH_WEEKLY_TEMPLATE)
    assert form["start"] == "2030-01-07T10:00"
    assert f.request_of(form)["Schedule"]["StartTime"] == "2030-01-07T10:00:00.000Z"
    form["start"] = "2030-01-08T11:15"
    assert f.request_of(form)["Schedule"]["StartTime"] == "2030-01-08T11:15:00Z"


def test_event_rows_keep_one_blank_row_and_skip_empty_ones() -> None:
    form = f.form_of(EVENT)
    assert [r["name"] for r in f.rows(form, "ea")] == ["plan", ""]
    posted = {
        **form,
        "when": "event",
        "ea1.op": "INCLUSIVE",
        "em3.name": "qty",
        "em3.op": "LESS_THAN",
        "em3.value": "2",
    }
    metrics = f.request_of(f.read(posted))["Schedule"]["EventFilter"]["Dimensions"]["Metrics"]
    assert metrics == {
        "price": {"ComparisonOperator": "GREATER_THAN", "Value": 9.5},
        "qty": {"ComparisonOperator": "LESS_THAN", "Value": 2.0},
    }


@pytest.mark.parametrize(
    ("message", "field"),
    [
        (
            "Invalid value for WriteCampaignRequest.AdditionalTreatments[1].SizePercent: must be between 0 and 100.",
            "t2.size",
        ),
        (
            "Invalid value for WriteCampaignRequest.AdditionalTreatments: HoldoutPercent and ... more than 100.",
            "treatments",
        ),
        (
            "WriteCampaignRequest.AdditionalTreatments[0].TemplateConfiguration.EmailTemplate: EMAIL template x"
            " was not found.",
            "t1.template",
        ),
        ("StartTime must be at least current time.", "start"),
        ("Invalid value for WriteCampaignRequest.Schedule.EndTime: EndTime must be later than StartTime.", "end"),
        ("Invalid value for WriteCampaignRequest.Schedule.Timezone: 'Mars' is not ...", "timezone"),
        ("Invalid value for WriteCampaignRequest.Schedule.QuietTime.End: '25:00' is not HH:MM (24-hour).", "quiet_end"),
        (
            "Invalid value for WriteCampaignRequest.Schedule.EventFilter.Dimensions.Metrics.price.Value: expected",
            "event_metrics",
        ),
        ("Missing required member WriteCampaignRequest.MessageConfiguration: a campaign needs ...", "t0.content"),
        ("Invalid value for WriteCampaignRequest.MessageConfiguration.SMSMessage.MessageType: x", "t0.sms_type"),
        ("Invalid value for WriteCampaignRequest.Limits.MessagesPerSecond: must be between 1 and 20000.", "limit_mps"),
        ("Missing required member WriteCampaignRequest.SegmentId.", "segment"),
        ("Invalid value for WriteCampaignRequest.SegmentVersion: expected an integer, got string.", "segment_version"),
        ("Invalid value for WriteCampaignRequest.CustomDeliveryConfiguration.DeliveryUri: x", "t0.delivery_uri"),
        ("The request body is not valid JSON.", ""),
    ],
)
def test_an_error_goes_by_the_field_its_member_path_names(message: str, field: str) -> None:
    assert f.field_of(message) == field


def test_adding_and_removing_treatments_in_the_read_form() -> None:
    posted = {**f.form_of(EMAIL_AB), "treatments": "9"}
    assert f.treatment_count(f.read(posted)) == f.MAX_TREATMENTS


def test_the_review_says_what_the_request_does() -> None:
    shown = dict(review(EMAIL_AB, {"seg1": "Gold"}))
    assert shown["Segment"] == "Gold, version 2"
    assert shown["Holdout"] == "10%"
    assert shown["Default treatment (40%)"].startswith("Email message: Hi")
    assert shown["Treatment 1: B (30%)"] == "Email template welcome, its active version"
    assert shown["Treatment 2 (20%)"] == "Email template welcome, version 3"
    local = dict(review(RECURRING_LOCAL, {}))
    assert local["Schedule"].startswith(
        "Daily, from 2030-02-01T08:30:00Z, until 2030-03-01T08:30:00Z, in each endpoint's local time"
    )
    assert local["Quiet time"] == "22:00 to 07:00"
    assert dict(review(EVENT, {}))["Schedule"].startswith("When an endpoint's event arrives (purchase, refund)")
