# SPDX-License-Identifier: GPL-2.0-or-later
"""`cti server` and `twistd cti`: the service made from a configuration
file, with what a fresh installation lacks made for it, and a wrong file
refused with its file and key, without a traceback."""
import shutil
from argparse import Namespace

import pytest
from twisted.python import usage

from cti.server import twistd
from cti.server.run import main, make_service


def fresh_copy(tmp_path, var="var"):
    """etc/ copied, its var_dir pointing at a directory that does not exist
    and its prompts directory holding only the manifest."""
    etc = tmp_path / "etc"
    shutil.copytree("etc", etc, ignore=shutil.ignore_patterns("*.wav"))
    config = etc / "cti.toml"
    config.write_text(config.read_text().replace('var_dir = "../var"',
                                                 f'var_dir = "../{var}"'))
    return config


def test_a_fresh_installation_gets_its_var_directory_and_prompts(tmp_path):
    config = fresh_copy(tmp_path)
    assert not (tmp_path / "var").exists()
    assert not list((tmp_path / "etc" / "prompts").glob("*.wav"))
    service = make_service(str(config), drain_s=0)
    assert (tmp_path / "var").is_dir()
    prompts = {p.stem for p in (tmp_path / "etc" / "prompts").glob("*.wav")}
    assert {"hold_music", "welcome", "support_options"} <= prompts   # music and speech
    assert service.center.queueing.queue_music("support").endswith("hold_music.wav")


def test_a_wrong_configuration_is_refused_with_its_file_and_key(tmp_path, capsys):
    config = fresh_copy(tmp_path)
    config.write_text(config.read_text().replace("heartbeat_s = 10", "heartbeat_s = -1"))
    assert main(Namespace(config=str(config), drain=None)) == 2
    err = capsys.readouterr().err
    assert str(config) in err and "heartbeat_s" in err
    options = twistd.Options()
    options.parseOptions(["-c", str(config)])
    with pytest.raises(usage.UsageError, match="heartbeat_s"):
        twistd.makeService(options)


def test_twistd_finds_the_cti_plugin():
    """`twistd cti` lists and runs the plugin: Twisted finds it among its
    plugins (linked by the set-up, shipped in twisted/plugins by a wheel)."""
    from twisted.application.service import IServiceMaker
    from twisted.plugin import getPlugins

    makers = {maker.tapname: maker for maker in getPlugins(IServiceMaker)}
    assert "cti" in makers
    assert makers["cti"].module == "cti.server.twistd"
    assert isinstance(makers["cti"].options(), twistd.Options)


def test_the_server_gives_memory_back_to_the_system():
    """glibc takes the settings that make freed big blocks go back to the
    system (cti.server.memory; bench/fuzz.py measures the effect)."""
    from cti.server.memory import give_back_memory

    assert give_back_memory() is True
