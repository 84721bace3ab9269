"""One error type for everything a user can fix, with the fix in the message."""


class PipelineError(Exception):
    """A problem with the input or environment that the user can fix.

    Entry points print ``str(error)`` without a traceback and exit with status 2.
    """

    def __init__(self, problem: str, fix: str | None = None):
        self.problem = problem
        self.fix = fix
        super().__init__(f"{problem}\n  fix: {fix}" if fix else problem)
