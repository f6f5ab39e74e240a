"""Writing one email as SMTP-ready bytes without the email package's EmailPolicy machinery.

`email.policy.default` parses every header into a registry object on assignment and refolds it
through a parse tree when the message is flattened; for our few, known headers that cost about
as much CPU as everything else a send does. Here headers are checked, RFC 2047-encoded only when
they hold non-ASCII text (stdlib `email.header` / `email.utils`) and folded at spaces; bodies are
UTF-8 in 7bit, quoted-printable or base64 (binascii), so the bytes are 7-bit clean and need no
8BITMIME. What a mail client shows is the same as with EmailPolicy; tests parse the output back.
"""

from __future__ import annotations

import binascii
import os
import re
from dataclasses import dataclass
from email.header import Header
from email.message import Message
from email.utils import getaddresses

from aiosmtplib.email import extract_sender

MAX_LINE = 78  # EmailPolicy's max_line_length: where lines are folded
_HARD_LIMIT = 998  # RFC 5322: no line longer, folding or not
# What str.splitlines breaks on: EmailPolicy refuses all of them in a header value.
_LINE_BREAK = re.compile("[\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
_FIELD_NAME = re.compile(r"[!-9;-~]+\Z")  # RFC 5322 ftext: printable ASCII except ':'
_SPECIALS = re.compile(r'[][\\()<>@,:;".]')  # RFC 5322 specials: a display name with one is quoted
# Headers EmailPolicy allows once per message (headerregistry classes with max_count 1).
UNIQUE = frozenset(
    {
        "subject",
        "date",
        "orig-date",
        "sender",
        "to",
        "cc",
        "bcc",
        "from",
        "reply-to",
        "mime-version",
        "content-type",
        "content-disposition",
        "content-transfer-encoding",
        "message-id",
    }
)
ADDRESS = frozenset(
    {"from", "to", "cc", "bcc", "reply-to", "sender", "resent-from", "resent-to", "resent-cc", "resent-bcc"}
    | {"resent-sender"}
)
# What aiosmtplib's extract_sender looks at to choose the envelope sender.
_SENDER = frozenset({"from", "sender", "resent-date", "resent-from", "resent-sender"})
# aiosmtplib's flatten_message drops these, so a recipient never sees them.
_NOT_SENT = frozenset({"bcc", "resent-bcc"})


class NeedsSmtpUtf8(Exception):
    """An address whose mailbox itself is not ASCII: only SMTPUTF8 can carry it."""


@dataclass(frozen=True, slots=True)
class Composed:
    """A message as it goes on the wire (CRLF lines, 7-bit), and the envelope sender its
    Sender/From header names (what aiosmtplib's send_message would take)."""

    data: bytes
    sender: str | None


def check_header(name: str, value: str) -> None:
    """Refuse what could inject a header: a line break in the value (EmailPolicy's own refusal)
    or a name that is not a field name."""
    if not _FIELD_NAME.match(name):
        raise ValueError(f"{name!r} is not a valid header name")
    if _LINE_BREAK.search(value):
        raise ValueError("Header values may not contain linefeed or carriage return characters")


def fold(name: str, text: str) -> str:
    """`text` with a CRLF put before some of its spaces so that lines keep within MAX_LINE where
    spaces allow; unfolding (dropping the CRLFs) gives `text` back exactly."""
    if len(name) + 2 + len(text) <= MAX_LINE:
        return text
    words = text.split(" ")
    lines: list[str] = []
    line, room = words[0], MAX_LINE - len(name) - 2
    for word in words[1:]:
        # Never fold into a line of only whitespace (RFC 5322 3.2.2), so empty words stay put.
        if line.strip() and word and len(line) + 1 + len(word) > room:
            lines.append(line)
            line, room = word, MAX_LINE - 1  # the continuation line starts with the space
        else:
            line = f"{line} {word}"
    lines.append(line)
    return "\r\n ".join(lines)


def _encoded_words(name: str, value: str) -> str:
    return Header(value, "utf-8", header_name=name).encode(splitchars=" ", maxlinelen=MAX_LINE, linesep="\r\n")


def unstructured(name: str, value: str) -> str:
    """The field body of an unstructured header: ASCII folded at spaces, anything else (or a word
    too long for a line) as RFC 2047 UTF-8 encoded words."""
    if value.isascii():
        folded = fold(name, value)
        if len(name) + 2 + len(value) <= _HARD_LIMIT or all(len(x) <= _HARD_LIMIT for x in folded.split("\r\n")):
            return folded
    return _encoded_words(name, value)


def mailbox(display: str, addr: str) -> str:
    if not addr.isascii():
        raise NeedsSmtpUtf8(addr)
    if not display:
        return addr
    if display.isascii():
        # Quoted where specials or unusual spaces would otherwise be lost (formataddr keeps neither).
        if _SPECIALS.search(display) or display != " ".join(display.split()):
            return '"' + display.replace("\\", "\\\\").replace('"', '\\"') + f'" <{addr}>'
        return f"{display} <{addr}>"
    # Encoded words separated by plain spaces; fold() may break the line between them.
    words = Header(display, "utf-8").encode(linesep="\n").replace("\n", "")
    return f"{words} <{addr}>"


def address_list(name: str, value: str) -> str:
    """The field body of an address header. ASCII is kept as written (folded at spaces); a
    non-ASCII display name becomes encoded words; a non-ASCII mailbox raises NeedsSmtpUtf8."""
    if value.isascii():
        return fold(name, value)
    return fold(name, ", ".join(mailbox(display, addr) for display, addr in getaddresses([value])))


def _body(text: str) -> tuple[str, bytes]:
    """(Content-Transfer-Encoding, payload) for a UTF-8 text part: 7bit when ASCII in short lines
    (as EmailPolicy chooses), else quoted-printable, or base64 when that is shorter."""
    lines = text.encode("utf-8").splitlines()
    data = b"\r\n".join(lines) + b"\r\n"
    if data.isascii() and max(map(len, lines), default=0) <= MAX_LINE:
        return "7bit", data
    qp = binascii.b2a_qp(data, istext=True)  # CRLF input -> CRLF soft breaks
    if len(qp) <= len(data) * 4 // 3:
        return "quoted-printable", qp
    # Lines end in LF inside base64, as EmailPolicy writes them (decoders take either).
    b64 = binascii.b2a_base64(b"\n".join(lines) + b"\n", newline=False)
    return "base64", b"\r\n".join(b64[i : i + 76] for i in range(0, len(b64), 76)) + b"\r\n"


def compose(headers: list[tuple[str, str]], text: str, html: str | None, message_id: str) -> Composed:
    """The message with `headers` (name, value) in order, a text/plain part, and an HTML
    alternative when `html` is given. Message-ID headers in `headers` give way to `message_id`.
    Raises ValueError where EmailPolicy would (bad header, a unique header twice) and
    NeedsSmtpUtf8 for a non-ASCII mailbox."""
    text_cte, text_body = _body(text)
    parts: list[tuple[str, str, bytes]] = [("plain", text_cte, text_body)]
    if html is not None:
        parts.append(("html", *_body(html)))
    boundary = ""
    present = {"mime-version", "content-type"}
    if html is None:
        present.add("content-transfer-encoding")
    else:
        while not boundary or any(boundary.encode() in part for _, _, part in parts):
            boundary = "=_op_" + os.urandom(12).hex()
    out: list[str] = []
    envelope = Message()  # compat32: cheap, for aiosmtplib's own choice of envelope sender
    for name, value in headers:
        check_header(name, value)
        lname = name.lower()
        if lname in UNIQUE:
            if lname in present:
                raise ValueError(f"There may be at most 1 {name} headers in a message")
            present.add(lname)
        if lname in _SENDER:
            envelope[name] = value
        if lname in _NOT_SENT or lname == "message-id":
            continue
        body = address_list(name, value) if lname in ADDRESS else unstructured(name, value)
        out.append(f"{name}: {body}\r\n")
    out.append(f"Message-ID: {message_id}\r\nMIME-Version: 1.0\r\n")
    if boundary:
        out.append(f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n')
        # The CRLF before each delimiter belongs to the delimiter (RFC 2046), not to the part.
        payload = (
            b"".join(
                f'--{boundary}\r\nContent-Type: text/{subtype}; charset="utf-8"\r\n'
                f"Content-Transfer-Encoding: {cte}\r\n\r\n".encode()
                + part
                + b"\r\n"
                for subtype, cte, part in parts
            )
            + f"--{boundary}--\r\n".encode()
        )
    else:
        out.append(f'Content-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: {text_cte}\r\n\r\n')
        payload = text_body
    return Composed("".join(out).encode("ascii") + payload, extract_sender(envelope))
