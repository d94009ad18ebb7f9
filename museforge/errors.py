"""User-facing errors: each carries a one-line message the CLI and studio show as is."""


def one_line(err: object) -> str:
    """An error's message (or any text) on one line (its type's name if it has none)."""
    return " ".join(str(err).split()) or type(err).__name__


class MuseforgeError(Exception):
    """Base class; ``str(err)`` is a complete, one-line message for the user."""


class DataError(MuseforgeError):
    """A data set source is missing, empty, unreadable or unsafe."""


class ArtifactError(MuseforgeError):
    """A model artifact is missing, incomplete, tampered with or of an unknown kind."""


class VerbError(MuseforgeError):
    """A verb was asked of a model kind that does not offer it."""


class StorageError(MuseforgeError, OSError):
    """A file could not be written: disk full, read-only folder, no permission. Also an
    OSError (with the system's ``errno``), so callers that already handled a failed write
    keep doing so."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""  # the message, not OSError's "[Errno …]"


class InputError(MuseforgeError):
    """A user-supplied file or setting is invalid (bad image, bad option value...)."""


class SettingError(InputError):
    """A verb setting's value is refused. The message names the setting in the verbs' own
    terms (``label must be 0..9``); ``setting`` and ``flag`` let each front end point at
    it in its own (the CLI's option, the studio's field)."""

    def __init__(self, message: str, setting: str, flag: str | None = None) -> None:
        super().__init__(message)
        self.setting = setting
        self.flag = flag or setting.replace("_", "-")
