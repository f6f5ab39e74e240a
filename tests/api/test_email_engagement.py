"""Email engagement comes back as standard events tied to the message, and opt-out changes what
later sends do: send through boto3 → real SMTP server → follow the links in the mail received."""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

import httpx
import pytest

from tests.smtp_sink import Received, SmtpServer
from tests.stack import Stack


@pytest.fixture
def email_app(pinpoint: Any, app_id: str) -> str:
    pinpoint.update_email_channel(
        ApplicationId=app_id,
        EmailChannelRequest={"FromAddress": "shop@example.com", "Identity": "example.com", "Enabled": True},
    )
    return app_id


def _endpoint(pinpoint: Any, app_id: str) -> tuple[str, str]:
    eid, address = f"e-{secrets.token_hex(3)}", f"reader-{secrets.token_hex(4)}@example.com"
    pinpoint.update_endpoint(
        ApplicationId=app_id, EndpointId=eid, EndpointRequest={"Address": address, "ChannelType": "EMAIL"}
    )
    return eid, address


def _send(pinpoint: Any, app_id: str, eid: str, html: str) -> dict[str, Any]:
    resp = pinpoint.send_messages(
        ApplicationId=app_id,
        MessageRequest={
            "Endpoints": {eid: {}},
            "MessageConfiguration": {
                "EmailMessage": {
                    "SimpleEmail": {"Subject": {"Data": "News"}, "HtmlPart": {"Data": html}},
                }
            },
        },
    )
    result: dict[str, Any] = resp["MessageResponse"]["EndpointResult"][eid]
    return result


def _events(stack: Stack, app_id: str, event_type: str) -> list[dict[str, Any]]:
    rows = stack.sql("SELECT * FROM events WHERE app_id = $1 AND event_type = $2", app_id, event_type)
    return [{**dict(r), "attributes": json.loads(r["attributes"])} for r in rows]


def _links(mail: Received) -> list[str]:
    return re.findall(r'href="([^"]+)"', mail.html)


def test_open_and_click_are_recorded_against_the_message(
    pinpoint: Any, stack: Stack, smtp: SmtpServer, email_app: str
) -> None:
    eid, address = _endpoint(pinpoint, email_app)
    html = (
        '<html><body><p>Sale! <a href="https://shop.example.com/sale?x=1&amp;y=2">Shop now</a> '
        '<a href="https://example.com/quiet" ses:no-track>quiet</a></p></body></html>'
    )
    result = _send(pinpoint, email_app, eid, html)
    assert result["DeliveryStatus"] == "SUCCESSFUL"
    [mail] = smtp.sink.to(address)

    # The send itself is on record.
    [sent] = _events(stack, email_app, "_email.send")
    assert sent["endpoint_id"] == eid and sent["attributes"]["message_id"] == result["MessageId"]
    assert len(_events(stack, email_app, "_email.delivered")) == 1

    tracked, untouched = _links(mail)
    assert tracked.startswith(f"{stack.url}/engagement/email/click/")
    assert untouched == "https://example.com/quiet"
    [pixel] = re.findall(r'<img src="([^"]+)"', mail.html)
    assert pixel.startswith(f"{stack.url}/engagement/email/open/")

    with httpx.Client() as http:
        opened = http.get(pixel)
        assert opened.status_code == 200 and opened.headers["content-type"] == "image/gif"
        clicked = http.get(tracked, follow_redirects=False)
    assert clicked.status_code == 302
    assert clicked.headers["location"] == "https://shop.example.com/sale?x=1&y=2"

    [open_event] = _events(stack, email_app, "_email.open")
    [click_event] = _events(stack, email_app, "_email.click")
    for event in (open_event, click_event):
        assert event["endpoint_id"] == eid
        assert event["attributes"]["message_id"] == result["MessageId"]
        assert event["attributes"]["source"] == "direct"
    assert click_event["attributes"]["link"] == "https://shop.example.com/sale?x=1&y=2"


def test_a_tampered_link_redirects_nowhere_and_records_nothing(
    pinpoint: Any, stack: Stack, smtp: SmtpServer, email_app: str
) -> None:
    eid, address = _endpoint(pinpoint, email_app)
    _send(pinpoint, email_app, eid, '<p><a href="https://example.com/a">a</a></p>')
    [mail] = smtp.sink.to(address)
    [link] = _links(mail)
    body, mac = link.rsplit("/", 1)[1].split(".")
    forged = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + mac
    with httpx.Client() as http:
        answer = http.get(f"{stack.url}/engagement/email/click/{forged}", follow_redirects=False)
    assert answer.status_code == 404 and "location" not in answer.headers
    assert _events(stack, email_app, "_email.click") == []


def test_one_click_unsubscribe_opts_out_and_later_sends_skip(
    pinpoint: Any, stack: Stack, smtp: SmtpServer, email_app: str
) -> None:
    eid, address = _endpoint(pinpoint, email_app)
    _send(pinpoint, email_app, eid, "<p>Hello</p>")
    [mail] = smtp.sink.to(address)
    assert mail.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = str(mail.message["List-Unsubscribe"]).strip("<>")

    with httpx.Client() as http:
        page = http.get(url)  # what a link scanner would do: shows a button, changes nothing
        assert page.status_code == 200 and address in page.text
        assert pinpoint.get_endpoint(ApplicationId=email_app, EndpointId=eid)["EndpointResponse"]["OptOut"] == "NONE"
        done = http.post(url, content=b"List-Unsubscribe=One-Click")
    assert done.status_code == 200

    assert pinpoint.get_endpoint(ApplicationId=email_app, EndpointId=eid)["EndpointResponse"]["OptOut"] == "ALL"
    [event] = _events(stack, email_app, "_email.unsubscribe")
    assert event["endpoint_id"] == eid

    again = _send(pinpoint, email_app, eid, "<p>Hello again</p>")
    assert again["DeliveryStatus"] == "OPT_OUT"
    assert len(smtp.sink.to(address)) == 1
