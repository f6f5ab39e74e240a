"""WriteCampaignRequest rules the model cannot express, as plain functions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from openpoint.errors import BadRequest
from rules.campaigns import (
    check_campaign,
    check_segment_use,
    is_timezone,
    rendered_texts,
    start_times,
    stored_definition,
    template_refs,
)
from templating.render import check_template

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
LATER = "2026-06-02T09:00:00Z"
FILTER = {"FilterType": "ENDPOINT", "Dimensions": {"EventType": {"Values": ["signup"]}}}


def request(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "SegmentId": "s" * 32,
        "Name": "spring",
        "Schedule": {"StartTime": LATER, "Frequency": "ONCE"},
        "MessageConfiguration": {"SMSMessage": {"Body": "Hi {{Attributes.Name}}"}},
    }
    return {**base, **overrides}


def schedule(**members: Any) -> dict[str, Any]:
    return {"Schedule": {"StartTime": LATER, **members}}


def refused(req: dict[str, Any], **kwargs: Any) -> str:
    with pytest.raises(BadRequest) as e:
        check_campaign(req, now=NOW, **kwargs)
    return e.value.message


class TestAccepted:
    def test_a_full_request(self) -> None:
        check_campaign(
            request(
                HoldoutPercent=10,
                IsPaused=True,
                Limits={"Daily": 100, "Total": 100, "MessagesPerSecond": 20_000, "MaximumDuration": 60},
                Schedule={
                    "StartTime": LATER,
                    "EndTime": "2026-07-01T00:00:00.000Z",
                    "Frequency": "WEEKLY",
                    "Timezone": "UTC+05:45",
                    "QuietTime": {"Start": "22:00", "End": "07:30"},
                },
                AdditionalTreatments=[{"SizePercent": 45, "TreatmentName": "b"}, {"SizePercent": 45}],
                CustomDeliveryConfiguration={"DeliveryUri": "https://hooks.example.com/in"},
            ),
            now=NOW,
        )

    @pytest.mark.parametrize("start", ["IMMEDIATE", "2026-06-01T11:59:57Z", "2026-06-01T14:00:00+02:00"])
    def test_start_times_within_the_grace(self, start: str) -> None:
        check_campaign(request(Schedule={"StartTime": start}), now=NOW)

    def test_a_template_alone_is_content(self) -> None:
        req = request(TemplateConfiguration={"EmailTemplate": {"Name": "welcome"}})
        del req["MessageConfiguration"]
        check_campaign(req, now=NOW)

    def test_an_update_may_keep_a_start_that_has_passed(self) -> None:
        req = request(Schedule={"StartTime": "2026-05-01T00:00:00Z", "Frequency": "DAILY"}, IsPaused=True)
        check_campaign(req, now=NOW, accepted_starts=start_times(req))

    def test_recurring_without_end_time(self) -> None:
        check_campaign(request(Schedule={"StartTime": LATER, "Frequency": "HOURLY"}), now=NOW)

    @pytest.mark.parametrize("zone", ["UTC", "UTC+13", "UTC-11", "UTC+05:30", "UTC-03:30", "Europe/Paris"])
    def test_time_zones(self, zone: str) -> None:
        assert is_timezone(zone)


class TestRefused:
    @pytest.mark.parametrize("member", ["SegmentId", "Name", "Schedule"])
    def test_required_members(self, member: str) -> None:
        req = request()
        del req[member]
        assert refused(req) == f"Missing required member WriteCampaignRequest.{member}."

    def test_content_is_required(self) -> None:
        req = request()
        del req["MessageConfiguration"]
        assert "WriteCampaignRequest.MessageConfiguration" in refused(req)
        assert "WriteCampaignRequest.MessageConfiguration" in refused({**req, "MessageConfiguration": {}})

    def test_start_in_the_past(self) -> None:
        assert (
            refused(request(**schedule(StartTime="2026-06-01T11:59:00Z"))) == "StartTime must be at least current time."
        )

    def test_an_update_may_not_move_the_start_into_the_past(self) -> None:
        req = request(**schedule(StartTime="2026-05-01T00:00:00Z"))
        assert "current time" in refused(req, accepted_starts=frozenset({"2026-05-02T00:00:00Z"}))

    @pytest.mark.parametrize(
        ("members", "path"),
        [
            ({"StartTime": "next tuesday"}, "Schedule.StartTime"),
            ({"EndTime": "2026-06-02T08:00:00Z"}, "Schedule.EndTime"),
            ({"EndTime": "soon"}, "Schedule.EndTime"),
            ({"Frequency": "IN_APP_EVENT"}, "Schedule.Frequency"),
            ({"Frequency": "EVENT"}, "Schedule.EventFilter"),
            ({"Timezone": "UTC+14"}, "Schedule.Timezone"),
            ({"Timezone": "CEST"}, "Schedule.Timezone"),
            ({"QuietTime": {"Start": "25:00", "End": "07:00"}}, "Schedule.QuietTime.Start"),
            ({"QuietTime": {"Start": "22:00", "End": "7h"}}, "Schedule.QuietTime.End"),
        ],
    )
    def test_schedule(self, members: dict[str, Any], path: str) -> None:
        assert f"WriteCampaignRequest.{path}" in refused(request(Schedule={"StartTime": LATER, **members}))

    def test_in_app_campaigns_are_not_supported(self) -> None:
        assert "not supported" in refused(request(**schedule(Frequency="IN_APP_EVENT")))

    def test_immediate_campaigns_cannot_be_paused(self) -> None:
        message = refused(request(IsPaused=True, Schedule={"StartTime": "IMMEDIATE"}))
        assert "WriteCampaignRequest.IsPaused" in message

    @pytest.mark.parametrize(
        ("members", "path"),
        [
            ({"HoldoutPercent": 101}, "HoldoutPercent"),
            ({"HoldoutPercent": -1}, "HoldoutPercent"),
            ({"AdditionalTreatments": [{"SizePercent": 10}] * 5}, "AdditionalTreatments"),
            ({"AdditionalTreatments": [{"SizePercent": 101}]}, "AdditionalTreatments[0].SizePercent"),
            ({"HoldoutPercent": 30, "AdditionalTreatments": [{"SizePercent": 40}] * 2}, "AdditionalTreatments"),
            ({"Limits": {"Daily": 101}}, "Limits.Daily"),
            ({"Limits": {"Total": 101}}, "Limits.Total"),
            ({"Limits": {"MessagesPerSecond": 0}}, "Limits.MessagesPerSecond"),
            ({"Limits": {"MessagesPerSecond": 20_001}}, "Limits.MessagesPerSecond"),
            ({"Limits": {"MaximumDuration": 59}}, "Limits.MaximumDuration"),
        ],
    )
    def test_percentages_and_limits(self, members: dict[str, Any], path: str) -> None:
        assert f"WriteCampaignRequest.{path}:" in refused(request(**members))

    @pytest.mark.parametrize(
        ("config", "path"),
        [
            ({"GCMMessage": {"Body": "x" * 201}}, "GCMMessage.Body"),
            ({"DefaultMessage": {"Body": "x" * 201}}, "DefaultMessage.Body"),
            ({"CustomMessage": {"Data": "x" * 5121}}, "CustomMessage.Data"),
            ({"EmailMessage": {"Headers": [{"Name": "X-A", "Value": "1"}] * 16}}, "EmailMessage.Headers"),
            ({"EmailMessage": {"Headers": [{"Name": "X" * 127, "Value": "1"}]}}, "EmailMessage.Headers[0].Name"),
            ({"EmailMessage": {"Headers": [{"Name": "X-A", "Value": "v" * 871}]}}, "EmailMessage.Headers[0].Value"),
        ],
    )
    def test_message_sizes(self, config: dict[str, Any], path: str) -> None:
        assert f"WriteCampaignRequest.MessageConfiguration.{path}:" in refused(request(MessageConfiguration=config))

    def test_sizes_at_the_limit_pass(self) -> None:
        config = {
            "APNSMessage": {"Body": "é" * 200},
            "CustomMessage": {"Data": "x" * 5120},
            "EmailMessage": {"Headers": [{"Name": "X" * 126, "Value": "v" * 870}] * 15},
        }
        check_campaign(request(MessageConfiguration=config), now=NOW)

    def test_treatments_are_checked_with_their_path(self) -> None:
        treatment = {"SizePercent": 10, "MessageConfiguration": {"APNSMessage": {"Body": "x" * 201}}}
        assert "AdditionalTreatments[0].MessageConfiguration.APNSMessage.Body" in refused(
            request(AdditionalTreatments=[treatment])
        )
        late = {"SizePercent": 10, "Schedule": {"StartTime": "2020-01-01T00:00:00Z"}}
        assert "current time" in refused(request(AdditionalTreatments=[late]))

    def test_voice_templates_are_refused(self) -> None:
        req = request(TemplateConfiguration={"VoiceTemplate": {"Name": "call"}})
        del req["MessageConfiguration"]
        assert "WriteCampaignRequest.TemplateConfiguration.VoiceTemplate" in refused(req)

    def test_a_template_needs_a_name(self) -> None:
        message = refused(request(TemplateConfiguration={"SMSTemplate": {"Version": "1"}}))
        assert message == "Missing required member WriteCampaignRequest.TemplateConfiguration.SMSTemplate.Name."

    @pytest.mark.parametrize(
        "uri", ["http://hooks.example.com/in", "arn:aws:lambda:us-east-1:12345:function:short-account", "a/b"]
    )
    def test_custom_delivery_is_an_https_webhook_or_a_function(self, uri: str) -> None:
        message = refused(request(CustomDeliveryConfiguration={"DeliveryUri": uri}))
        assert "CustomDeliveryConfiguration.DeliveryUri" in message

    @pytest.mark.parametrize(
        "uri",
        [
            "arn:aws:lambda:us-east-1:123456789012:function:deliver",
            "arn:aws:lambda:us-east-1:123456789012:function:deliver:live",
            "123456789012:function:deliver",
            "deliver",
            "https://hooks.example.com/in",
        ],
    )
    def test_custom_delivery_takes_what_pinpoint_takes(self, uri: str) -> None:
        check_campaign(request(CustomDeliveryConfiguration={"DeliveryUri": uri}), now=NOW)


class TestSegmentUse:
    def test_event_campaigns_need_a_dynamic_segment(self) -> None:
        req = request(**schedule(Frequency="EVENT", EventFilter=FILTER))
        check_segment_use(req, "DIMENSIONAL", 24)
        with pytest.raises(BadRequest, match=r"WriteCampaignRequest\.SegmentId"):
            check_segment_use(req, "IMPORT", 0)

    def test_at_most_25_event_campaigns(self) -> None:
        req = request(**schedule(Frequency="EVENT", EventFilter=FILTER))
        with pytest.raises(BadRequest, match=r"WriteCampaignRequest\.Schedule\.Frequency: .* 25"):
            check_segment_use(req, "DIMENSIONAL", 25)

    def test_time_based_campaigns_may_use_imported_segments(self) -> None:
        check_segment_use(request(), "IMPORT", 25)


class TestDerived:
    def test_stored_definition_numbers_treatments_and_drops_tags(self) -> None:
        req = request(tags={"a": "b"}, AdditionalTreatments=[{"SizePercent": 10}, {"SizePercent": 20}])
        stored = stored_definition(req)
        assert "tags" not in stored and "tags" in req
        assert [t["Id"] for t in stored["AdditionalTreatments"]] == ["1", "2"]
        assert stored["Name"] == "spring" and "Id" not in req["AdditionalTreatments"][0]

    def test_template_refs_cover_every_treatment(self) -> None:
        req = request(
            TemplateConfiguration={"EmailTemplate": {"Name": "a"}, "PushTemplate": {"Name": "p", "Version": "2"}},
            AdditionalTreatments=[{"SizePercent": 5, "TemplateConfiguration": {"SMSTemplate": {"Name": "s"}}}],
        )
        refs = [(r.template_type, r.name, r.version, r.field) for r in template_refs(req)]
        assert refs == [
            ("EMAIL", "a", None, "WriteCampaignRequest.TemplateConfiguration.EmailTemplate"),
            ("PUSH", "p", "2", "WriteCampaignRequest.TemplateConfiguration.PushTemplate"),
            ("SMS", "s", None, "WriteCampaignRequest.AdditionalTreatments[0].TemplateConfiguration.SMSTemplate"),
        ]

    def test_rendered_texts_name_their_members(self) -> None:
        req = request(
            MessageConfiguration={
                "EmailMessage": {"Title": "Hi", "HtmlBody": "<p>{{User.UserId}}</p>", "FromAddress": "a@b.c"},
                "CustomMessage": {"Data": '{"x": "{{Id}}"}'},
            },
            AdditionalTreatments=[
                {"SizePercent": 5, "MessageConfiguration": {"GCMMessage": {"Body": "{{#if Attributes.Vip}}no end"}}}
            ],
        )
        texts = rendered_texts(req)
        assert [f for _t, f in texts] == [
            "WriteCampaignRequest.MessageConfiguration.EmailMessage.Title",
            "WriteCampaignRequest.MessageConfiguration.EmailMessage.HtmlBody",
            "WriteCampaignRequest.MessageConfiguration.CustomMessage.Data",
            "WriteCampaignRequest.AdditionalTreatments[0].MessageConfiguration.GCMMessage.Body",
        ]
        for text, field in texts[:-1]:
            check_template(text, field)
        with pytest.raises(BadRequest, match=r"AdditionalTreatments\[0\]\.MessageConfiguration\.GCMMessage\.Body"):
            check_template(*texts[-1])

    def test_start_times(self) -> None:
        req = request(AdditionalTreatments=[{"SizePercent": 5, "Schedule": {"StartTime": "IMMEDIATE"}}])
        assert start_times(req) == {LATER, "IMMEDIATE"}
