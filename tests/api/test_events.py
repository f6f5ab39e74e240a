"""PutEvents through boto3: endpoint upsert, events, sessions, per-item status."""

from __future__ import annotations

from typing import Any

import pytest

from tests.stack import Stack


def event(event_type: str, ts: str, **extra: Any) -> dict[str, Any]:
    return {"EventType": event_type, "Timestamp": ts, **extra}


class TestPutEvents:
    def test_upserts_the_endpoint_and_stores_events_and_sessions(
        self, pinpoint: Any, stack: Stack, app_id: str
    ) -> None:
        session = {"Id": "s-1", "StartTimestamp": "2026-11-20T10:00:00Z"}
        resp = pinpoint.put_events(
            ApplicationId=app_id,
            EventsRequest={
                "BatchItem": {
                    "ep-1": {
                        "Endpoint": {
                            "Address": "ann@example.com",
                            "ChannelType": "EMAIL",
                            "Attributes": {"plan": ["pro"]},
                        },
                        "Events": {
                            "ev-1": event("_session.start", "2026-11-20T10:00:00Z", Session=session),
                            "ev-2": event(
                                "purchase",
                                "2026-11-20T10:05:00.250Z",
                                Attributes={"sku": "A1"},
                                Metrics={"price": 9.5},
                                AppVersionCode="1.2",
                                SdkName="aws-amplify",
                                Session=session,
                            ),
                            "ev-3": event(
                                "_session.stop",
                                "2026-11-20T10:10:00Z",
                                Session={**session, "StopTimestamp": "2026-11-20T10:10:00Z", "Duration": 600000},
                            ),
                        },
                    }
                }
            },
        )
        assert resp["ResponseMetadata"]["HTTPStatusCode"] == 202
        item = resp["EventsResponse"]["Results"]["ep-1"]
        assert item["EndpointItemResponse"] == {"StatusCode": 202, "Message": "Accepted"}
        assert {k: v["StatusCode"] for k, v in item["EventsItemResponse"].items()} == {
            "ev-1": 202,
            "ev-2": 202,
            "ev-3": 202,
        }

        ep = pinpoint.get_endpoint(ApplicationId=app_id, EndpointId="ep-1")["EndpointResponse"]
        assert ep["Attributes"] == {"plan": ["pro"]} and ep["Address"] == "ann@example.com"
        rows = stack.sql(
            "SELECT event_id, event_type, attributes, metrics, client, session_id, event_time"
            " FROM events WHERE app_id = $1 ORDER BY event_time",
            app_id,
        )
        assert [r["event_type"] for r in rows] == ["_session.start", "purchase", "_session.stop"]
        purchase = rows[1]
        assert purchase["session_id"] == "s-1"
        assert purchase["event_time"].isoformat() == "2026-11-20T10:05:00.250000+00:00"
        sess = stack.sql("SELECT * FROM sessions WHERE app_id = $1", app_id)
        assert len(sess) == 1 and sess[0]["duration_ms"] == 600000 and sess[0]["stop_time"] is not None

    def test_bad_events_get_400_and_the_rest_go_in(self, pinpoint: Any, stack: Stack, app_id: str) -> None:
        resp = pinpoint.put_events(
            ApplicationId=app_id,
            EventsRequest={
                "BatchItem": {
                    "ep-1": {
                        "Endpoint": {},
                        "Events": {
                            "good": event("click", "2026-11-21T08:00:00Z"),
                            "bad-time": event("click", "yesterday"),
                            "long-attr": event("click", "2026-11-21T08:00:00Z", Attributes={"a": "x" * 201}),
                            "no-type": event("", "2026-11-21T08:00:00Z"),
                        },
                    }
                }
            },
        )
        status = {
            k: v["StatusCode"] for k, v in resp["EventsResponse"]["Results"]["ep-1"]["EventsItemResponse"].items()
        }
        assert status == {"good": 202, "bad-time": 400, "long-attr": 400, "no-type": 400}
        assert [r["event_id"] for r in stack.sql("SELECT event_id FROM events WHERE app_id = $1", app_id)] == ["good"]

    def test_bad_endpoint_is_reported_per_item(self, pinpoint: Any, app_id: str) -> None:
        resp = pinpoint.put_events(
            ApplicationId=app_id,
            EventsRequest={
                "BatchItem": {
                    "ok": {"Endpoint": {"OptOut": "NONE"}, "Events": {"e": event("x", "2026-11-21T08:00:00Z")}},
                    "bad": {"Endpoint": {"OptOut": "PERHAPS"}, "Events": {"e": event("x", "2026-11-21T08:00:00Z")}},
                }
            },
        )["EventsResponse"]["Results"]
        assert resp["ok"]["EndpointItemResponse"]["StatusCode"] == 202
        assert resp["bad"]["EndpointItemResponse"]["StatusCode"] == 400
        assert "OptOut" in resp["bad"]["EndpointItemResponse"]["Message"]
        with pytest.raises(pinpoint.exceptions.NotFoundException):
            pinpoint.get_endpoint(ApplicationId=app_id, EndpointId="bad")

    def test_more_than_100_events_is_refused_and_nothing_stored(self, pinpoint: Any, stack: Stack, app_id: str) -> None:
        events = {f"e{i}": event("x", "2026-11-21T08:00:00Z") for i in range(101)}
        with pytest.raises(pinpoint.exceptions.BadRequestException):
            pinpoint.put_events(
                ApplicationId=app_id, EventsRequest={"BatchItem": {"ep": {"Endpoint": {}, "Events": events}}}
            )
        assert stack.sql("SELECT count(*) AS n FROM events WHERE app_id = $1", app_id)[0]["n"] == 0
        assert stack.sql("SELECT count(*) AS n FROM endpoints WHERE app_id = $1", app_id)[0]["n"] == 0

    def test_client_timestamps_make_no_partitions(self, pinpoint: Any, stack: Stack, app_id: str) -> None:
        """Events are partitioned by the day they were received (rules/retention.py): 100 events
        on 100 distinct client days, years apart and in the future, add no table."""
        parts = "SELECT count(*) AS n FROM pg_inherits WHERE inhparent = 'events'::regclass"
        before = stack.sql(parts)[0]["n"]
        days = {f"e{i}": event("x", f"{2001 + i % 99}-{1 + i % 12:02d}-{1 + i % 28:02d}T12:00:00Z") for i in range(100)}
        pinpoint.put_events(ApplicationId=app_id, EventsRequest={"BatchItem": {"ep": {"Endpoint": {}, "Events": days}}})
        rows = stack.sql(
            "SELECT DISTINCT tableoid::regclass::text AS part, (now() AT TIME ZONE 'UTC')::date AS today"
            " FROM events WHERE app_id = $1",
            app_id,
        )
        assert [r["part"] for r in rows] == [f"events_r_{rows[0]['today']:%Y%m%d}"]
        assert stack.sql("SELECT count(*) AS n FROM events WHERE app_id = $1", app_id)[0]["n"] == 100
        assert stack.sql(parts)[0]["n"] == before

    def test_unknown_project(self, pinpoint: Any) -> None:
        with pytest.raises(pinpoint.exceptions.NotFoundException):
            pinpoint.put_events(ApplicationId="b" * 32, EventsRequest={"BatchItem": {}})


def test_put_events_has_a_4_mb_limit(stack: Stack, app_id: str) -> None:
    from tests.raw import send

    big = {
        "BatchItem": {
            "ep": {
                "Endpoint": {},
                "Events": {f"e{i}": event("x", "2026-11-21T08:00:00Z", AppTitle="t" * 50_000) for i in range(90)},
            }
        }
    }
    reply = send(stack, "POST", f"/v1/apps/{app_id}/events", big)
    assert reply.status == 413 and reply.error_type == "PayloadTooLargeException"
    assert stack.sql("SELECT count(*) AS n FROM events WHERE app_id = $1", app_id)[0]["n"] == 0
