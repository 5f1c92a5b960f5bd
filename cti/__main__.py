# SPDX-License-Identifier: GPL-2.0-or-later
from cti.cli import main

raise SystemExit(main())
