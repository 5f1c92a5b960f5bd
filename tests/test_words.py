# SPDX-License-Identifier: GPL-2.0-or-later
"""One set of words for an agent's states (cti.words): every state the
ACD has, each its own word, importable without the screens' libraries,
and the docs say the same words."""
import subprocess
import sys
from pathlib import Path

from cti.server.queueing.state import AGENT
from cti.words import AGENT_STATES, agent_state, in_words


def test_every_state_of_the_acd_has_a_word_of_its_own():
    assert set(AGENT_STATES) == AGENT.states
    assert len(set(AGENT_STATES.values())) == len(AGENT_STATES)


def test_a_state_reads_with_its_reason():
    assert agent_state("notReady", "lunch") == "not ready (lunch)"
    assert agent_state("workingAfterCall") == "wrap-up"
    assert agent_state("ready", "") == agent_state("ready", None) == "ready"


def test_a_state_it_does_not_know_is_shown_as_the_protocol_names_it():
    assert agent_state("onVacation", "june") == "onVacation (june)"


def test_a_servers_message_shows_the_states_it_names_in_the_words():
    assert in_words("agent 1007 is loggedOff") == "agent 1007 is logged off"
    assert in_words("agent 1005 is busy, not ready") == "agent 1005 is on a call, not ready"
    assert in_words("agent 1005 is workingAfterCall: a call of c3") == (
        "agent 1005 is wrap-up: a call of c3")
    assert in_words("trunk dtiB1T1 is busy") == "trunk dtiB1T1 is busy"    # no agent's


def test_the_agent_desktop_shows_the_states_its_keys_go_to_in_the_words():
    """Its footer and status line say the states as every screen does."""
    from cti.agent.desktop import AgentDesktop, now_in

    labels = {b.action: b.description for b in AgentDesktop.BINDINGS}
    assert (labels["ready"], labels["not_ready"], labels["after_call_work"]) == (
        "Ready", "Not ready", "Wrap-up")
    assert now_in("notReady", "lunch") == "Now not ready (lunch)"
    assert now_in("loggedOff") == "Now logged off"


def test_the_words_need_neither_rich_nor_textual_nor_the_desktops():
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, cti.words; print(' '.join(sorted(sys.modules)))"],
        capture_output=True, text=True, check=True).stdout.split()
    assert not [m for m in loaded if m.split(".")[0] in ("rich", "textual", "twisted")
                or m.startswith("cti.agent")]


def test_the_docs_list_the_same_words():
    operations = (Path(__file__).parent.parent / "docs" / "operations.md").read_text()
    state_row = next(line for line in operations.splitlines() if line.startswith("| State |"))
    assert all(word in state_row for word in AGENT_STATES.values())
