"""Email facets and SMS attributes of event-stream records (Pinpoint's "Email events" and "SMS
events" shapes), from what OpenPoint's standard events carry; and the credentials a stream may
hold (`openpoint streams credentials`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from rules.event_record_facets import email_facets, sms_attributes, sms_metrics, sms_record_status, standard_parts
from rules.event_records import record, stream_credentials

AT = datetime(2026, 11, 20, 10, 5, tzinfo=UTC)
AT_MS = 1795169100000

# What the deliverer writes on a campaign's email (channels/deliverer.py).
EMAIL_SENT = {
    "campaign_id": "c1",
    "treatment_id": "0",
    "channel_type": "EMAIL",
    "address": "ann@example.com",
    "message_id": "3f2a@openpoint",
    "delivery_status": "SUCCESSFUL",
    "status_code": "200",
    "source": "campaign",
    "source_id": "c1",
}


def _event(event_type: str, attributes: dict[str, Any], metrics: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "app_id": "app1",
        "endpoint_id": "ep-1",
        "event_id": "ev-1",
        "event_type": event_type,
        "event_time": AT,
        "session_id": None,
        "attributes": attributes,
        "metrics": metrics or {},
        "client": {},
        "received_at": AT,
    }


def _mail_event(r: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = r["facets"]["email_channel"]["mail_event"]
    return found


class TestEmail:
    def test_send(self) -> None:
        r = record(_event("_email.send", EMAIL_SENT), None, "1")
        assert r["attributes"] == {**EMAIL_SENT, "feedback": "received"}
        assert _mail_event(r) == {
            "mail": {
                "message_id": "3f2a@openpoint",
                "message_send_timestamp": AT_MS,
                "destination": ["ann@example.com"],
                "headers_truncated": False,
                "headers": [{"name": "To", "value": "ann@example.com"}],
                "common_headers": {"to": ["ann@example.com"]},
            },
            "send": {},
        }
        assert list(r)[-2:] == ["awsAccountId", "facets"]  # where Pinpoint's records have them

    def test_delivered(self) -> None:
        r = record(_event("_email.delivered", EMAIL_SENT), None, "1")
        assert r["attributes"]["feedback"] == "delivered"
        assert _mail_event(r)["delivery"] == {"recipients": ["ann@example.com"]}
        assert _mail_event(r)["mail"]["message_send_timestamp"] == AT_MS

    def test_from_and_subject_when_the_event_carries_them(self) -> None:
        attrs = {**EMAIL_SENT, "from_address": "shop@example.com", "subject": "Hello"}
        mail = _mail_event(record(_event("_email.send", attrs), None, "1"))["mail"]
        assert mail["from_address"] == "shop@example.com"
        assert mail["headers"] == [
            {"name": "From", "value": "shop@example.com"},
            {"name": "To", "value": "ann@example.com"},
            {"name": "Subject", "value": "Hello"},
        ]
        assert mail["common_headers"] == {"from": "shop@example.com", "to": ["ann@example.com"], "subject": "Hello"}

    def test_open_and_click(self) -> None:
        # What api/routes/engagement.py writes: the delivery's context and the link.
        opened = {k: v for k, v in EMAIL_SENT.items() if k not in ("delivery_status", "status_code")}
        r = record(_event("_email.open", opened), None, "1")
        assert r["attributes"]["feedback"] == "opened" and _mail_event(r)["open"] == {}
        # The send time is not known to an open: left out, not made up.
        assert "message_send_timestamp" not in _mail_event(r)["mail"]
        seen = {"ip_address": "192.0.2.1", "user_agent": "Mail/1.0"}
        clicked = {**opened, "link": "https://example.com/a", **seen}
        r = record(_event("_email.click", clicked), None, "1")
        assert r["attributes"]["feedback"] == "https://example.com/a"
        assert _mail_event(r)["click"] == {**seen, "link": "https://example.com/a"}

    def test_bounce_complaint_unsubscribe_reject(self) -> None:
        bounce = _mail_event(record(_event("_email.hardbounce", EMAIL_SENT), None, "1"))["bounce"]
        assert bounce == {
            "bounce_type": "Permanent",
            "bounce_sub_type": "General",
            "bounced_recipients": [{"email_address": "ann@example.com", "action": "failed"}],
        }
        soft = email_facets("_email.softbounce", EMAIL_SENT, AT_MS)
        assert soft is not None and soft["email_channel"]["mail_event"]["bounce"]["bounce_type"] == "Transient"
        complaint = email_facets("_email.complaint", EMAIL_SENT, AT_MS)
        assert complaint is not None
        assert complaint["email_channel"]["mail_event"]["complaint"] == {
            "complained_recipients": [{"email_address": "ann@example.com"}]
        }
        unsubscribed = email_facets("_email.unsubscribe", EMAIL_SENT, AT_MS)
        assert unsubscribed is not None and unsubscribed["email_channel"]["mail_event"]["unsubscribe"] == {}
        rejected = {**EMAIL_SENT, "delivery_status": "PERMANENT_FAILURE", "status_code": "400"}
        reject = _mail_event(record(_event("_email.rejected", rejected), None, "1"))["reject"]
        assert reject == {"reason": "PERMANENT_FAILURE"}

    def test_stored_feedback_wins(self) -> None:
        attributes, _, _ = standard_parts("_email.send", {"feedback": "mine"}, {}, AT_MS)
        assert attributes == {"feedback": "mine"}

    def test_other_events_have_no_facets(self) -> None:
        for kind in ("_push.send", "_SMS.SUCCESS", "_campaign.send", "_email.unknown"):
            assert "facets" not in record(_event(kind, {"address": "x"}), None, "1")


class TestSms:
    def test_buffered_at_send(self) -> None:
        # What the deliverer writes when Twilio accepted the message.
        attrs = {"campaign_id": "c1", "treatment_id": "0", "channel_type": "SMS", "address": "+14255550199",
                 "message_id": "SM123", "delivery_status": "SUCCESSFUL", "status_code": "200"}  # fmt: skip
        r = record(_event("_SMS.BUFFERED", attrs), None, "1")
        assert r["attributes"] == {
            **attrs,
            "destination_phone_number": "+14255550199",
            "record_status": "SUCCESSFUL",
            "iso_country_code": "US",
        }
        assert r["metrics"] == {} and "facets" not in r

    def test_delivered_from_twilio(self) -> None:
        # What api/routes/twilio_hooks.py writes for a status callback.
        attrs = {"channel_type": "SMS", "address": "+447700900123", "message_id": "SM123",
                 "destination_phone_number": "+447700900123", "origination_phone_number": "+15550000100",
                 "record_status": "delivered"}  # fmt: skip
        r = record(_event("_SMS.SUCCESS", attrs), None, "1")
        assert r["attributes"]["record_status"] == "DELIVERED" and r["attributes"]["provider_status"] == "delivered"
        assert r["attributes"]["iso_country_code"] == "GB"
        assert r["attributes"]["origination_phone_number"] == "+15550000100"

    @pytest.mark.parametrize(
        ("attrs", "status"),
        [
            ({"error_code": "30003"}, "UNREACHABLE"),
            ({"error_code": "30007"}, "SPAM"),
            ({"error_code": "21610"}, "OPTED_OUT"),
            ({"delivery_status": "THROTTLED"}, "RATE_EXCEEDED"),
            ({"delivery_status": "PERMANENT_FAILURE"}, "UNKNOWN"),
        ],
    )
    def test_failures(self, attrs: dict[str, str], status: str) -> None:
        assert sms_record_status("_SMS.FAILURE", attrs) == status

    def test_opt_out(self) -> None:
        assert sms_record_status("_SMS.OPTOUT", {}) == "OPTED_OUT"

    def test_parts_type_and_price_when_carried(self) -> None:
        attrs = {"address": "+14255550199", "number_of_message_parts": "2", "message_type": "Transactional",
                 "mcc_mnc": "310800", "price_in_millicents_usd": "645"}  # fmt: skip
        shown = sms_attributes("_SMS.SUCCESS", attrs)
        assert shown["number_of_message_parts"] == "2" and shown["message_type"] == "Transactional"
        assert shown["mcc_mnc"] == "310800"
        assert sms_metrics("_SMS.SUCCESS", attrs, {}) == {"price_in_millicents_usd": 645.0}
        assert sms_metrics("_SMS.SUCCESS", {"address": "+1"}, {"n": 1.0}) == {"n": 1.0}
        assert sms_metrics("_SMS.SUCCESS", {"price_in_millicents_usd": "x"}, {}) == {}

    def test_an_unparseable_number_has_no_country(self) -> None:
        assert "iso_country_code" not in sms_attributes("_SMS.SUCCESS", {"address": "not a number"})


class TestStreamCredentials:
    def test_keys_token_region_external_id(self) -> None:
        given = stream_credentials(
            ["AccessKeyId=AKIAIOSFODNN7EXAMPLE", "SecretAccessKey=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
             "SessionToken=FwoGZXIvYXdzEXAMPLE", "Region=eu-west-1", "ExternalId=pinpoint-ext"]
        )  # fmt: skip
        assert given["AccessKeyId"] == "AKIAIOSFODNN7EXAMPLE" and given["Region"] == "eu-west-1"
        assert given["ExternalId"] == "pinpoint-ext" and given["SessionToken"] == "FwoGZXIvYXdzEXAMPLE"

    def test_new_keys_drop_an_old_session_token(self) -> None:
        given = stream_credentials(["AccessKeyId=AKIAIOSFODNN7EXAMPLE", "SecretAccessKey=" + "s" * 40])
        assert given["SessionToken"] == ""

    def test_an_empty_value_removes_a_name(self) -> None:
        assert stream_credentials(["Region=", "ExternalId="]) == {"Region": "", "ExternalId": ""}

    @pytest.mark.parametrize(
        ("pairs", "message"),
        [
            (["Password=x"], "unknown credential 'Password'"),
            (["LambdaAccessKeyId=AKIAIOSFODNN7EXAMPLE"], "unknown credential 'LambdaAccessKeyId'"),
            (["AccessKeyId"], "'AccessKeyId' is not NAME=VALUE"),
            (["AccessKeyId=AKIAIOSFODNN7EXAMPLE"], "AccessKeyId and SecretAccessKey go together"),
            (["AccessKeyId=", "SecretAccessKey="], "AccessKeyId: '' cannot be one"),
            (["AccessKeyId=akia lower", "SecretAccessKey=" + "s" * 40], "AccessKeyId"),
            (["Region=mars"], "Region: 'mars' cannot be one"),
            (["Region=eu-west-1", "Region=us-east-1"], "Region is given twice"),
            (["ExternalId=has space"], "ExternalId"),
        ],
    )
    def test_bad_input_names_the_argument(self, pairs: list[str], message: str) -> None:
        with pytest.raises(ValueError, match=message):
            stream_credentials(pairs)

    def test_a_secret_is_never_echoed(self) -> None:
        with pytest.raises(ValueError) as refused:
            stream_credentials(["AccessKeyId=AKIAIOSFODNN7EXAMPLE", "SecretAccessKey=short-secret"])
        assert "short-secret" not in str(refused.value)
