"""A command on a pseudo-terminal, for tests of what the CLI asks an operator at a terminal (stdin a tty)."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time


class Terminal:
    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
        os.close(slave)
        self.output = ""
        self._seen = 0  # answered prompts are looked for after this offset
        self.replies = 0  # prompts wait() answered

    def __enter__(self) -> Terminal:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        os.close(self.master)

    def _read(self, timeout: float) -> None:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if ready:
            try:
                self.output += os.read(self.master, 65536).decode(errors="replace")
            except OSError:  # the other side closed (the process ended)
                time.sleep(timeout)

    def answer(self, prompt: str, reply: str, timeout: float = 120) -> None:
        """Wait for `prompt` (after the last one answered), then type `reply` and enter."""
        deadline = time.monotonic() + timeout
        while (at := self.output.find(prompt, self._seen)) < 0:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self._read(0.2)
                if self.output.find(prompt, self._seen) >= 0:
                    break
                raise AssertionError(f"no {prompt!r} within {timeout:.0f} s:\n{self.output[-3000:]}")
            self._read(0.2)
        self._seen = self.output.find(prompt, self._seen) + len(prompt)
        os.write(self.master, (reply + "\n").encode())
        del at

    def wait(self, timeout: float = 120, answers: dict[str, str] | None = None) -> int:
        """Wait for the end, answering each prompt in `answers` every time it appears."""
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self._read(0.2)
            for prompt, reply in (answers or {}).items():
                at = self.output.find(prompt, self._seen)
                if at >= 0:
                    self._seen = at + len(prompt)
                    self.replies += 1
                    os.write(self.master, (reply + "\n").encode())
        self._read(0.1)
        if self.proc.poll() is None:
            raise AssertionError(f"still running after {timeout:.0f} s:\n{self.output[-3000:]}")
        return self.proc.returncode
