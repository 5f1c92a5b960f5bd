# SPDX-License-Identifier: GPL-2.0-or-later
"""Flow files reloaded live: an operator edits a flow, the server's reload
(or SIGHUP to `cti flow`) has the flow tier take it; a caller already in
the flow finishes on the old definition, the next caller gets the new
one; a wrong flow refuses the whole reload, naming the file, the line and
the problem, and the flows that ran stay."""
import shutil

import pytest
from twisted.internet import defer
from twisted.logger import globalLogPublisher

from cti.flow.library import FlowsRefused, flow_changes
from cti.flow.run import library_of, load
from cti.flow.tier import FlowTier
from tests.centre import Centre, admin

ROOT_ETC = "etc"


@pytest.fixture
def site(tmp_path):
    """The sample configuration with its flows in a directory of the test's."""
    etc = tmp_path / "etc"
    shutil.copytree(ROOT_ETC, etc, ignore=shutil.ignore_patterns("*.wav"))
    shutil.copytree(f"{ROOT_ETC}/prompts", etc / "prompts", dirs_exist_ok=True)
    return etc


def at_once(f, *args):
    """The prompts made here and now (the reactor's threads do not run
    under the test's clock)."""
    return defer.maybeDeferred(f, *args)


def started(site):
    """The centre on `site`, and its flow tier serving a FlowLibrary."""
    centre = Centre(str(site / "cti.toml"), var_dir=site.parent / "var")   # as the file says
    centre.server.startService()
    _, settings, flows = load(centre.config.path)
    library = library_of(settings, flows, centre.clock, in_thread=at_once)
    client = centre.client()
    centre.call(client.login(settings.user, settings.read_password(), "flow"))
    tier = FlowTier(client, library.runner, library)
    centre.call(tier.register())
    return centre, tier, library


def at_the_menu(centre, trunk, dnis="5550100"):
    caller = centre.sim.endpoint(trunk)
    caller.call(ani="2125559876", dnis=dnis)
    centre.run_until(lambda: caller.state == "connected", what="the IVR answers")
    centre.run(3000)                                      # the welcome, the menu plays
    return caller


def edit(site, flow, old, new):
    path = site / "flows" / f"{flow}.toml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def outcome_of(centre, tier, caller_count):
    centre.run_until(lambda: len(tier.outcomes) == caller_count, within_ms=20_000,
                     what="the caller leaves the IVR")
    return tier.outcomes[-1][1]


def test_the_server_s_reload_reloads_the_flows_calls_in_a_flow_keep_theirs(site):
    centre, tier, _ = started(site)
    lines = []
    globalLogPublisher.addObserver(lines.append)
    try:
        first = at_the_menu(centre, "dtiB1T1")          # in main_menu, before the edit
        edit(site, "main_menu", '"1" = "to_sales"', '"1" = "to_support"')
        answer = centre.call(admin(centre).call("Reload"))
        assert answer["changes"] == []                  # cti.toml is as it was
        centre.run(100)                                 # FlowsReload, FlowsReloaded
        first.send_digits("1")
        assert outcome_of(centre, tier, 1).target == ("queue", "sales")     # the old menu
        second = at_the_menu(centre, "dtiB1T2")
        second.send_digits("1")                         # the new menu: the support menu
        centre.run(3000)
        second.send_digits("1")                         # its 1: internet problems
        new = outcome_of(centre, tier, 2)
        assert new.target == ("queue", "support") and ("support_menu", "menu") in new.path
    finally:
        globalLogPublisher.removeObserver(lines.append)
        centre.center.stop()
    said = [e.get("log_format", "").format(**e) for e in lines
            if e.get("log_namespace", "").startswith(("cti.flow", "cti.server.ivr"))]
    assert "flows reloaded (the CT server's reload): flow main_menu changed; 4 flows" in said
    assert any(s.endswith("flows reloaded: flow main_menu changed") for s in said), said


def test_a_wrong_flow_refuses_the_whole_reload_and_the_old_flows_run_on(site):
    centre, tier, library = started(site)
    lines = []
    globalLogPublisher.addObserver(lines.append)
    try:
        edit(site, "main_menu", '"1" = "to_sales"', '"1" = "to_salse"')
        edit(site, "support_menu", 'description = "Support menu', 'description = "Support')
        centre.call(admin(centre).call("Reload"))
        centre.run(100)
        caller = at_the_menu(centre, "dtiB1T1")
        caller.send_digits("1")
        assert outcome_of(centre, tier, 1).target == ("queue", "sales")
    finally:
        globalLogPublisher.removeObserver(lines.append)
        centre.center.stop()
    warned = [e.get("error", "") for e in lines
              if e.get("log_namespace") == "cti.server.ivr.flows" and "error" in e]
    [error] = warned
    menu_line = next(n for n, text in enumerate(
        (site / "flows" / "main_menu.toml").read_text().splitlines(), 1)
        if text.startswith("options = "))
    assert error.startswith("1 error in the flow files; nothing was reloaded, the flows "
                            f"running stay: {site / 'flows' / 'main_menu.toml'}, line "
                            f"{menu_line}: steps[4] (menu): options.1: no step named "
                            "'to_salse'")
    assert library.flows["support_menu"].description.startswith("Support menu")  # not taken


def test_sighup_s_reload_is_the_library_s_and_says_every_error(site):
    """What `cti flow` does on SIGHUP (cti.flow.run.reload_on_hangup):
    the library reloads; two wrong files, both said, each with its line."""
    centre, _, library = started(site)
    try:
        (site / "flows" / "broken.toml").write_text('description = "x"\n[[steps]]\nname = \n')
        edit(site, "support_menu", 'next = "welcome"', 'next = "welcom"')
        with pytest.raises(FlowsRefused) as refused:
            centre.call(library.reload("SIGHUP"))
        message = str(refused.value)
        assert message.startswith("2 errors in the flow files; nothing was reloaded")
        assert f"{site / 'flows' / 'broken.toml'}, line 3: not valid TOML" in message
        assert f"{site / 'flows' / 'support_menu.toml'}, line 23: steps[0] (answer): next: " \
               "no step named 'welcom'" in message
        (site / "flows" / "broken.toml").unlink()
        edit(site, "support_menu", 'next = "welcom"', 'next = "welcome"')
        shutil.copy(site / "flows" / "after_hours.toml", site / "flows" / "night.toml")
        assert centre.call(library.reload("SIGHUP"))["changes"] == ["flow night added"]
        assert "night" in library.runner.flows
    finally:
        centre.center.stop()


def test_flow_changes_name_each_flow_added_changed_or_removed():
    assert flow_changes({"a": 1, "b": 2, "c": 3}, {"a": 1, "b": 5, "d": 4}) == [
        "flow b changed", "flow c removed", "flow d added"]


def test_a_goto_after_the_reload_goes_into_the_old_definition_of_the_other_flow(site):
    """A caller in main_menu since before the reload, whose 2 goes to
    support_menu after it: the support menu it hears is the old one."""
    centre, tier, _ = started(site)
    try:
        caller = at_the_menu(centre, "dtiB1T1")
        edit(site, "support_menu", '"1" = "internet"', '"1" = "telephone"')
        centre.call(admin(centre).call("Reload"))
        centre.run(100)
        caller.send_digits("2")                         # goto support_menu
        centre.run(3000)
        caller.send_digits("1")
        old = outcome_of(centre, tier, 1)
        assert ("support_menu", "internet") in old.path
        assert ("support_menu", "telephone") not in old.path
        newer = at_the_menu(centre, "dtiB1T2")
        newer.send_digits("2")
        centre.run(3000)
        newer.send_digits("1")
        assert ("support_menu", "telephone") in outcome_of(centre, tier, 2).path
    finally:
        centre.center.stop()


def test_a_new_prompt_is_made_off_the_reactor_before_the_flows_are_taken(site):
    """A flow naming a prompt new to the manifest: the prompt is made on
    a thread (calls are served meanwhile), and only then are the flows
    taken, its WAV there for the first caller."""
    centre = Centre(str(site / "cti.toml"), var_dir=site.parent / "var")
    _, settings, flows = load(centre.config.path)
    waiting = []

    def on_a_thread(f, *args):
        d = defer.Deferred()
        waiting.append((d, f, args))
        return d

    library = library_of(settings, flows, centre.clock, in_thread=on_a_thread)
    manifest = site / "prompts" / "prompts.toml"
    manifest.write_text(manifest.read_text().replace(
        "[prompts]\n", '[prompts]\nnight_greeting = "We are closed for the night."\n', 1))
    shutil.copy(site / "flows" / "after_hours.toml", site / "flows" / "night.toml")
    edit(site, "night", 'prompt = [', 'prompt = ["night_greeting", ')
    answers = []
    library.reload("SIGHUP").addCallback(answers.append)
    [(d, f, args)] = waiting
    assert not answers and "night" not in library.flows              # not yet
    d.callback(f(*args))
    assert (site / "prompts" / "night_greeting.wav").exists()
    assert answers[0]["changes"] == ["flow night added"] and "night" in library.flows


def test_two_reloads_at_once_end_with_the_files_as_they_are_last(site):
    """A SIGHUP while the server's reload is still making prompts (two
    operators, or a reload and a SIGHUP): the second reload reads the
    files after the first has taken its flows, so whichever prompts end
    first, the flows served are the files as they are last."""
    centre = Centre(str(site / "cti.toml"), var_dir=site.parent / "var")
    _, settings, flows = load(centre.config.path)
    waiting = []

    def on_a_thread(f, *args):
        d = defer.Deferred()
        waiting.append((d, f, args))
        return d

    library = library_of(settings, flows, centre.clock, in_thread=on_a_thread)
    shutil.copy(site / "flows" / "after_hours.toml", site / "flows" / "night.toml")
    answers = []
    library.reload("the CT server's reload").addCallback(answers.append)
    shutil.copy(site / "flows" / "after_hours.toml", site / "flows" / "weekend.toml")
    library.reload("SIGHUP").addCallback(answers.append)
    while waiting:                                     # the newest prompts end first
        d, f, args = waiting.pop()
        d.callback(f(*args))
    assert [answer["changes"] for answer in answers] == [["flow night added"],
                                                         ["flow weekend added"]]
    assert {"night", "weekend"} <= set(library.flows)


def test_a_prompt_that_cannot_be_written_is_a_warning_and_the_flows_are_taken(site):
    """The prompts' disk full (or not ours to write): as a prompt espeak-ng
    cannot make, a warning, and the flows are taken all the same (callers
    hear silence where the prompt is missing), answered to the server."""
    import errno

    centre = Centre(str(site / "cti.toml"), var_dir=site.parent / "var")
    _, settings, flows = load(centre.config.path)

    def disk_full(f, *args):
        return defer.fail(OSError(errno.ENOSPC, "No space left on device"))

    library = library_of(settings, flows, centre.clock, in_thread=disk_full)
    shutil.copy(site / "flows" / "after_hours.toml", site / "flows" / "night.toml")
    lines = []
    globalLogPublisher.addObserver(lines.append)
    try:
        answers = []
        library.reload("SIGHUP").addCallback(answers.append)
    finally:
        globalLogPublisher.removeObserver(lines.append)
    assert answers[0]["changes"] == ["flow night added"] and "night" in library.flows
    assert any("No space left on device" in str(line.get("e", "")) for line in lines)


def test_a_call_for_a_flow_on_its_way_waits_for_the_reload_not_released(site):
    """A new flow and the route to it, then `cti reload`: the server
    routes the next call to the flow at once, while the flow tier is still
    making its prompts.  The call waits for the flows to be taken and
    goes through the new flow; it is not released for a flow unknown."""
    centre = Centre(str(site / "cti.toml"), var_dir=site.parent / "var")
    centre.server.startService()
    try:
        _, settings, flows = load(centre.config.path)
        waiting = []

        def on_a_thread(f, *args):
            d = defer.Deferred()
            waiting.append((d, f, args))
            return d

        library = library_of(settings, flows, centre.clock, in_thread=on_a_thread)
        client = centre.client()
        centre.call(client.login(settings.user, settings.read_password(), "flow"))
        tier = FlowTier(client, library.runner, library)
        centre.call(tier.register())
        shutil.copy(site / "flows" / "after_hours.toml", site / "flows" / "night.toml")
        cti = site / "cti.toml"
        cti.write_text(cti.read_text().replace(
            "[[routes]]\n", '[[routes]]\ndnis = "5550777"\nflow = "night"\n\n[[routes]]\n', 1))
        centre.call(admin(centre).call("Reload"))
        centre.run(100)                                   # FlowsReload: prompts under way
        assert waiting and "night" not in library.flows
        caller = centre.sim.endpoint("dtiB1T1")
        caller.call(ani="2125559876", dnis="5550777")
        centre.run(5000)                                  # its RouteRequest meanwhile
        assert caller.state == "ringing" and not tier.outcomes
        d, f, args = waiting.pop()
        d.callback(f(*args))                              # the prompts made: taken
        centre.run_until(lambda: caller.state == "connected", what="the night flow answers")
        centre.run(2000)
        caller.hangup()
        outcome = outcome_of(centre, tier, 1)
        assert outcome.path[0] == ("night", "answer")
    finally:
        centre.center.stop()
