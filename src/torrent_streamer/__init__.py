"""torrent-streamer: the backend of a torrent-streaming app.

Packages: ``core`` (infrastructure, imports no domain), one package per domain, and
``engine`` (the libtorrent library, a leaf that imports nothing of the project).
"""

__version__ = "0.1.0"
