"""The commands, one module per family (cli.py only dispatches):

- parser: the grammar (every command and option)
- session: what a command on a cluster context shares (state dir, settings, the Session)
- runs: install / teardown, the engine process (engine-serve), attach
- status: the journals and whether a run is live
- inspect: plan, check, verify, render, settings (read-only)
- secret_commands: secrets list / rotate / forget
- wizard: the Textual wizard

Exit codes: 0 success, 1 a step or check failed, 2 bad input or usage, 3 lock held, 4 `plan --exit-code`: something
would change, 130 interrupted.
"""

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_LOCKED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
EXIT_CHANGES = 4  # `plan --exit-code`: something would change (distinct from every failure above)
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a tool killed by it
