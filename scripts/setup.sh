#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Set up a fresh Debian 12 machine for cti: Debian packages (apt-get as
# root, sudo otherwise), a .venv, the editable install that compiles the
# native binding.  Safe to run again: it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES="libspandsp-dev libpri-dev libopenr2-dev dahdi-source tshark python3-dev python3-venv libtiff-tools sox espeak-ng gcc make postgresql openssl"
missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "setup: installing Debian packages:$missing"
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv"
    $PY -m venv .venv
fi
stamp=.venv/.cti-installed
if [ ! -f "$stamp" ] || [ setup.py -nt "$stamp" ] || [ -n "$(find native drivers/_cdefs drivers/build_r4.py drivers/build_pri.py drivers/build_r2.py drivers/build_dahdi.py drivers/staticlib.py -newer "$stamp" -print -quit)" ]; then
    echo "setup: installing cti and its dependencies into .venv (compiles the native binding)"
    .venv/bin/pip install -q --upgrade pip
    .venv/bin/pip install -q -e '.[test]'
    touch "$stamp"
fi
# `twistd cti` finds its plugin in twisted/plugins of the venv.  A wheel
# (`pip install .`) puts it there; the editable install cannot: link ours.
plugins=$(.venv/bin/python -c 'import os, twisted.plugins; print(os.path.dirname(twisted.plugins.__file__))')
[ -e "$plugins/cti_server.py" ] || ln -s "$PWD/twisted/plugins/cti_server.py" "$plugins/cti_server.py"
