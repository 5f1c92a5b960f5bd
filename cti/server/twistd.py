# SPDX-License-Identifier: GPL-2.0-or-later
"""What twistd needs for `twistd cti`: Options and makeService."""
from twisted.python import usage

from cti.config import ConfigError
from cti.server.reload.hangup import ignore_hangups
from cti.server.run import make_service


class Options(usage.Options):
    optParameters = [
        ["config", "c", "etc/cti.toml", "the server configuration (TOML)"],
        ["drain", None, None, "seconds calls may take to finish at stop", float],
    ]


def makeService(options):
    ignore_hangups()                         # SIGHUP: nothing, until the server has started
    try:
        return make_service(options["config"], options["drain"])
    except ConfigError as e:                 # twistd prints it, without a traceback
        raise usage.UsageError(str(e)) from None
