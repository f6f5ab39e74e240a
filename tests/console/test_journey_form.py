"""The journey editor's form both ways (pure, no browser): the fields a browser posts -> the
WriteJourneyRequest -> the fields again, for every activity type and the journey's settings; the
request decodes against botocore's model and passes the request rules; the editor's buttons; where
an API error goes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from api.journeys import write_request
from console import journey_form as forms
from console.journey_saved import from_journey as saved_form
from rules import journeys as rules

# Every activity type, chained in the order a participant meets them.
FORM = {
    "name": "Everything",
    "entry": "event",
    "segment": "seg1",
    "events": "signed_up",
    "attribute": "plan",
    "attribute_op": "INCLUSIVE",
    "attribute_values": "gold, silver",
    "metric": "spend",
    "metric_op": "GREATER_THAN",
    "metric_value": "12.5",
    "start": "2031-03-01T09:00",
    "end": "2031-06-01T18:30",
    "timezone": "UTC+09",
    "refresh": "",
    "quiet_start": "22:00",
    "quiet_end": "07:00",
    "daily_cap": "2",
    "total_cap": "10",
    "reentry_cap": "3",
    "reentry_interval": "P7D",
    "per_second": "50",
    "start_activity": "email1",
    "a0.id": "email1", "a0.kind": "EMAIL", "a0.template": "welcome", "a0.version": "2", "a0.next": "wait1",
    "a0.description": "Say hello",
    "a1.id": "wait1", "a1.kind": "Wait", "a1.wait": "for", "a1.wait_for": "P1D", "a1.next": "yesno1",
    "a2.id": "yesno1", "a2.kind": "ConditionalSplit", "a2.c.kind": "event", "a2.c.message": "email1",
    "a2.c.events": "_email.open", "a2.evaluation": "PT12H", "a2.next": "sms1", "a2.other": "multi1",
    "a3.id": "sms1", "a3.kind": "SMS", "a3.template": "nudge", "a3.next": "",
    "a4.id": "multi1", "a4.kind": "MultiCondition", "a4.b0.c.kind": "segment", "a4.b0.c.segment": "seg2",
    "a4.b0.next": "push1", "a4.b1.c.kind": "event", "a4.b1.c.message": "email1", "a4.b1.c.events": "_email.click",
    "a4.b1.next": "custom1", "a4.next": "random1",
    "a5.id": "push1", "a5.kind": "PUSH", "a5.template": "ping",
    "a6.id": "custom1", "a6.kind": "CUSTOM", "a6.template": "hook", "a6.delivery_uri": "https://example.com/hook",
    "a7.id": "random1", "a7.kind": "RandomSplit", "a7.b0.percentage": "70", "a7.b0.next": "holdout1",
    "a7.b1.percentage": "30", "a7.b1.next": "wait2",
    "a8.id": "holdout1", "a8.kind": "Holdout", "a8.percentage": "10", "a8.next": "",
    "a9.id": "wait2", "a9.kind": "Wait", "a9.wait": "until", "a9.wait_until": "2031-04-01T12:00",
}  # fmt: skip

REQUEST: dict[str, Any] = {
    "Name": "Everything",
    "Activities": {
        "email1": {
            "EMAIL": {"TemplateName": "welcome", "TemplateVersion": "2", "NextActivity": "wait1"},
            "Description": "Say hello",
        },
        "wait1": {"Wait": {"WaitTime": {"WaitFor": "P1D"}, "NextActivity": "yesno1"}},
        "yesno1": {
            "ConditionalSplit": {
                "Condition": {
                    "Conditions": [
                        {
                            "EventCondition": {
                                "MessageActivity": "email1",
                                "Dimensions": {"EventType": {"DimensionType": "INCLUSIVE", "Values": ["_email.open"]}},
                            }
                        }
                    ]
                },
                "EvaluationWaitTime": {"WaitFor": "PT12H"},
                "TrueActivity": "sms1",
                "FalseActivity": "multi1",
            }
        },
        "sms1": {"SMS": {"TemplateName": "nudge"}},
        "multi1": {
            "MultiCondition": {
                "Branches": [
                    {"Condition": {"SegmentCondition": {"SegmentId": "seg2"}}, "NextActivity": "push1"},
                    {
                        "Condition": {
                            "EventCondition": {
                                "MessageActivity": "email1",
                                "Dimensions": {"EventType": {"DimensionType": "INCLUSIVE", "Values": ["_email.click"]}},
                            }
                        },
                        "NextActivity": "custom1",
                    },
                ],
                "DefaultActivity": "random1",
            }
        },
        "push1": {"PUSH": {"TemplateName": "ping"}},
        "custom1": {"CUSTOM": {"TemplateName": "hook", "DeliveryUri": "https://example.com/hook"}},
        "random1": {
            "RandomSplit": {
                "Branches": [
                    {"Percentage": 70, "NextActivity": "holdout1"},
                    {"Percentage": 30, "NextActivity": "wait2"},
                ]
            }
        },
        "holdout1": {"Holdout": {"Percentage": 10}},
        "wait2": {"Wait": {"WaitTime": {"WaitUntil": "2031-04-01T12:00:00Z"}}},
    },
    "StartActivity": "email1",
    "StartCondition": {
        "EventStartCondition": {
            "EventFilter": {
                "FilterType": "ENDPOINT",
                "Dimensions": {
                    "EventType": {"DimensionType": "INCLUSIVE", "Values": ["signed_up"]},
                    "Attributes": {"plan": {"AttributeType": "INCLUSIVE", "Values": ["gold", "silver"]}},
                    "Metrics": {"spend": {"ComparisonOperator": "GREATER_THAN", "Value": 12.5}},
                },
            },
            "SegmentId": "seg1",
        }
    },
    "Schedule": {
        "StartTime": "2031-03-01T09:00:00+09:00",
        "EndTime": "2031-06-01T18:30:00+09:00",
        "Timezone": "UTC+09",
    },
    "Limits": {
        "DailyCap": 2,
        "TotalCap": 10,
        "EndpointReentryCap": 3,
        "MessagesPerSecond": 50,
        "EndpointReentryInterval": "P7D",
    },  # fmt: skip
    "QuietTime": {"Start": "22:00", "End": "07:00"},
}


def _stored(request: dict[str, Any]) -> dict[str, Any]:
    """The request as the API stores and answers it (decoded, then JSON again)."""
    answer: dict[str, Any] = orjson.loads(orjson.dumps(write_request(request)))
    return answer


def test_every_activity_type_form_to_request_and_back() -> None:
    draft = forms.from_form(FORM)
    request = forms.to_request(draft)
    assert request == REQUEST
    rules.check_journey(write_request(request), now=datetime(2030, 1, 1, tzinfo=UTC))  # the API's own checks
    again, problems = saved_form(_stored(request))
    assert problems == []
    assert again == draft
    assert forms.to_request(again) == request


def test_segment_entry_local_time_and_refresh() -> None:
    form = {"name": "Seg", "entry": "segment", "segment": "s1", "local_time": "1", "refresh": "PT2H",
            "start_activity": "", "timezone": ""}  # fmt: skip
    request = forms.to_request(forms.from_form(form))
    assert request == {
        "Name": "Seg",
        "StartCondition": {"SegmentStartCondition": {"SegmentId": "s1"}},
        "LocalTime": True,
        "RefreshFrequency": "PT2H",
    }
    assert forms.to_request(saved_form(_stored(request))[0]) == request


def test_what_the_form_does_not_show_is_carried_over_on_edit() -> None:
    saved = {
        "Name": "Kept",
        "Schedule": {"StartTime": "2031-03-01T09:00:41.250000+00:00", "Timezone": "UTC"},
        "Limits": {"DailyCap": 1, "TimeframeCap": {"Cap": 2, "Days": 7}},
        "OpenHours": {"EMAIL": {"MONDAY": [{"StartTime": "09:00", "EndTime": "17:00"}]}},
        "SendingSchedule": True,
    }
    draft, problems = saved_form(saved)
    assert problems == [] and draft.start == "2031-03-01T09:00"
    request = forms.to_request(draft, keep=saved)
    # The StartTime shown to the minute and unchanged is the saved one, seconds and all.
    assert request["Schedule"]["StartTime"] == "2031-03-01T09:00:41.250000+00:00"
    assert request["Limits"] == {"DailyCap": 1, "TimeframeCap": {"Cap": 2, "Days": 7}}
    assert request["OpenHours"] == saved["OpenHours"] and request["SendingSchedule"] is True
    draft.start = "2031-03-02T10:00"
    assert forms.to_request(draft, keep=saved)["Schedule"]["StartTime"] == "2031-03-02T10:00:00Z"


def test_what_the_editor_cannot_show_is_listed() -> None:
    journey = {
        "Name": "Api",
        "Activities": {
            "a": {"EMAIL": {"TemplateName": "t", "MessageConfig": {"FromAddress": "x@example.com"}}},
            "b": {"ContactCenter": {}},
            "c": {"ConditionalSplit": {"Condition": {"Conditions": [{"SegmentDimensions": {}}]}}},
        },
    }
    _draft, problems = saved_form(journey)
    assert len(problems) == 3


def test_values_that_are_not_numbers_go_to_the_model_as_typed() -> None:
    draft = forms.from_form({"name": "x", "daily_cap": "two", "a0.id": "holdout1", "a0.kind": "Holdout",
                             "a0.percentage": "ten"})  # fmt: skip
    request = forms.to_request(draft)
    assert request["Limits"] == {"DailyCap": "two"}
    assert request["Activities"]["holdout1"] == {"Holdout": {"Percentage": "ten"}}


def test_buttons_add_and_remove_cards_and_branches() -> None:
    draft = forms.Draft(name="b")
    forms.apply(draft, "add", "EMAIL")
    forms.apply(draft, "add", "RandomSplit")
    forms.apply(draft, "add", "EMAIL")
    assert draft.ids() == ["email1", "random1", "email2"]
    assert draft.start_activity == "email1"  # the first card added
    assert [b.percentage for b in draft.activities[1].branches] == ["50", "50"]
    draft.activities[0].next = "random1"
    draft.activities[1].branches[0].next = "email2"
    forms.apply(draft, "add-branch:1", "")
    forms.apply(draft, "remove-branch:1.1", "")
    assert len(draft.activities[1].branches) == 2
    forms.apply(draft, "remove:2", "")  # paths to the removed card end instead
    assert draft.ids() == ["email1", "random1"] and draft.activities[1].branches[0].next == ""
    forms.apply(draft, "remove:0", "")
    assert draft.start_activity == ""
    forms.apply(draft, "remove:9", "")
    forms.apply(draft, "add", "VOICE")  # no such journey activity in Pinpoint's model
    assert draft.ids() == ["random1"]


def test_where_an_api_error_goes() -> None:
    draft = forms.from_form(FORM)
    at = "WriteJourneyRequest.Activities"
    assert forms.field_of(f"Missing required member {at}.sms1.SMS.TemplateName: x", draft) == "a3.template"
    assert forms.field_of(f"{at}.email1.EMAIL.TemplateName: template nope was not found.", draft) == "a0.template"
    assert forms.field_of(f"Invalid value for {at}.random1.RandomSplit.Branches[1].Percentage: x", draft) == (
        "a7.b1.percentage"
    )
    assert forms.field_of(f"Invalid value for {at}.multi1.MultiCondition.Branches[0].Condition: x", draft) == (
        "a4.b0.condition"
    )
    assert forms.field_of(f"Invalid value for {at}.wait1.Wait.WaitTime.WaitFor: x", draft) == "a1.wait"
    assert forms.field_of(f"Invalid value for {at}.bad!: x", draft) == "activities"
    assert forms.field_of(f"{at} cannot change once the journey is ACTIVE.", draft) == "activities"
    assert forms.field_of("Invalid value for WriteJourneyRequest.Schedule.EndTime: x", draft) == "end"
    assert forms.field_of(
        "Journey validation failed, Start time x (WriteJourneyRequest.Schedule.StartTime)", draft
    ) == ("start")
    assert forms.field_of("Invalid value for WriteJourneyRequest.Limits.DailyCap: x", draft) == "limits"
    assert forms.field_of("Invalid value for WriteJourneyRequest.Name: x", draft) == "name"
    assert forms.field_of("The journey is COMPLETED: it cannot be edited.", draft) == ""


def test_the_alert_links_to_the_field() -> None:
    assert forms.anchor_of("a7.b1.percentage") == "a7-b1-percentage"
    assert forms.anchor_of("a2.condition") == "a2-c-kind"
    assert forms.anchor_of("a4.b0.condition") == "a4-b0-c-kind"
    assert forms.anchor_of("a1.wait") == "a1-wait_for"
    assert forms.anchor_of("entry") == "segment"
    assert forms.anchor_of("name") == "name"
