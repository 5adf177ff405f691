"""Typed errors of the engine.

Every error a user can meet carries a message that says what was wrong and what to do about it.
All derive from :class:`EngineError` so callers can catch the family without catching programming
errors.

A message is English. Written as a template with named values (``EngineError("No file at {path}.",
path=p)``), it can also be shown in the app's language: ``str(error)`` is the English text, and
``template`` and ``values`` let the app translate the template (``app/engine_texts.py`` lists every
literal template for Qt's translation tools) and fill in the same values.
"""

from __future__ import annotations


def said(text: str) -> str:
    """A message template written apart from the error that carries it (joined to another one's
    template, say): marked so that ``python -m app.i18n update`` lists it for translation too."""
    return text


class EngineError(Exception):
    """Base class of every error the engine raises on purpose."""

    def __init__(self, message: str = "", /, **values) -> None:
        self.template = message
        self.values = values
        super().__init__(message.format(**values) if values else message)


class ModelFormatError(EngineError):
    """The file is not a model we can read (wrong kind, unknown layout, or damaged)."""


class NotAModelError(ModelFormatError):
    """The file is not a PyTorch checkpoint or safetensors file at all."""


class TruncatedModelError(ModelFormatError):
    """The file ends early: usually a download that was cut off."""


class UnknownLayoutError(ModelFormatError):
    """The file holds tensors, but not in a layout of any RWKV generation we know."""


class InvalidTensorError(ModelFormatError):
    """A tensor the generation needs has a dtype or a shape it does not allow (damaged or altered file)."""


class UnsafeCheckpointError(ModelFormatError):
    """The checkpoint contains pickled code; it was refused and never executed."""


class IncompatibleStateError(EngineError):
    """A saved or tuned state belongs to another model (different shape or weights)."""


class StateFormatError(EngineError):
    """A state file is damaged or not a state file."""


class EmptyPromptError(EngineError, ValueError):
    """Nothing to feed the model."""


class OutOfMemoryError(EngineError, MemoryError):
    """The device ran out of memory while loading or running the model."""


class InvalidOutputError(EngineError):
    """The model computed NaN or infinite numbers: its weights or the state it ran from are damaged."""


class TokenizerError(EngineError):
    """A tokenizer could not be found or loaded."""


class GenerationCancelled(EngineError):
    """Raised inside the engine when a cancel flag is seen; ``generate`` turns it into a clean stop."""


class ModelNotFoundError(EngineError, FileNotFoundError):
    """No file or folder at the given path, and no known model by that name."""


class StateNotFoundError(EngineError, FileNotFoundError):
    """No state file at the given path."""


class DownloadError(EngineError):
    """A model download did not finish."""


class NotEnoughDiskError(DownloadError, OSError):
    """The target disk has less free space than the rest of the file needs; nothing was requested."""


class DownloadCancelled(DownloadError):
    """The user cancelled; the partial file is kept so the next download resumes from it."""


class ChecksumMismatchError(DownloadError):
    """The downloaded bytes are not the file the catalog describes; they were deleted."""


class DownloadFailedError(DownloadError):
    """The network or the server failed; ``resumable`` says whether a retry continues the partial file."""

    def __init__(self, message: str, *, resumable: bool = False, **values) -> None:
        super().__init__(message, **values)
        self.resumable = resumable
