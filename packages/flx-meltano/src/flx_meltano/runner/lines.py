"""Line splitting with no length limit: memory grows with the longest line, nothing else."""

from __future__ import annotations

READ_SIZE = 1 << 16


class LineSplitter:
    """Feed it chunks, get back the complete lines (without their newline)."""

    def __init__(self) -> None:
        self._pieces: list[bytes] = []

    def feed(self, chunk: bytes) -> list[bytes]:
        last = chunk.rfind(b"\n")
        if last < 0:
            if chunk:
                self._pieces.append(chunk)
            return []
        lines = chunk[:last].split(b"\n")
        if self._pieces:
            self._pieces.append(lines[0])
            lines[0] = b"".join(self._pieces)
            self._pieces = []
        if last + 1 < len(chunk):
            self._pieces.append(chunk[last + 1 :])
        return lines

    def finish(self) -> bytes | None:
        """The unterminated last line, if the stream ended with one."""
        if not self._pieces:
            return None
        rest = b"".join(self._pieces)
        self._pieces = []
        return rest
