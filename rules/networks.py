"""Which addresses the worker may call on a user's behalf (webhooks, https:// import sources).

A URL a user gives must not reach the server's own surroundings: loopback, private networks,
link-local addresses (169.254.169.254 is the cloud metadata service), CGNAT, multicast,
reserved and other non-public ranges, nor any of them written as IPv4-mapped IPv6. The operator
may open chosen networks again (`OPENPOINT_WEBHOOK_ALLOWED_NETWORKS`, comma-separated CIDRs), for
receivers inside their own network.

The decision is made on the addresses the host resolved to, and the caller must then connect to
the address that was checked, not resolve the name again (DNS rebinding).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Networks = tuple[IPNetwork, ...]

SETTING = "OPENPOINT_WEBHOOK_ALLOWED_NETWORKS"
SCHEMES = ("http", "https")
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class Refused(Exception):
    """The URL may not be called; the message says why, for the user to read."""


def parse_networks(text: str) -> Networks:
    """The allowed networks of the setting (empty: none). A bad entry is refused with the
    setting's name, so the worker does not start with an allowance nobody meant."""
    networks: list[IPNetwork] = []
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry))
        except ValueError as e:
            raise ValueError(f"{SETTING}: '{entry}' is not a network in CIDR form such as 10.0.0.0/8 ({e}).") from None
    return tuple(networks)


def target(url: str) -> tuple[str, int]:
    """(host, port) that `url` would connect to; Refused unless it is an http(s) URL with a host."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise Refused(f"refused: '{url[:200]}' is not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise Refused(f"refused: '{url[:200]}' is not an http:// or https:// URL")
    if not parts.hostname:
        raise Refused(f"refused: '{url[:200]}' names no host")
    return parts.hostname, port or (443 if scheme == "https" else 80)


def embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for: IPv4-mapped (::ffff:127.0.0.1 reaches
    127.0.0.1), NAT64's well-known prefix, or 6to4."""
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.sixtofour


def non_public(ip: IPAddress) -> str | None:
    """What kind of non-public address `ip` is, or None for a public one."""
    ip = embedded_ipv4(ip) or ip
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_multicast:
        return "multicast"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return "carrier-grade NAT"
    if ip.is_private:
        return "private"
    if ip.is_reserved:
        return "reserved"
    if not ip.is_global:  # whatever else IANA does not route globally (Teredo, ORCHIDv2, ...)
        return "non-public"
    return None


def _allowed(ip: IPAddress, allowed: Networks) -> bool:
    v4 = embedded_ipv4(ip)
    return any(ip in net or (v4 is not None and v4 in net) for net in allowed)


def check_address(ip: IPAddress | str, allowed: Networks = ()) -> None:
    """Refused when `ip` is non-public and lies in none of the `allowed` networks."""
    address = ipaddress.ip_address(ip) if isinstance(ip, str) else ip
    kind = non_public(address)
    if kind is not None and not _allowed(address, allowed):
        raise Refused(f"refused: {ip} is in a private network ({kind})")


def pick(host: str, addresses: Iterable[IPAddress | str], allowed: Networks = ()) -> str:
    """The address to connect to for `host`, which resolved to `addresses` (in resolver order);
    Refused unless every one passes: a host that also resolves to a private address is
    refused, since a later lookup could land on it."""
    found = list(addresses)
    if not found:
        raise Refused(f"refused: {host} has no address")
    for ip in found:
        check_address(ip, allowed)
    return str(found[0])


def check(url: str, addresses: Iterable[IPAddress | str], allowed: Networks = ()) -> str:
    """`pick` for the host of `url`, which must be an http(s) URL."""
    host, _ = target(url)
    return pick(host, addresses, allowed)
