"""User-facing errors: one clear line that says what, where and what to do."""

from __future__ import annotations


class RagError(Exception):
    """An error the user can act on. Its message is printed as one line, never with a traceback."""


class ConfigError(RagError):
    """A setting or config file is invalid."""


class IngestError(RagError):
    """A file could not be read as a document."""


class IndexError_(RagError):
    """An index on disk is missing, corrupt or incompatible."""


class LLMError(RagError):
    """The language model backend failed (server down, model missing, timeout)."""


class NotFoundError(RagError):
    """A document id (or other named thing) the index does not hold."""
