"""Progress of a long command on a terminal: ``label: n/total`` rewritten in place on stderr.

Only when the stream is a terminal (``isatty()``): piped, redirected or captured output gets nothing, so
scripts and logs stay clean. At most one write per 0.2 s (plus the last), so progress costs nothing."""

import time


class Progress:
    def __init__(self, stream, *, label, total=None, unit=""):
        # A command's self.stderr is Django's OutputWrapper: write to what it wraps (no colour, no newline).
        self.stream = getattr(stream, "_out", stream)
        self.label, self.total, self.unit = label, total, unit
        self.count = 0
        self.last = 0.0
        isatty = getattr(self.stream, "isatty", None)
        self.enabled = bool(isatty and isatty())

    def start(self):
        """Show the line at 0 at once (a check that finds nothing still shows it is running)."""
        if self.enabled:
            self._write()
        return self

    def step(self, by=1):
        self.count += by
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.last >= 0.2 or (self.total is not None and self.count >= self.total):
            self.last = now
            self._write()

    def _write(self, end=""):
        of = f"/{self.total}" if self.total is not None else ""
        unit = f" {self.unit}" if self.unit else ""
        self.stream.write(f"\r{self.label}: {self.count}{of}{unit}{end}")
        self.stream.flush()

    def done(self):
        """The final count and a new line."""
        if self.enabled:
            self._write(end="\n")
