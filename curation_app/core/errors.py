"""Errors that core functions raise; each message is one line a user can act on."""


class CurationError(Exception):
    """Base class: the CLI prints the message and exits non-zero, pages show it."""


class NotFound(CurationError):
    pass


class InvalidInput(CurationError):
    """Input that breaks a rule; the message names what and where."""


class PermissionDenied(CurationError):
    pass


class AuthenticationFailed(CurationError):
    pass


class Conflict(CurationError):
    """Someone else changed the record since it was read (optimistic locking)."""


class EditedElsewhere(Conflict):
    """The annotator's annotation changed since it was read (another tab saved it): reload it."""


class FinalisedMeanwhile(Conflict):
    """A lead finalised the item: annotators can no longer change it."""


class ResolvedElsewhere(Conflict):
    """Another lead saved a final label for the item since this lead opened it."""


class Busy(CurationError):
    """The database stayed locked by another writer past the wait limit; nothing was written."""


class ImportRefused(CurationError):
    """A file with bad rows: nothing was written. `problems` lists (location, message)."""

    def __init__(self, file_name: str, problems: list[tuple[str, str]], n_problems: int | None = None,
                 n_read: int | None = None):
        self.file_name = file_name
        self.problems = problems
        self.n_problems = n_problems if n_problems is not None else len(problems)
        self.n_read = n_read
        first = "; ".join(f"{where}: {what}" for where, what in problems[:3])
        more = f" (and {self.n_problems - 3} more)" if self.n_problems > 3 else ""
        super().__init__(
            f"{file_name}: refused, {self.n_problems} bad row(s), nothing imported: {first}{more}"
        )
