"""The conversation's settings panel: sampling, reply length, chat roles and the system prompt.

Every conversation keeps its own settings (stored with it by the engine service); a new chat starts
with those of the chat open before it. The panel shows the settings of the open conversation and
sends every change back through :class:`app.state.AppState`; the next reply uses them. A number
edited is sent once a burst of edits has settled (300 ms), and at once, to the conversation it was
made for, before the panel shows another one and before a message is sent.

For a chat not begun yet the system prompt field is the new chat's draft as typed, the same as the
field above the chat page's message box (:class:`app.chat_page.ChatPage`); a begun chat's takes Apply,
since it continues in a new branch.

Besides the engine's presets (:data:`engine.PRESETS`) the user keeps presets of their own: the six
sampling values a preset holds there (not the reply length, which no built-in preset sets either),
under a name, in the app's settings (``presets``: {name: {field: value}}), read back checked. A
conversation names its preset in :attr:`ChatSettings.preset` as it does a built-in one (the engine keeps
any name), so it shows that preset while its values match and Custom once they differ or the preset
is deleted.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math

from PySide6.QtCore import QT_TRANSLATE_NOOP, Qt, QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine import PRESETS, TEMPLATES, SamplerSettings
from engine.service import ChatSettings

from .state import AppState

log = logging.getLogger(__name__)
PRESETS_KEY = "presets"       # the app setting that holds the user's own presets
OWN = Qt.UserRole + 1         # a Preset box item's role: True for one of the user's own presets
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
TOP_K_MAX = 1000
# What a preset sets: the sampling values of engine.PRESETS (the seed and banned tokens stay the chat's).
PRESET_FIELDS = ("temperature", "top_p", "top_k", "presence_penalty", "frequency_penalty", "penalty_decay")


class ChatSettingsPanel(QWidget):
    def __init__(self, state: AppState):
        super().__init__()
        self.state = state
        self._filling = False
        form = QFormLayout()
        self.preset = QComboBox()
        self.preset.setToolTip(self.tr("A starting point for the values below"))
        self.preset.activated.connect(self._preset_chosen)
        self.preset.currentIndexChanged.connect(self._preset_shown)
        form.addRow(self.tr("Preset:"), self.preset)
        self.save_preset_button = QPushButton(self.tr("Save as preset…"), clicked=self.save_preset)
        self.save_preset_button.setToolTip(self.tr("Keep the values below under a name of your own, for any "
                                                   "conversation"))
        self.delete_preset_button = QPushButton(self.tr("Delete preset"), clicked=self.delete_preset)
        self.delete_preset_button.setToolTip(self.tr("Forget the chosen preset of your own (conversations that "
                                                     "use it keep their values)"))
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(self.save_preset_button)
        buttons.addWidget(self.delete_preset_button)
        buttons.addStretch()
        form.addRow("", buttons)
        self.own_presets: dict[str, SamplerSettings] = {}
        self.name_dialog: QInputDialog | None = None      # the last question asked (tests answer them)
        self.preset_box: QMessageBox | None = None
        self.numbers: dict[str, QDoubleSpinBox] = {}
        for name, (label, lo, hi, step, decimals, tip) in _NUMBERS.items():
            box = QDoubleSpinBox(minimum=lo, maximum=hi, singleStep=step, decimals=decimals)
            box.setToolTip(self.tr(tip))
            box.valueChanged.connect(self._edited)
            self.numbers[name] = box
            form.addRow(self.tr(label), box)
        self.top_k = QSpinBox(minimum=0, maximum=TOP_K_MAX)
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
        state.preferenceChanged.connect(self._preference_changed)
        self._list_presets()
        self.fill()

    def fill(self) -> None:
        """Show the open conversation's settings (or the next new chat's)."""
        self.flush()                    # an edit not sent yet goes to its conversation before it is redrawn
        s = self.state.chat_settings
        self._filling = True
        try:
            self._show_preset(s.preset, s.sampler)
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
        presets = self.presets()
        preset = self.preset.currentData()
        if preset in presets and _same_sampling(presets[preset], sampler):
            chosen = preset
        else:
            chosen = next((n for n, p in presets.items() if _same_sampling(p, sampler)), None)
        return dataclasses.replace(current, sampler=sampler, max_tokens=self.max_tokens.value(), preset=chosen)

    def presets(self) -> dict[str, SamplerSettings]:
        """Every preset the box offers: the engine's, then the user's own."""
        return {**PRESETS, **self.own_presets}

    def _preset_chosen(self) -> None:
        name = self.preset.currentData()
        presets = self.presets()
        if name not in presets:          # Custom
            return
        current = self._with_pending()
        sampler = dataclasses.replace(presets[name], seed=current.sampler.seed,
                                      banned_tokens=current.sampler.banned_tokens)
        self.state.update_chat(dataclasses.replace(current, sampler=sampler, preset=name))

    def _show_preset(self, name: str | None, sampler: SamplerSettings) -> None:
        """Select ``name`` if it is a preset the box offers and ``sampler`` still has its values, else Custom."""
        preset = self.presets().get(name) if name else None
        index = self.preset.findData(name) if preset is not None and _same_sampling(preset, sampler) else -1
        self.preset.setCurrentIndex(index if index >= 0 else self.preset.count() - 1)

    def _preset_shown(self) -> None:
        own = bool(self.preset.currentData(OWN))
        self.delete_preset_button.setEnabled(own)

    def _preference_changed(self, key: str) -> None:
        if key == PRESETS_KEY:
            self._list_presets()

    def _list_presets(self) -> None:
        """Fill the Preset box: the engine's presets, the user's own (as the settings hold them now), Custom."""
        self.own_presets = read_presets(self.state.settings.get(PRESETS_KEY))
        self.preset.blockSignals(True)
        try:
            self.preset.clear()
            for name in PRESETS:
                self.preset.addItem(name, name)
            if self.own_presets:
                self.preset.insertSeparator(self.preset.count())
            for name in self.own_presets:
                self.preset.addItem(self.tr("{0} (yours)").format(name), name)
                self.preset.setItemData(self.preset.count() - 1, True, OWN)
                self.preset.setItemData(self.preset.count() - 1, self.tr("A preset of your own"), Qt.ToolTipRole)
            self.preset.addItem(self.tr(CUSTOM), "")
        finally:
            self.preset.blockSignals(False)
        shown = dataclasses.replace(self.state.chat_settings.sampler, top_k=self.top_k.value(),
                                    **{name: box.value() for name, box in self.numbers.items()})
        self._show_preset(self.state.chat_settings.preset, shown)      # as the values shown now stand
        self._preset_shown()

    # -- the user's own presets --------------------------------------------------------------------

    def save_preset(self) -> QInputDialog:
        """Ask a name for the values shown, then keep them as a preset of the user's own."""
        dialog = QInputDialog(self)
        dialog.setWindowTitle(self.tr("Save as preset"))
        dialog.setLabelText(self.tr("A name for these values:"))
        shown = self.preset.currentData()
        dialog.setTextValue(shown if shown in self.own_presets else "")
        dialog.setAttribute(Qt.WA_DeleteOnClose)
        dialog.textValueSelected.connect(self.save_preset_as)
        self.name_dialog = dialog
        dialog.open()
        return dialog

    def save_preset_as(self, name: str) -> QMessageBox | None:
        """Keep the values shown as the user's preset ``name``: refused (with why) for an empty name or a
        built-in one's, after a question for one of the user's that exists. Returns the box shown, if any."""
        name = name.strip()
        sampler = self.settings().sampler
        taken = {n.casefold() for n in (*PRESETS, CUSTOM, self.tr(CUSTOM))}
        if not name or name.casefold() in taken:
            why = (self.tr("A preset needs a name.") if not name else
                   self.tr("“{0}” is a built-in name in the Preset box: choose another name.").format(name))
            box = QMessageBox(QMessageBox.Warning, self.tr("Save as preset"), why, QMessageBox.Ok, self)
        elif name in self.own_presets:
            box = QMessageBox(QMessageBox.Question, self.tr("Save as preset"),
                              self.tr("Replace your preset “{0}” with these values?").format(name),
                              QMessageBox.Yes | QMessageBox.Cancel, self)
            box.setDefaultButton(QMessageBox.Cancel)
            box.accepted.connect(lambda: self._store_preset(name, sampler))
        else:
            self._store_preset(name, sampler)
            return None
        box.setAttribute(Qt.WA_DeleteOnClose)
        self.preset_box = box
        box.open()
        return box

    def _store_preset(self, name: str, sampler: SamplerSettings) -> None:
        current = self._with_pending()          # the values shown, an edit still waiting included
        saved = self.state.settings.get(PRESETS_KEY)
        saved = dict(saved) if isinstance(saved, dict) else {}     # a damaged entry of another name is left be
        saved[name] = {f: getattr(sampler, f) for f in PRESET_FIELDS}
        self.state.set_preference(PRESETS_KEY, saved)               # the box lists it (_preference_changed)
        if _same_sampling(sampler, current.sampler):               # the conversation now uses it, by name
            self.state.update_chat(dataclasses.replace(current, preset=name))
            self._show_preset(name, current.sampler)
        self.state.status.emit(self.tr("Saved the preset “{0}”").format(name), 5000)

    def delete_preset(self) -> QMessageBox | None:
        """Ask, then forget the chosen preset of the user's own (never a built-in one). Conversations that
        use it keep their values, shown as Custom."""
        name = self.preset.currentData()
        if not self.preset.currentData(OWN) or name not in self.own_presets:
            return None
        box = QMessageBox(QMessageBox.Question, self.tr("Delete preset"),
                          self.tr("Delete your preset “{0}”? Conversations that use it keep their values.").format(
                              name), QMessageBox.Yes | QMessageBox.Cancel, self)
        box.setDefaultButton(QMessageBox.Cancel)
        box.setAttribute(Qt.WA_DeleteOnClose)
        box.accepted.connect(lambda: self._forget_preset(name))
        self.preset_box = box
        box.open()
        return box

    def _forget_preset(self, name: str) -> None:
        saved = self.state.settings.get(PRESETS_KEY)
        saved = {n: v for n, v in saved.items() if n != name} if isinstance(saved, dict) else {}
        self.state.set_preference(PRESETS_KEY, saved)
        self.state.status.emit(self.tr("Deleted the preset “{0}”").format(name), 5000)

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
        self._show_preset(settings.preset, settings.sampler)
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


def read_presets(saved) -> dict[str, SamplerSettings]:
    """The user's own presets as the settings hold them (``{name: {field: value}}``), in name order. An
    entry that is not one (a damaged or hand-edited file: not a mapping, a field missing or not a number,
    a built-in preset's name) is left out with a warning in the log; a value past the panel's range is
    brought within it, and rounded as the panel shows it."""
    if saved is None:
        return {}
    if not isinstance(saved, dict):
        log.warning("the saved presets are not a mapping of names to values (%r): none is offered", type(saved))
        return {}
    builtin = {n.casefold() for n in (*PRESETS, CUSTOM)}
    out: dict[str, SamplerSettings] = {}
    for name, values in saved.items():
        try:
            if not isinstance(name, str) or not name.strip() or name != name.strip():
                raise ValueError("not a name")
            if name.casefold() in builtin:
                raise ValueError("a built-in preset's name")
            if not isinstance(values, dict):
                raise ValueError("not a mapping of values")
            out[name] = SamplerSettings(**{f: _in_range(f, values.get(f)) for f in PRESET_FIELDS})
        except (TypeError, ValueError) as e:
            log.warning("the saved preset %r is left out: %s", name, e)
    return dict(sorted(out.items(), key=lambda item: item[0].casefold()))


def _in_range(field: str, value) -> float | int:
    """A preset's value as the panel can show it (ValueError: not a number)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{field} is not a number: {value!r}")
    if field == "top_k":
        if value != int(value):
            raise ValueError(f"top_k is not a whole number: {value!r}")
        return min(max(int(value), 0), TOP_K_MAX)
    _, lo, hi, _, decimals, _ = _NUMBERS[field]
    return round(min(max(float(value), lo), hi), decimals)


def _same_sampling(a: SamplerSettings, b: SamplerSettings) -> bool:
    return all(abs(getattr(a, f) - getattr(b, f)) < 1e-9 for f in PRESET_FIELDS)
