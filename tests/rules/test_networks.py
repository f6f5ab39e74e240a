"""The guard against calling the server's own networks on a user's behalf."""

from __future__ import annotations

import pytest

from rules.networks import Refused, check, parse_networks

REFUSED = [
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("::1", "loopback"),
    ("10.1.2.3", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.255", "private"),
    ("192.168.1.1", "private"),
    ("fc00::1", "private"),
    ("fd12:3456::1", "private"),
    ("169.254.169.254", "link-local"),  # cloud metadata
    ("169.254.1.1", "link-local"),
    ("fe80::1", "link-local"),
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("224.0.0.1", "multicast"),
    ("ff02::1", "multicast"),
    ("100.64.0.1", "carrier-grade NAT"),
    ("100.127.255.254", "carrier-grade NAT"),
    ("240.0.0.1", "private"),  # reserved (class E), which Python counts as private
    ("192.0.2.10", "private"),  # documentation
    ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped IPv6
    ("::ffff:10.0.0.1", "private"),
    ("::ffff:169.254.169.254", "link-local"),
    ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 169.254.169.254
    ("2002:a00:1::1", "private"),  # 6to4 of 10.0.0.1
]
PUBLIC = ["8.8.8.8", "1.1.1.1", "100.128.0.1", "172.32.0.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"]


@pytest.mark.parametrize(("ip", "kind"), REFUSED)
def test_non_public_addresses_are_refused(ip: str, kind: str) -> None:
    with pytest.raises(Refused) as exc:
        check("https://hooks.example.com/x", [ip])
    assert str(exc.value).startswith(f"refused: {ip.split('%')[0]} is in a private network")
    assert kind in str(exc.value)


@pytest.mark.parametrize("ip", PUBLIC)
def test_public_addresses_pass(ip: str) -> None:
    assert check("https://hooks.example.com/x", [ip]) == ip


def test_one_private_address_among_public_ones_refuses_the_host() -> None:
    with pytest.raises(Refused, match="10.0.0.5"):
        check("https://hooks.example.com/x", ["8.8.8.8", "10.0.0.5"])


def test_the_first_resolved_address_is_the_one_to_connect_to() -> None:
    assert check("https://hooks.example.com/x", ["8.8.4.4", "8.8.8.8"]) == "8.8.4.4"


def test_a_host_without_addresses_is_refused() -> None:
    with pytest.raises(Refused, match="has no address"):
        check("https://hooks.example.com/x", [])


@pytest.mark.parametrize(
    ("allowed", "ip"),
    [
        ("127.0.0.0/8", "127.0.0.1"),
        ("10.0.0.0/8, 192.168.0.0/16", "192.168.4.4"),
        ("10.0.0.0/8", "::ffff:10.1.1.1"),  # a mapped address is judged by its IPv4 network
        ("::1/128", "::1"),
        ("169.254.169.254/32", "169.254.169.254"),
    ],
)
def test_allowed_networks_open_a_range_again(allowed: str, ip: str) -> None:
    assert check("https://hooks.example.com/x", [ip], parse_networks(allowed)) == ip


def test_an_allowance_covers_only_its_own_network() -> None:
    with pytest.raises(Refused, match="10.0.0.1"):
        check("https://hooks.example.com/x", ["10.0.0.1"], parse_networks("127.0.0.0/8,192.168.0.0/16"))


@pytest.mark.parametrize(
    "url", ["ftp://hooks.example.com/x", "file:///etc/passwd", "gopher://h/x", "arn:aws:lambda:us-east-1:1:function:f"]
)
def test_only_http_and_https_urls(url: str) -> None:
    with pytest.raises(Refused, match="not an http:// or https:// URL"):
        check(url, ["8.8.8.8"])


@pytest.mark.parametrize("url", ["https:///x", "https://:443/x", "https://host:99999/x"])
def test_urls_without_a_usable_host_are_refused(url: str) -> None:
    with pytest.raises(Refused):
        check(url, ["8.8.8.8"])


def test_the_setting_parses_comma_separated_cidrs() -> None:
    assert [str(n) for n in parse_networks(" 127.0.0.0/8 ,, fc00::/7,10.1.2.3")] == [
        "127.0.0.0/8",
        "fc00::/7",
        "10.1.2.3/32",
    ]
    assert parse_networks("") == ()


@pytest.mark.parametrize("bad", ["10.0.0.0/33", "localhost", "10.0.0.1/8", "300.1.1.1/32"])
def test_a_bad_cidr_is_refused_with_the_setting_named(bad: str) -> None:
    with pytest.raises(ValueError, match=f"OPENPOINT_WEBHOOK_ALLOWED_NETWORKS: '{bad}' is not a network"):
        parse_networks(f"127.0.0.0/8,{bad}")
