"""One error type for everything a user can fix, with the fix in the message."""


class PipelineError(Exception):
    """A problem with the input or environment that the user can fix.

    Entry points print ``str(error)`` without a traceback and exit with status 2.
    """

    exit_status = 2

    def __init__(self, problem: str, fix: str | None = None) -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(f"{problem}\n  fix: {fix}" if fix else problem)


class Interrupted(PipelineError):
    """A stop asked for by a signal (SIGTERM, Ctrl-C): the work so far is saved; exit status
    128 + the signal's number, as a shell reports a process the signal ended."""

    def __init__(self, problem: str, fix: str | None, signal_number: int) -> None:
        super().__init__(problem, fix)
        self.signal_number = signal_number
        self.exit_status = 128 + signal_number


class Pruned(Exception):
    """A search's pruner stopped a trial whose intermediate score (the quality probe's FID at
    ``step``) is hopeless next to the other trials'. Not an error: the search goes on."""

    def __init__(self, step: int, score: float) -> None:
        super().__init__(f"pruned at step {step} (intermediate score {score:.3f})")
        self.step, self.score = step, score
