"""The endpoint search's LIKE pattern: the typed text is matched literally, then anything."""

from __future__ import annotations

import pytest

from store.console_endpoints import like_prefix


@pytest.mark.parametrize(
    ("typed", "pattern"),
    [
        ("user-4", "user-4%"),
        ("a_b", "a\\_b%"),
        ("50%", "50\\%%"),
        ("back\\slash", "back\\\\slash%"),
        ("", "%"),
    ],
)
def test_like_prefix_takes_wildcards_literally(typed: str, pattern: str) -> None:
    assert like_prefix(typed) == pattern
