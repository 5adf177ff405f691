"""The chat's text size: a preference (``text_scale``, a percentage) that the conversation, the
message field and the plain-completion text follow, in steps like a browser's zoom.

Ctrl+= (or Ctrl++), Ctrl+- and Ctrl+0 (the actions of :meth:`TextSize.actions`), Ctrl+wheel over the
chat's text, and the Settings page all change the one preference; every widget that follows it is
given a font of that point size and nothing else (``QWidget.setFont`` with only the size set), so
it keeps the system's family and its document scales as a whole: HTML sizes in the chat are relative
(``font-size:small``, headings), code blocks and the counts under replies included. The sidebar,
buttons and menus keep the system size.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QFont, QKeySequence
from PySide6.QtWidgets import QApplication, QWidget

KEY = "text_scale"
DEFAULT = 100
STEPS = (80, 90, 100, 110, 125, 150, 175, 200)      # percent, as browsers step (bounded at both ends)
WHEEL_NOTCH = 120                                   # a mouse wheel's notch in angleDelta units


def snap(scale) -> int:
    """``scale`` as one of :data:`STEPS` (the nearest; a damaged or hand-edited value is the default)."""
    try:
        value = float(scale)
    except (TypeError, ValueError):
        return DEFAULT
    if value != value:          # NaN
        return DEFAULT
    return min(STEPS, key=lambda step: (abs(step - value), step))


def stepped(scale: int, steps: int) -> int:
    """``steps`` steps larger (negative: smaller) than ``scale``, no further than the first or last."""
    i = STEPS.index(snap(scale)) + steps
    return STEPS[max(0, min(len(STEPS) - 1, i))]


def scale_of(settings) -> int:
    return snap(settings.get(KEY, DEFAULT))


def font_for(widget: QWidget, scale: int) -> QFont:
    """The font ``widget`` is given at ``scale``: only a point size (the family and the rest stay
    inherited); at the default, nothing at all (the widget follows the system again)."""
    font = QFont()
    if scale == DEFAULT:
        return font
    natural = QApplication.font(widget)
    if natural.pointSizeF() > 0:
        font.setPointSizeF(round(natural.pointSizeF() * scale / 100, 2))
    else:                           # a font given in pixels
        font.setPixelSize(max(1, round(natural.pixelSize() * scale / 100)))
    return font


def apply(widget: QWidget, scale: int) -> None:
    """Give ``widget`` the text size ``scale``; a widget that must keep the reader's place while its
    text reflows (the chat view) does it in its own ``set_text_font``."""
    font = font_for(widget, scale)
    if hasattr(widget, "set_text_font"):
        widget.set_text_font(font)
    else:
        widget.setFont(font)


class WheelSteps:
    """Ctrl+wheel as whole steps: a mouse sends a notch (120) at a time, a touchpad small deltas that
    add up to one."""

    def __init__(self):
        self._rest = 0

    def zoom(self, event, request) -> bool:
        """If ``event`` is a Ctrl+wheel, call ``request(steps)`` for each whole notch and return True
        (the event is the text size's); otherwise False (the widget scrolls as usual)."""
        if not event.modifiers() & Qt.ControlModifier:
            self._rest = 0
            return False
        self._rest += event.angleDelta().y()
        steps = int(self._rest / WHEEL_NOTCH)       # toward zero: the rest waits for the next delta
        self._rest -= steps * WHEEL_NOTCH
        if steps:
            request(steps)
        event.accept()
        return True


class TextSize(QObject):
    """The preference and the widgets that follow it. Changes go through
    :meth:`app.state.AppState.set_preference`, so whoever shows the size (the Settings page) hears of
    them on ``preferenceChanged``, whichever way they were made."""

    def __init__(self, state, parent: QObject | None = None):
        super().__init__(parent)
        self.state = state
        self._widgets: list[QWidget] = []
        state.preferenceChanged.connect(self._changed)

    @property
    def scale(self) -> int:
        return scale_of(self.state.settings)

    def follow(self, *widgets: QWidget) -> None:
        """Draw ``widgets`` at the chosen size from now on; a widget with a ``zoomRequested(int)``
        signal (Ctrl+wheel over it) changes the size by that many steps."""
        for widget in widgets:
            self._widgets.append(widget)
            if hasattr(widget, "zoomRequested"):
                widget.zoomRequested.connect(self.step)
            if self.scale != DEFAULT:
                apply(widget, self.scale)

    def set(self, scale: int) -> None:
        self.state.set_preference(KEY, snap(scale))

    def step(self, steps: int) -> None:
        self.set(stepped(self.scale, steps))

    def larger(self) -> None:
        self.step(1)

    def smaller(self) -> None:
        self.step(-1)

    def reset(self) -> None:
        self.set(DEFAULT)

    def actions(self, parent: QObject) -> list[QAction]:
        """Larger (Ctrl+= and Ctrl++), Smaller (Ctrl+-) and Default (Ctrl+0), for a menu and the window."""
        larger = QAction(self.tr("Larger text"), parent, triggered=self.larger)
        larger.setShortcuts([QKeySequence("Ctrl+="), QKeySequence("Ctrl++")])
        smaller = QAction(self.tr("Smaller text"), parent, triggered=self.smaller)
        smaller.setShortcuts([QKeySequence("Ctrl+-")])
        reset = QAction(self.tr("Default text size"), parent, triggered=self.reset)
        reset.setShortcuts([QKeySequence("Ctrl+0")])
        return [larger, smaller, reset]

    def _changed(self, key: str) -> None:
        if key == KEY:
            scale = self.scale
            for widget in self._widgets:
                apply(widget, scale)
