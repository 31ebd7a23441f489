"""glibc's allocator settings for rehearsal after rehearsal in one process (core/memory.py)."""

import platform

import pytest

from dagster_project.core import memory


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_the_settings_are_accepted_once_per_process():
    assert memory.tame_glibc_malloc() is True
    assert memory.tame_glibc_malloc() is True   # a second rehearsal in the process: nothing more to do

