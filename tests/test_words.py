# SPDX-License-Identifier: GPL-2.0-or-later
"""One set of words for an agent's states (cti.words): every state the
ACD has, each its own word, importable without the screens' libraries,
and the docs say the same words."""
import subprocess
import sys
from pathlib import Path

from cti.server.queueing.state import AGENT
from cti.words import AGENT_STATES, agent_state


def test_every_state_of_the_acd_has_a_word_of_its_own():
    assert set(AGENT_STATES) == AGENT.states
    assert len(set(AGENT_STATES.values())) == len(AGENT_STATES)


def test_a_state_reads_with_its_reason():
    assert agent_state("notReady", "lunch") == "not ready (lunch)"
    assert agent_state("workingAfterCall") == "wrap-up"
    assert agent_state("ready", "") == agent_state("ready", None) == "ready"


def test_a_state_it_does_not_know_is_shown_as_the_protocol_names_it():
    assert agent_state("onVacation", "june") == "onVacation (june)"


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
