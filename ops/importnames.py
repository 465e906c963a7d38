"""Import names that differ from their distribution's name, and stdlib changes by version.

The table covers the common cases so that mapping an import to its distribution does not
depend on what happens to be installed.
"""

from __future__ import annotations

from packaging.utils import canonicalize_name

KNOWN_IMPORT_NAMES = {
    "yaml": "pyyaml",
    "cv2": "opencv-python",
    "PIL": "pillow",
    "sklearn": "scikit-learn",
    "skimage": "scikit-image",
    "bs4": "beautifulsoup4",
    "dateutil": "python-dateutil",
    "attr": "attrs",
    "google.protobuf": "protobuf",
    "jwt": "pyjwt",
    "serial": "pyserial",
    "dotenv": "python-dotenv",
    "Crypto": "pycryptodome",
    "OpenSSL": "pyopenssl",
    "magic": "python-magic",
    "zmq": "pyzmq",
    "git": "gitpython",
    "fitz": "pymupdf",
    "pynvml": "nvidia-ml-py",
    "markdown_it": "markdown-it-py",
    "pkg_resources": "setuptools",
    "_pytest": "pytest",
    "docx": "python-docx",
    "multipart": "python-multipart",
    "jose": "python-jose",
    "slugify": "python-slugify",
    "websocket": "websocket-client",
}

# Modules that entered the standard library after 3.8, with the version that added them.
STDLIB_ADDED = {"zoneinfo": (3, 9), "graphlib": (3, 9), "tomllib": (3, 11)}
# Modules removed from the standard library, with the version that removed them.
STDLIB_REMOVED = {
    **dict.fromkeys(("distutils", "imp", "asynchat", "asyncore", "smtpd"), (3, 12)),
    **dict.fromkeys(
        (
            "aifc",
            "audioop",
            "cgi",
            "cgitb",
            "chunk",
            "crypt",
            "imghdr",
            "mailcap",
            "msilib",
            "nis",
            "nntplib",
            "ossaudiodev",
            "pipes",
            "sndhdr",
            "spwd",
            "sunau",
            "telnetlib",
            "uu",
            "xdrlib",
            "lib2to3",
        ),
        (3, 13),
    ),
}


def distribution_for_import(name: str) -> str:
    """The distribution an import name most likely comes from (canonical form)."""
    top = name.split(".")[0]
    return canonicalize_name(KNOWN_IMPORT_NAMES.get(name, KNOWN_IMPORT_NAMES.get(top, top)))


def stdlib_for(
    running: frozenset[str], oldest: tuple[int, int], newest: tuple[int, int]
) -> frozenset[str]:
    """Standard-library modules available on every Python from ``oldest`` to ``newest``."""
    names = set(running) | {name for name, removed in STDLIB_REMOVED.items() if oldest < removed}
    names -= {name for name, added in STDLIB_ADDED.items() if oldest < added}
    names -= {name for name, removed in STDLIB_REMOVED.items() if newest >= removed}
    return frozenset(names)
