"""Bring the loopback interface up in a fresh network namespace, then exec the command.

A new namespace starts with ``lo`` down; ``unshare`` has no option to raise it and ``ip``
may be missing, so this sets IFF_UP with one ioctl. Usage: ``python -m ops.netns_exec -- ARGV``.
"""

from __future__ import annotations

import fcntl
import os
import socket
import struct
import sys

SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
IFREQ = "16sh14x"


def loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack(IFREQ, b"lo", 0)
        flags = struct.unpack(IFREQ, fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack(IFREQ, b"lo", flags | IFF_UP))


def main(argv: list[str]) -> int:
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        print("usage: python -m ops.netns_exec -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    try:
        loopback_up()
        os.execvp(argv[0], argv)
    except OSError as exc:
        print(f"netns_exec: {argv[0]}: {exc}", file=sys.stderr)
        return 127
    return 0  # unreachable: execvp replaced this process


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
