"""Whether a message may go to an endpoint: the checks every sender makes, in one order."""

from __future__ import annotations

from typing import Any

import pytest

from rules.eligibility import (
    CUSTOM,
    INACTIVE,
    MISSING_ADDRESS,
    MISSING_CHANNEL,
    OPT_OUT,
    reachable,
    sending_channel,
    unreachable,
)


def _row(**overrides: Any) -> dict[str, Any]:
    row = {"id": "e1", "opt_out": "NONE", "endpoint_status": "ACTIVE", "channel_type": "EMAIL", "address": "a@x.test"}
    return {**row, **overrides}


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({}, None),
        ({"opt_out": "ALL"}, OPT_OUT),
        ({"opt_out": "ALL", "endpoint_status": "INACTIVE", "address": None}, OPT_OUT),
        ({"endpoint_status": "INACTIVE"}, INACTIVE),
        ({"endpoint_status": "INACTIVE", "address": None}, INACTIVE),
        ({"channel_type": None}, MISSING_CHANNEL),
        ({"channel_type": None, "address": ""}, MISSING_CHANNEL),
        ({"address": ""}, MISSING_ADDRESS),
        ({"address": None}, MISSING_ADDRESS),
    ],
)
def test_the_first_failing_check_names_the_reason(overrides: dict[str, Any], reason: str | None) -> None:
    assert unreachable(_row(**overrides)) == reason


def test_a_sender_that_picks_the_channel_does_not_need_one() -> None:
    assert unreachable(_row(channel_type=None), needs_channel=False) is None
    assert unreachable(_row(channel_type=None, address=None), needs_channel=False) == MISSING_ADDRESS


class TestReachable:
    def test_keeps_the_endpoints_a_message_may_go_to(self) -> None:
        good, opted = _row(id="a"), _row(id="b", opt_out="ALL")
        assert reachable([opted, good]) == ([good], None)

    def test_no_endpoints_is_no_reason(self) -> None:
        assert reachable([]) == ([], None)

    def test_every_endpoint_opted_out(self) -> None:
        assert reachable([_row(opt_out="ALL"), _row(opt_out="ALL")]) == ([], OPT_OUT)

    def test_opted_out_and_inactive_is_inactive(self) -> None:
        assert reachable([_row(opt_out="ALL"), _row(endpoint_status="INACTIVE")]) == ([], INACTIVE)

    def test_an_endpoint_lacking_only_its_address_says_so(self) -> None:
        rows = [_row(opt_out="ALL"), _row(address=None), _row(endpoint_status="INACTIVE")]
        assert reachable(rows) == ([], MISSING_ADDRESS)

    def test_the_channel_is_not_checked(self) -> None:
        row = _row(channel_type=None)
        assert reachable([row]) == ([row], None)


@pytest.mark.parametrize(
    ("channel_type", "uri", "types", "channel"),
    [
        ("EMAIL", None, None, "EMAIL"),
        ("EMAIL", "https://hook.test", None, CUSTOM),
        ("EMAIL", "https://hook.test", frozenset({"SMS"}), "EMAIL"),
        ("SMS", "https://hook.test", frozenset({"SMS"}), CUSTOM),
        (None, None, None, ""),
        (None, "https://hook.test", None, CUSTOM),
    ],
)
def test_a_custom_channel_takes_the_endpoint_types_it_names(
    channel_type: str | None, uri: str | None, types: frozenset[str] | None, channel: str
) -> None:
    assert sending_channel(channel_type, uri, types) == channel
