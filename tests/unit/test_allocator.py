"""``serve`` pins glibc's mmap threshold so freed Argon2 and piece buffers go back to the OS."""

from __future__ import annotations

import platform

from torrent_streamer.cli import tune_allocator


def test_the_allocator_is_tuned_on_glibc() -> None:
    assert tune_allocator() is (platform.libc_ver()[0] == "glibc")
