# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_agent_desktop -*-
"""The two small dialogs the desktops ask with, both driven by the keyboard.

`Ask` wants a line of text (a not-ready reason, DTMF digits, the agent to
consult; with `secret`, a password, shown as dots): type, Enter.  `Pick`
wants one of a few choices (transfer to an agent, a queue or a flow; a
queue's strategy): arrows, Enter.  Escape cancels either.  Each is a
modal screen that dismisses with the answer, None when cancelled, so
the caller passes a callback to push_screen::

    self.push_screen(Ask("Not ready: reason"), self._not_ready)
"""
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList

CSS = """
Ask, Pick { align: center middle; }
Ask > Vertical, Pick > Vertical {
    width: 60; height: auto; padding: 1 2; border: thick $accent; background: $surface;
}
Pick OptionList { height: auto; max-height: 12; }
"""


class Ask(ModalScreen):
    """A line of text, or None."""

    DEFAULT_CSS = CSS
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title, placeholder="", value="", secret=False):
        super().__init__()
        self.title_text = title
        self.placeholder = placeholder
        self.value = value
        self.secret = secret

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.title_text)
            yield Input(self.value, placeholder=self.placeholder, password=self.secret)

    def on_input_submitted(self, event: Input.Submitted):
        self.dismiss(event.value if self.secret else event.value.strip())

    def action_cancel(self):
        self.dismiss(None)


class Pick(ModalScreen):
    """One of `choices` (a list of (value, label)), or None."""

    DEFAULT_CSS = CSS
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title, choices, current=None):
        super().__init__()
        self.title_text = title
        self.choices = list(choices)
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.title_text)
            yield OptionList(*(label for _, label in self.choices))

    def on_mount(self):
        values = [value for value, _ in self.choices]
        if self.current in values:
            self.query_one(OptionList).highlighted = values.index(self.current)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected):
        self.dismiss(self.choices[event.option_index][0])

    def action_cancel(self):
        self.dismiss(None)
