# SPDX-License-Identifier: GPL-2.0-or-later
"""What every test may take for granted, and what every test run checks.

- The sample prompts of etc/prompts exist (hold music, announcements, the
  callback confirmation), as `cti server` makes them at its first start.
  A fresh clone has only their manifest; without this, a test would hear
  silence or not depending on whether an earlier test happened to
  generate them.
- Every error a server session sends, in any test, is one its service
  declared (`Service.errors`, cti.protocol.services) or one any request
  may get (COMMON_ERRORS).  The declarations are what docs/protocol.md
  promises client writers; the whole suite is their check.  An error
  frame naming no service (a frame that is no request, a body that is not
  JSON, an unknown service) must carry a common code.  A code that breaks
  the promise fails the run at its end, naming the service, the code and
  the first test that saw it.
- `centre`: the whole server of etc/cti.toml in virtual time, started
  (tests.centre.Centre), stopped after the test; a module may define its
  own `centre` for another configuration.
- `tracebacks`: a fixture listing the failures (tracebacks) logged while a
  test runs; `logged_tracebacks()` the same as a context manager, for a
  hypothesis test whose examples each need their own list.
"""
import os
from contextlib import contextmanager
from pathlib import Path

import pytest
from twisted.logger import globalLogPublisher

from cti.flow.prompts import ensure_prompts
from cti.protocol.server import Session
from cti.protocol.services import COMMON_ERRORS


@pytest.fixture
def centre():
    from tests.centre import Centre

    centre = Centre()
    centre.server.startService()
    yield centre
    centre.center.stop()


@contextmanager
def logged_tracebacks():
    """The log events carrying a failure, while the block runs."""
    seen = []

    def observe(event):
        if "log_failure" in event:
            seen.append(event)
    globalLogPublisher.addObserver(observe)
    try:
        yield seen
    finally:
        globalLogPublisher.removeObserver(observe)


@pytest.fixture
def tracebacks():
    with logged_tracebacks() as seen:
        yield seen


@pytest.fixture(scope="session", autouse=True)
def sample_prompts():
    ensure_prompts(Path(__file__).resolve().parent.parent / "etc" / "prompts")


class ErrorLedger:
    """The (service, code) pairs of every error frame sessions sent that
    their service did not declare, with the first test that sent each."""

    def __init__(self):
        self.undeclared = {}

    def saw(self, session, message):
        if message.kind != "error":
            return
        code, name = message.body.get("code"), message.body.get("service")
        catalogue = session.hub.catalogue
        if name is not None and name in catalogue:
            service, _ = catalogue.get(name)
            if service.may_answer(code):
                return
        elif code in COMMON_ERRORS:
            return
        test = os.environ.get("PYTEST_CURRENT_TEST", "?").split(" ")[0]
        self.undeclared.setdefault((name, code), test)

    def report(self):
        return "\n".join(f"  {name or '(no service)'}: {code} (first in {test})"
                         for (name, code), test in sorted(self.undeclared.items(),
                                                          key=lambda kv: (str(kv[0][0]),
                                                                          kv[0][1])))


@pytest.fixture(scope="session", autouse=True)
def declared_errors_only():
    """Record every error frame any session sends during the run (by
    wrapping Session._send, where every frame goes out); fail the run at
    its end if one was not declared."""
    ledger = ErrorLedger()
    send = Session._send

    def recording_send(self, message, strict=False):
        ledger.saw(self, message)
        return send(self, message, strict)

    Session._send = recording_send
    yield ledger
    Session._send = send
    if ledger.undeclared:
        pytest.fail("errors sent that their service does not declare (Service.errors in "
                    "cti; the common ones: cti.protocol.services.COMMON_ERRORS):\n"
                    + ledger.report(), pytrace=False)
