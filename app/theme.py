"""Light and dark: follow the system's colour scheme, or the user's choice in Settings.

Qt 6.5+ reports the system scheme (``QStyleHints.colorScheme``) and signals changes. Where the
platform style already switches its palette (Windows 11, macOS, recent GNOME/KDE themes) we leave
it alone; where it does not (Fusion, or a light-only style) we install a dark Fusion palette, and
give the style's own palette back for light. Widgets that draw HTML (the chat) redraw on the
palette change that this causes.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory

CHOICES = ("System", "Light", "Dark")


def system_scheme() -> str:
    hints = QGuiApplication.styleHints()
    scheme = hints.colorScheme() if hasattr(hints, "colorScheme") else Qt.ColorScheme.Unknown
    return "dark" if scheme == Qt.ColorScheme.Dark else "light"


def current() -> str:
    """"dark" or "light": what the application's palette is now."""
    return "dark" if QApplication.palette().color(QPalette.Window).lightness() < 128 else "light"


def apply(choice: str) -> str:
    """Make the application light or dark as ``choice`` ("System", "Light", "Dark") says; returns which."""
    wanted = system_scheme() if choice == "System" else choice.lower()
    if wanted != current():
        app = QApplication.instance()
        if wanted == "dark":
            app.setStyle(QStyleFactory.create("Fusion"))
            app.setPalette(dark_palette())
        else:
            app.setPalette(app.style().standardPalette())
    return wanted


def follow_system(get_choice) -> None:
    """Re-apply when the system scheme changes, as long as the user's choice is "System"."""
    hints = QGuiApplication.styleHints()
    if hasattr(hints, "colorSchemeChanged"):
        hints.colorSchemeChanged.connect(lambda _scheme: get_choice() == "System" and apply("System"))


def dark_palette() -> QPalette:
    p = QPalette()
    roles = {
        QPalette.Window: "#2b2d30", QPalette.WindowText: "#e6e6e6", QPalette.Base: "#1e1f22",
        QPalette.AlternateBase: "#2b2d30", QPalette.ToolTipBase: "#1e1f22", QPalette.ToolTipText: "#e6e6e6",
        QPalette.Text: "#e6e6e6", QPalette.Button: "#3c3f41", QPalette.ButtonText: "#e6e6e6",
        QPalette.BrightText: "#ff6b6b", QPalette.Link: "#6cb4ff", QPalette.LinkVisited: "#b392f0",
        QPalette.Highlight: "#2f65ca", QPalette.HighlightedText: "#ffffff", QPalette.PlaceholderText: "#8c8c8c",
        QPalette.Mid: "#4a4d50", QPalette.Dark: "#1a1b1d", QPalette.Light: "#4e5154", QPalette.Shadow: "#000000",
    }
    for role, colour in roles.items():
        p.setColor(role, QColor(colour))
    for role in (QPalette.WindowText, QPalette.Text, QPalette.ButtonText):
        p.setColor(QPalette.Disabled, role, QColor("#7a7a7a"))
    return p
