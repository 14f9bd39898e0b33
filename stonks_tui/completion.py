"""Shell completion (bash, zsh, fish) through argcomplete, the way Python command lines usually do it.

The shell's completion function runs `stonks-tui` with `_ARGCOMPLETE` set; `autocomplete()` then answers from the
parser — commands, options, choices — and from the completers below (kube contexts from the kubeconfig, setting
names, the secrets `secrets rotate` takes) and exits before anything else runs. It is called before parsing and
costs nothing when the variable is unset: argcomplete is imported only then. `stonks-tui completion SHELL` prints
the script to load (README: "Shell completion").
"""

from __future__ import annotations

import argparse
import os
from typing import Any

SHELLS = ("bash", "zsh", "fish")


def kube_contexts(**_: Any) -> list[str]:
    from stonks_tui.errors import StonksError
    from stonks_tui.kubecontext import list_contexts

    try:
        return list_contexts()[0]
    except StonksError:  # an unreadable kubeconfig completes nothing rather than print into the prompt
        return []


def setting_names(**_: Any) -> list[str]:
    import dataclasses

    from stonks_tui.settings import Settings

    return [f.name for f in dataclasses.fields(Settings)]


def rotatable_secrets(parsed_args: argparse.Namespace | None = None, **_: Any) -> list[str]:
    if parsed_args is not None and getattr(parsed_args, "action", None) != "rotate":
        return []
    from stonks_tui.secrets import KNOWN

    return sorted(n for n in KNOWN if n != "woodpecker-oauth-client-id")


def attach_completers(parser: argparse.ArgumentParser) -> None:
    """Give the arguments whose values are not a fixed choice their completer (argcomplete reads `.completer`)."""
    parsers = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            parsers += list(action.choices.values())
    for each in parsers:
        for action in each._actions:
            if "--context" in action.option_strings:
                action.completer = kube_contexts  # type: ignore[attr-defined]
            elif each.prog.endswith(" settings") and action.dest == "names":
                action.completer = setting_names  # type: ignore[attr-defined]
            elif each.prog.endswith(" secrets") and action.dest == "name":
                action.completer = rotatable_secrets  # type: ignore[attr-defined]


def autocomplete(parser: argparse.ArgumentParser) -> None:
    """Answer the shell's completion request and exit, if this is one."""
    if "_ARGCOMPLETE" not in os.environ:
        return
    import argcomplete

    attach_completers(parser)
    argcomplete.autocomplete(parser)


def script(shell: str, prog: str = "stonks-tui") -> str:
    import argcomplete

    return argcomplete.shellcode([prog], shell=shell)
