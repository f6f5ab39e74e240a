"""Building the MIME message and rendering Pinpoint variables."""

from __future__ import annotations

import base64

from activities.email import build_message, message_id_for
from activities.render import render, to_jinja, variables
from workflows.shared import Recipient


def recipient(**kw: object) -> Recipient:
    return Recipient(key="wf/0/a@example.com", address="a@example.com", **kw)  # type: ignore[arg-type]


def test_handlebars_paths_become_jinja() -> None:
    assert to_jinja("{{Attributes.City.[0]}}") == "{{Attributes.City[0]}}"
    assert to_jinja("{{User.UserAttributes.[Last Name].[0]}}") == "{{User.UserAttributes['Last Name'][0]}}"


def test_lists_missing_values_and_precedence() -> None:
    ctx = variables({"Attributes": {"Pets": ["cat", "dog"]}}, {"Name": ["low"]}, {"Name": ["high"]})
    assert render("{{Attributes.Pets}} / {{Name}} / [{{Nope.Nothing}}]", ctx) == "cat, dog / high / []"
    dotted = variables({"User": {"UserAttributes": {"FirstName": ["Ann"]}}}, {"User.UserAttributes.FirstName": ["Bo"]})
    assert render("{{User.UserAttributes.FirstName}}", dotted) == "Bo"


def test_html_is_escaped_in_html_parts_only() -> None:
    ctx = variables({}, {"X": ["<script>"]})
    assert render("{{X}}", ctx, html=True) == "&lt;script&gt;"
    assert render("{{X}}", ctx) == "<script>"


def test_sandbox_refuses_internals() -> None:
    out = render("{{ ''.__class__.__mro__ }}", {})
    assert "object" not in (out or "")


def test_simple_email_with_overrides_and_headers() -> None:
    content = {
        "from": "s@example.com",
        "subject": "Hi {{N}}",
        "text": "T {{N}}",
        "html": "<p>{{N}}</p>",
        "headers": [{"Name": "X-Campaign", "Value": "c-{{N}}"}],
        "reply_to": ["r@example.com"],
        "substitutions": [{"N": ["x"]}],
    }
    msg = build_message(content, recipient(substitutions={"N": ["Ann"]}))
    assert msg["Subject"] == "Hi Ann" and msg["X-Campaign"] == "c-Ann" and msg["Reply-To"] == "r@example.com"
    assert msg["Message-ID"] == f"<{message_id_for('wf/0/a@example.com')}>"
    assert msg.get_body(("html",)).get_content().strip() == "<p>Ann</p>"  # type: ignore[union-attr]
    over = build_message(content, recipient(overrides={"BodyOverride": "B", "TitleOverride": "T"}))
    assert over["Subject"] == "T" and over.get_body(("html",)) is None
    assert over.get_body(("plain",)).get_content().strip() == "B"  # type: ignore[union-attr]


def test_raw_mime_keeps_its_headers() -> None:
    raw = base64.b64encode(b"From: a@x.com\r\nSubject: Raw\r\n\r\nbody\r\n").decode()
    msg = build_message({"raw": raw}, recipient())
    assert msg["Subject"] == "Raw" and msg["To"] == "a@example.com" and msg["Message-ID"]
