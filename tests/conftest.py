# SPDX-License-Identifier: GPL-2.0-or-later
"""What every test may take for granted: the sample prompts of etc/prompts
exist (hold music, announcements, the callback confirmation), as `cti
server` makes them at its first start.  A fresh clone has only their
manifest; without this, a test would hear silence or not depending on
whether an earlier test happened to generate them."""
from pathlib import Path

import pytest

from cti.flow.prompts import ensure_prompts


@pytest.fixture(scope="session", autouse=True)
def sample_prompts():
    ensure_prompts(Path(__file__).resolve().parent.parent / "etc" / "prompts")
