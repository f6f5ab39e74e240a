"""Building the MIME message and rendering Pinpoint variables."""

from __future__ import annotations

import base64
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from typing import Any

import pytest
from aiosmtplib.email import flatten_message

from channels.email import Tracking, _stdlib_message, build_message, message_id_for
from channels.email_mime import Composed, compose
from templating.render import render, to_jinja, variables
from workflows.shared import Recipient


def recipient(**kw: object) -> Recipient:
    return Recipient(key="wf/0/a@example.com", address="a@example.com", **kw)  # type: ignore[arg-type]


def received(msg: Composed | EmailMessage) -> EmailMessage:
    """The message as the relay gets it, parsed back as a mail client would."""
    data = msg.data if isinstance(msg, Composed) else flatten_message(msg)
    parsed = message_from_bytes(data, policy=default)
    assert isinstance(parsed, EmailMessage)
    return parsed


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
    msg = received(build_message(content, recipient(substitutions={"N": ["Ann"]})))
    assert msg["Subject"] == "Hi Ann" and msg["X-Campaign"] == "c-Ann" and msg["Reply-To"] == "r@example.com"
    assert msg["Message-ID"] == f"<{message_id_for('wf/0/a@example.com')}>"
    assert msg.get_body(("html",)).get_content().strip() == "<p>Ann</p>"  # type: ignore[union-attr]
    over = received(build_message(content, recipient(overrides={"BodyOverride": "B", "TitleOverride": "T"})))
    assert over["Subject"] == "T" and over.get_body(("html",)) is None
    assert over.get_body(("plain",)).get_content().strip() == "B"  # type: ignore[union-attr]


def test_raw_mime_keeps_its_headers() -> None:
    raw = base64.b64encode(b"From: a@x.com\r\nSubject: Raw\r\n\r\nbody\r\n").decode()
    msg = build_message({"raw": raw}, recipient())
    assert isinstance(msg, EmailMessage)  # rare: left to the stdlib, flattened by aiosmtplib
    assert msg["Subject"] == "Raw" and msg["To"] == "a@example.com" and msg["Message-ID"]


# What a mail client shows must not depend on how the message was written: every case is built
# by compose() and by the EmailPolicy builder it replaced, sent through the same flattening
# (aiosmtplib's for the latter) and compared after parsing back.
LONG_ASCII = "A fairly long subject line about the summer sale, which keeps going well past the fold"
CASES: list[tuple[str, str, str | None, list[tuple[str, str]]]] = [
    ("Hi Ann", "Hello Ann", "<p>Hello <b>Ann</b></p>", []),
    ("Ünïcode sübject ✓ with 😀 emoji and more words to fold " * 3, "Grüße, Zoë\nŽluťoučký kůň", None, []),
    (LONG_ASCII, "x" * 200 + "\n" + "trailing space \nend", "<p>" + "y " * 100 + "</p>", []),
    ("日本語の件名", "日本語の本文です。" * 20, "<p>日本語</p>", [("X-Tag", "タグ")]),
    ("", "", "", [("Reply-To", "Zoë Ünïcode <z@example.com>, plain@example.com")]),
    ("s", "line\r\nwith crlf\rand cr\n.\n..dots", None, [("X-Long", "word " * 40), ("Cc", '"Doe, John" <j@x.com>')]),
    ("=?utf-8?q?looks_encoded?=", "a\tb  ", "<p>x</p>", [("Bcc", "hidden@example.com"), ("X-Empty", "")]),
]


def _headers(subject: str, extra: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [("From", "Shöp Dœ <shop@example.com>"), ("To", "a@example.com"), ("Subject", subject), *extra]


@pytest.mark.parametrize(("subject", "text", "html", "extra"), CASES)
def test_compose_shows_what_email_policy_showed(
    subject: str, text: str, html: str | None, extra: list[tuple[str, str]]
) -> None:
    headers = _headers(subject, extra)
    fast = compose(headers, text, html, "<id@openpoint>")
    slow = _stdlib_message(headers, text, html, "<id@openpoint>")
    got, want = received(fast), received(slow)
    names = {n for n, _ in headers} | {"Message-ID", "MIME-Version"}
    for name in names:
        assert got.get_all(name) == want.get_all(name), name
    assert got.get_all("Bcc") is None
    for kind in ("plain", "html"):
        part, old = got.get_body((kind,)), want.get_body((kind,))
        assert (part is None) == (old is None)
        if part is not None and old is not None:
            # Line ends as a client shows them: the old 8bit parts kept CRLF, QP gives LF.
            assert part.get_content().replace("\r\n", "\n") == old.get_content().replace("\r\n", "\n")
            assert part.get_content_charset() == "utf-8"
    assert got.get_content_type() == want.get_content_type()
    assert fast.sender == "shop@example.com"
    # 7-bit clean, CRLF only, within SMTP's line limit; non-ASCII headers as encoded words.
    assert fast.data.isascii() and b"\n" not in fast.data.replace(b"\r\n", b"")
    assert max(len(line) for line in fast.data.split(b"\r\n")) <= 998


def test_headers_are_encoded_and_folded() -> None:
    data = compose(_headers(CASES[1][0], [("X-Long", "word " * 40)]), "x", None, "<i@o>").data
    head = data.split(b"\r\n\r\n")[0].decode()
    assert "=?utf-8?" in head and "Shöp" not in head
    assert all(len(line) <= 78 for line in head.split("\r\n"))
    long_word = "https://example.com/" + "z" * 1200  # no space to fold at: encoded words instead
    msg = received(compose(_headers("s", [("X-Url", long_word)]), "x", None, "<i@o>"))
    assert msg["X-Url"] == long_word


def test_bodies_get_a_proper_transfer_encoding() -> None:
    def cte(text: str) -> str:
        return str(received(compose(_headers("s", []), text, None, "<i@o>"))["Content-Transfer-Encoding"])

    assert cte("short ascii\nlines") == "7bit"
    assert cte("Grüße " + "x" * 100) == "quoted-printable"
    assert cte("日本語の本文です。" * 20) == "base64"


@pytest.mark.parametrize(
    "bad",
    [
        ("Subject", "Hi\r\nBcc: victim@example.com"),
        ("X-A", "a\nb"),
        ("X-A", "a\rb"),
        ("X-A", "x\u2028y"),
        ("X-A", "trailing\n"),
        ("X-A:\r\nBcc", "v@example.com"),
        ("X A", "v"),
        ("", "v"),
    ],
)
def test_line_breaks_never_inject_a_header(bad: tuple[str, str]) -> None:
    with pytest.raises(ValueError):
        compose([("From", "s@example.com"), ("To", "a@example.com"), bad], "x", None, "<i@o>")


def test_rendered_values_cannot_inject_either() -> None:
    content = {
        "from": "s@example.com",
        "subject": "Hi {{N}}",
        "text": "x",
        "headers": [{"Name": "X-N", "Value": "{{N}}"}],
    }
    with pytest.raises(ValueError, match="linefeed"):
        build_message(content, recipient(substitutions={"N": ["Ann\r\nBcc: victim@example.com"]}))


def test_unique_headers_once_as_before() -> None:
    for name in ("Subject", "To", "Content-Type", "MIME-Version"):
        with pytest.raises(ValueError, match="at most 1"):
            compose([*_headers("s", []), (name, "x")], "x", None, "<i@o>")
    # a custom Message-ID gives way to ours; a custom List-Unsubscribe replaces ours
    content: dict[str, Any] = {
        "from": "s@example.com",
        "text": "x",
        "headers": [{"Name": "Message-ID", "Value": "<mine@x>"}, {"Name": "List-Unsubscribe", "Value": "<mailto:u@x>"}],
    }
    msg = received(build_message(content, recipient(), Tracking("https://p.example", b"k" * 32), "app"))
    assert msg.get_all("Message-ID") == [f"<{message_id_for('wf/0/a@example.com')}>"]
    assert msg.get_all("List-Unsubscribe") == ["<mailto:u@x>"] and msg["List-Unsubscribe-Post"] is None


def test_tracking_headers_and_envelope_sender() -> None:
    content: dict[str, Any] = {"from": "Shop <shop@example.com>", "html": '<a href="https://e.com/x">x</a>'}
    built = build_message(content, recipient(), Tracking("https://p.example", b"k" * 32), "app")
    assert isinstance(built, Composed) and built.sender == "shop@example.com"
    msg = received(built)
    assert str(msg["List-Unsubscribe"]).startswith("<https://p.example/engagement/email/unsubscribe/")
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "https://p.example/engagement/email/click/" in html and "/engagement/email/open/" in html
    assert msg.get_body(("plain",)).get_content().strip() == "x"  # type: ignore[union-attr]
    sender = compose([("From", "a@x.com"), ("Sender", "Agent <agent@x.com>")], "x", None, "<i@o>").sender
    assert sender == "agent@x.com"  # as aiosmtplib's send_message chose it


def test_non_ascii_mailbox_is_left_to_smtputf8() -> None:
    content = {"from": "Zoë <zoë@exämple.com>", "subject": "s", "text": "x"}
    msg = build_message(content, recipient())
    assert isinstance(msg, EmailMessage) and msg["Message-ID"] and "zoë@exämple.com" in str(msg["From"])
    assert isinstance(
        build_message({"from": "s@example.com", "text": "x"}, Recipient(key="k", address="ü@x.com")), EmailMessage
    )
