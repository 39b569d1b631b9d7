"""The ``forwarded_allow_ips`` option: the peers whose ``X-Forwarded-*`` headers are believed."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

__all__ = ["LOOPBACK", "ForwardedAllowIPs", "TrustedProxies"]

ForwardedAllowIPs = str | Sequence[str]

LOOPBACK: tuple[str, ...] = ("127.0.0.1", "::1")
"""The default: a proxy on the same host."""

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxies:
    """The peers trusted to describe the client with ``X-Forwarded-*`` headers.

    Args:
        allowed: IP addresses and CIDR networks, as a comma-separated string or a
            sequence of strings; ``'*'`` trusts every peer, an empty string or
            sequence trusts none.

    Raises:
        ValueError: an item is neither ``'*'``, an IP address nor a network.
    """

    def __init__(self, allowed: ForwardedAllowIPs) -> None:
        if isinstance(allowed, str):
            items: Sequence[object] = allowed.split(",")
        elif isinstance(allowed, Sequence):
            items = allowed
        else:
            raise ValueError(f"forwarded_allow_ips must be a string or a sequence, not {allowed!r}")
        self._any = False
        networks: list[_Network] = []
        for item in items:
            if not isinstance(item, str):
                raise ValueError(f"forwarded_allow_ips: {item!r} is not a string")
            text = item.strip()
            if text == "*":
                self._any = True
            elif text:
                try:
                    networks.append(ipaddress.ip_network(text, strict=False))
                except ValueError:
                    raise ValueError(
                        f"forwarded_allow_ips: {text!r} is not an IP address or network"
                    ) from None
        self._networks = tuple(networks)

    def trusts(self, peer: str | None) -> bool:
        """Whether the peer at address ``peer`` is a trusted proxy.

        A peer without an IP address (a Unix socket, or none known) is trusted
        only under ``'*'``. An IPv4-mapped IPv6 address (``::ffff:a.b.c.d``)
        also matches as the IPv4 address it holds.
        """
        if self._any:
            return True
        if not peer or not self._networks:
            return False
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False
        candidates: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [address]
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            candidates.append(address.ipv4_mapped)
        return any(a in network for a in candidates for network in self._networks)
