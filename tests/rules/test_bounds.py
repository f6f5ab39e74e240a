"""Storage-safety bounds on client values (rules/bounds.py, docs/limits.md)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rules import bounds


def test_nul_is_refused_anywhere_in_a_string() -> None:
    assert bounds.text_problem("a\x00b") == "contains a NUL character (U+0000)"
    assert bounds.text_problem("\x00", 10) == "contains a NUL character (U+0000)"
    assert bounds.text_problem("é✓😀 a/b?c") is None


def test_length_limit_counts_characters() -> None:
    assert bounds.text_problem("x" * 256, bounds.MAX_IDENTIFIER) is None
    assert bounds.text_problem("x" * 257, bounds.MAX_IDENTIFIER) == "at most 256 characters (512 bytes of UTF-8)"
    assert bounds.text_problem("😀" * 128, bounds.MAX_IDENTIFIER) is None
    assert bounds.text_problem("😀" * 129, bounds.MAX_IDENTIFIER) is not None  # 516 bytes
    assert bounds.text_problem("x" * 10_000) is None  # no limit unless asked


@pytest.mark.parametrize(
    ("member", "identifier"),
    [
        ("Id", True),
        ("UserId", True),
        ("SegmentId", True),
        ("Name", True),
        ("TemplateName", True),
        ("Address", True),
        ("HtmlBody", False),
        ("Title", False),
        ("Identity", False),
    ],
)
def test_identifier_members(member: str, identifier: bool) -> None:
    assert bounds.is_identifier_member(member) is identifier


def test_template_name_label_is_128_others_256() -> None:
    assert bounds.label_limit("template-name") == 128
    assert bounds.label_limit("endpoint-id") == 256


@pytest.mark.parametrize(
    ("value", "kind", "ok"),
    [
        (2**31 - 1, "integer", True),
        (2**31, "integer", False),
        (-(2**31), "integer", True),
        (2**63 - 1, "long", True),
        (2**63, "long", False),
        (10**20, "integer", False),
    ],
)
def test_integer_ranges(value: int, kind: str, ok: bool) -> None:
    assert (bounds.integer_problem(value, kind) is None) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        (0.0, True),
        (1e15, True),
        (-1e15, True),
        (1e16, False),
        (1e308, False),
        (float("nan"), False),
        (float("inf"), False),
    ],
)
def test_numbers(value: float, ok: bool) -> None:
    assert (bounds.number_problem(value) is None) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        (datetime(1970, 1, 1, tzinfo=UTC), True),
        (datetime(2999, 12, 31, 23, 59, tzinfo=UTC), True),
        (datetime(3000, 1, 1, tzinfo=UTC), False),
        (datetime(1, 1, 1, tzinfo=UTC), False),
        (datetime(9999, 12, 31, tzinfo=UTC), False),
        (datetime(2026, 1, 1), True),  # naive means UTC
    ],
)
def test_instants(value: datetime, ok: bool) -> None:
    assert (bounds.instant_problem(value) is None) is ok


def test_epoch_seconds() -> None:
    assert bounds.epoch_instant(0) == datetime(1970, 1, 1, tzinfo=UTC)
    assert bounds.epoch_instant(1e20) is None
    assert bounds.epoch_instant(-1) is None
    assert bounds.epoch_instant(float("nan")) is None


def test_shown_makes_nul_visible_and_cuts() -> None:
    assert bounds.shown("a\x00b") == "a\\0b"
    assert bounds.shown("x" * 100) == "x" * 40 + "…"
