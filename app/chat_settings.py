"""The conversation's settings panel: sampling, reply length, chat roles and the system prompt.

Every conversation keeps its own settings (stored with it by the engine service); a new chat starts
with those of the chat open before it. The panel shows the settings of the open conversation and
sends every change back through :class:`app.state.AppState`; the next reply uses them. A number
edited is sent once a burst of edits has settled (300 ms), and at once, to the conversation it was
made for, before the panel shows another one and before a message is sent.

For a chat not begun yet the system prompt field is the new chat's draft as typed, the same as the
field above the chat page's message box (:class:`app.chat_page.ChatPage`); a begun chat's takes Apply,
since it continues in a new branch.
"""

from __future__ import annotations

import asyncio
import dataclasses

from PySide6.QtCore import QT_TRANSLATE_NOOP, Qt, QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine import PRESETS, TEMPLATES, SamplerSettings
from engine.service import ChatSettings

from .state import AppState

CUSTOM = QT_TRANSLATE_NOOP("ChatSettingsPanel", "Custom")     # shown as self.tr(CUSTOM)
# field -> (label, minimum, maximum, step, decimals, tooltip); label and tooltip go through self.tr
_NUMBERS = {
    "temperature": (QT_TRANSLATE_NOOP("ChatSettingsPanel", "Temperature:"), 0.0, 3.0, 0.05, 2,
                    QT_TRANSLATE_NOOP("ChatSettingsPanel", "Higher is more varied; 0 always picks the likeliest "
                                                           "token")),
    "top_p": (QT_TRANSLATE_NOOP("ChatSettingsPanel", "Top-p:"), 0.0, 1.0, 0.05, 2,
              QT_TRANSLATE_NOOP("ChatSettingsPanel", "Only the likeliest tokens that together reach this "
                                                     "probability")),
    "presence_penalty": (QT_TRANSLATE_NOOP("ChatSettingsPanel", "Presence penalty:"), 0.0, 3.0, 0.05, 2,
                         QT_TRANSLATE_NOOP("ChatSettingsPanel", "Lowers tokens that already appeared")),
    "frequency_penalty": (QT_TRANSLATE_NOOP("ChatSettingsPanel", "Frequency penalty:"), 0.0, 3.0, 0.05, 2,
                          QT_TRANSLATE_NOOP("ChatSettingsPanel", "Lowers tokens by how often they appeared")),
    "penalty_decay": (QT_TRANSLATE_NOOP("ChatSettingsPanel", "Penalty decay:"), 0.9, 1.0, 0.001, 3,
                      QT_TRANSLATE_NOOP("ChatSettingsPanel", "How fast old tokens' penalties fade (per token)")),
}


class ChatSettingsPanel(QWidget):
    def __init__(self, state: AppState):
        super().__init__()
        self.state = state
        self._filling = False
        form = QFormLayout()
        self.preset = QComboBox()
        self.preset.addItems([*PRESETS, self.tr(CUSTOM)])
        self.preset.setToolTip(self.tr("A starting point for the values below"))
        self.preset.activated.connect(self._preset_chosen)
        form.addRow(self.tr("Preset:"), self.preset)
        self.numbers: dict[str, QDoubleSpinBox] = {}
        for name, (label, lo, hi, step, decimals, tip) in _NUMBERS.items():
            box = QDoubleSpinBox(minimum=lo, maximum=hi, singleStep=step, decimals=decimals)
            box.setToolTip(self.tr(tip))
            box.valueChanged.connect(self._edited)
            self.numbers[name] = box
            form.addRow(self.tr(label), box)
        self.top_k = QSpinBox(minimum=0, maximum=1000)
        self.top_k.setSpecialValueText(self.tr("off"))
        self.top_k.setToolTip(self.tr("Only the k likeliest tokens (off: no limit)"))
        self.top_k.valueChanged.connect(self._edited)
        form.addRow(self.tr("Top-k:"), self.top_k)
        self.max_tokens = QSpinBox(minimum=1, maximum=65536, singleStep=64)
        self.max_tokens.setToolTip(self.tr("The longest a reply may be, in tokens (Continue goes on past it)"))
        self.max_tokens.valueChanged.connect(self._edited)
        form.addRow(self.tr("Max reply length:"), self.max_tokens)
        self.roles = QComboBox()
        self.roles.addItem(self.tr("The model's own"), None)
        for name, t in TEMPLATES.items():
            self.roles.addItem(f"{t.user} / {t.assistant}", name)
        self.roles.setToolTip(self.tr("The role names around each turn: User/Assistant for RWKV World and G1, "
                                      "Bob/Alice for RWKV-4 Raven; from the next message on"))
        self.roles.activated.connect(self._roles_chosen)
        form.addRow(self.tr("Chat roles:"), self.roles)
        self.system = QPlainTextEdit(placeholderText=self.tr("Instructions the model reads before the chat (optional)"))
        self.system.setMaximumHeight(90)
        self.system.setTabChangesFocus(True)    # Tab moves on (to Apply), as in the message field
        self.system.textChanged.connect(self._system_typed)
        self.apply_system = QPushButton(self.tr("Apply system prompt"), clicked=self._system_applied)
        self.apply_system.setToolTip(self.tr("A chat that has begun continues in a new branch under the new "
                                             "prompt; the old branch stays"))

        self.note = QLabel(wordWrap=True)
        self.note.setObjectName("muted")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 0, 0, 0)
        layout.addWidget(QLabel(self.tr("<b>This conversation</b>")))
        layout.addLayout(form)
        layout.addWidget(QLabel(self.tr("System prompt:")))
        layout.addWidget(self.system)
        layout.addWidget(self.apply_system, alignment=Qt.AlignRight)
        layout.addWidget(self.note)
        layout.addStretch()
        # An edit waiting for the timer: the conversation it is for (None: the next new chat) and that
        # conversation's settings when it was made.
        self._pending: tuple[int | None, ChatSettings] | None = None
        self._send_timer = QTimer(self, singleShot=True, interval=300, timeout=self.flush)
        state.chatSettingsChanged.connect(self.fill)
        state.modelChanged.connect(self.fill)
        self.fill()

    def fill(self) -> None:
        """Show the open conversation's settings (or the next new chat's)."""
        self.flush()                    # an edit not sent yet goes to its conversation before it is redrawn
        s = self.state.chat_settings
        self._filling = True
        try:
            self.preset.setCurrentText(s.preset if s.preset in PRESETS else self.tr(CUSTOM))
            for name, box in self.numbers.items():
                box.setValue(getattr(s.sampler, name))
            self.top_k.setValue(s.sampler.top_k)
            self.max_tokens.setValue(s.max_tokens)
            self.roles.setCurrentIndex(max(0, self.roles.findData(s.template)))
            model = self.state.model
            self.roles.setEnabled(model is None or not model.is_remote)
            if not self.system.hasFocus() and self.system.toPlainText().strip() != self.state.system_prompt:
                self.system.setPlainText(self.state.system_prompt)
        finally:
            self._filling = False
        self.apply_system.setVisible(self.state.conversation is not None)   # a new chat's is used as typed
        begun = self.state.conversation is not None and bool(self.state.conversation.path())
        self.note.setText(self.tr("Changes apply from the next reply.") if begun else
                          self.tr("These settings are kept with the conversation."))

    def settings(self, current: ChatSettings | None = None) -> ChatSettings:
        """What the panel shows, as settings (the think mode, seed and roles kept from ``current``, by
        default the open conversation's)."""
        current = current or self.state.chat_settings
        sampler = dataclasses.replace(current.sampler, top_k=self.top_k.value(),
                                      **{name: box.value() for name, box in self.numbers.items()})
        preset = self.preset.currentText()
        if preset in PRESETS and _same_sampling(PRESETS[preset], sampler):
            chosen = preset
        else:
            chosen = next((n for n, p in PRESETS.items() if _same_sampling(p, sampler)), None)
        return dataclasses.replace(current, sampler=sampler, max_tokens=self.max_tokens.value(), preset=chosen)

    def _preset_chosen(self) -> None:
        name = self.preset.currentText()
        if name not in PRESETS:          # Custom
            return
        current = self._with_pending()
        sampler = dataclasses.replace(PRESETS[name], seed=current.sampler.seed,
                                      banned_tokens=current.sampler.banned_tokens)
        self.state.update_chat(dataclasses.replace(current, sampler=sampler, preset=name))

    def _roles_chosen(self) -> None:
        chosen = dataclasses.replace(self._with_pending(), template=self.roles.currentData())
        if chosen != self.state.chat_settings:
            self.state.update_chat(chosen)

    def _edited(self) -> None:
        if not self._filling:
            self._pending = (self._shown(), self.state.chat_settings)
            self._send_timer.start()          # one update after a burst of arrow clicks

    def flush(self) -> asyncio.Future | None:
        """Send an edit still waiting for the timer now, to the conversation it was made for. Returns the
        update (await it to know the conversation has it), or None if no edit was waiting."""
        self._send_timer.stop()
        pending, self._pending = self._pending, None
        if pending is None:
            return None
        conv_id, then = pending
        if conv_id != self._shown():        # about to show another: what the panel still shows is for that one
            settings = self.settings(then)
            if conv_id is None:
                self.state.draft_settings = settings
                return None
            return asyncio.ensure_future(self.state._update(conv_id, settings, None))
        settings = self.settings()          # over the conversation's newest (a think mode chosen meanwhile)
        self.preset.setCurrentText(settings.preset or self.tr(CUSTOM))
        return self.state.update_chat(settings)

    def _with_pending(self) -> ChatSettings:
        """The open conversation's settings with an edit still waiting for the timer, which the caller's
        update then carries."""
        if self._pending is not None and self._pending[0] == self._shown():
            self._send_timer.stop()
            self._pending = None
            return self.settings()
        self.flush()
        return self.state.chat_settings

    def _shown(self) -> int | None:
        """The conversation the panel is for (None: the next new chat)."""
        return self.state.conversation.id if self.state.conversation is not None else None

    def _system_typed(self) -> None:
        """A new chat's system prompt is the draft as typed (the chat page shows the same); a begun chat's
        waits for Apply."""
        text = self.system.toPlainText()
        if not self._filling and self.state.conversation is None and text.strip() != self.state.draft_system:
            self.state.update_chat(system_prompt=text)

    def _system_applied(self) -> None:
        self.state.update_chat(system_prompt=self.system.toPlainText())


def _same_sampling(a: SamplerSettings, b: SamplerSettings) -> bool:
    fields = ("temperature", "top_p", "top_k", "presence_penalty", "frequency_penalty", "penalty_decay")
    return all(abs(getattr(a, f) - getattr(b, f)) < 1e-9 for f in fields)
