"""The command line's grammar: every command, its options and the words `--help` shows."""

from __future__ import annotations

import argparse
from pathlib import Path

from stonks_tui import __version__

DESCRIPTION = """\
Move a k3s cluster's CI/CD from GitHub (ARC runners + GHCR) to Gitea, Woodpecker CI and the local registry,
while Argo CD and Kargo keep deploying. Every step is idempotent and journaled: a run that dies resumes
where it stopped. With no command, the wizard opens.
"""


EPILOG = """\
exit codes: 0 success, 1 a step or check failed, 2 bad input or usage, 3 another instance holds the lock,
4 `plan --exit-code`: something would change, 130 interrupted.  Settings come from --answers and
STONKS_<SETTING> environment variables; secrets from the keyring (never the answers file).  `-o json` on plan,
status, verify and check prints one versioned document.
"""


def _global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """The same options before or after the command (`stonks-tui --demo plan` == `stonks-tui plan --demo`)."""
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument("--answers", metavar="FILE", type=Path, default=default,
                        help="YAML answers file with settings, no secrets (default: answers.yaml in the state dir, "
                             "which the wizard saves)")
    parser.add_argument("--state-dir", metavar="DIR", type=Path, default=default,
                        help="where the journal, logs and demo world live (default: XDG state dir)")
    parser.add_argument("--context", metavar="NAME", default=default,
                        help="kube context to act on (default: kubeconfig's current-context)")
    parser.add_argument("--demo", action="store_true", default=argparse.SUPPRESS if suppress else False,
                        help="run against an embedded simulated cluster on 127.0.0.1")


def _run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--detach", action="store_true",
                   help="start the run in the background and return at once (follow it with `stonks-tui attach`)")
    p.add_argument("--foreground", action="store_true",
                   help="run in this process (it ends with this terminal); by default the run is done by an engine "
                        "process that outlives a dropped session")


def _output_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", choices=("text", "json"), default="text",
                        help="json: one versioned document on stdout (kind, version; messages go to stderr)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stonks-tui", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"stonks-tui {__version__}")
    _global_options(parser, suppress=False)
    common = argparse.ArgumentParser(add_help=False)
    _global_options(common, suppress=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("install", parents=[common], help="run the install plan headless, one line per event",
                       description="Check the prerequisites, then run the install plan without the wizard: one line "
                                   "per step event. The run is done by an engine process that outlives this "
                                   "terminal; an interrupted run resumes where it stopped when run again.")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.add_argument("--quiet", action="store_true", help="print step results only, not their log lines")
    p.add_argument("--clear-arc-finalizers", action="store_true",
                   help="if an ARC namespace hangs in Terminating on ARC's finalizers, clear exactly those")
    p.add_argument("--skip-preflight", action="store_true",
                   help="do not check the cluster, helm, Gitea, registry and NFS before applying")
    _run_options(p)
    plan_p = sub.add_parser("plan", parents=[common], help="print each step and what it would change",
                            description="Print each step of the install (or the teardown) plan and what it would "
                                        "change on the cluster, without changing anything.")
    plan_p.add_argument("which", nargs="?", choices=("install", "teardown"), default="install",
                        help="the plan to show (default: install)")
    plan_p.add_argument("--delete-pvs", action="store_true", help="teardown: include deleting the pipeline PVs")
    plan_p.add_argument("--exit-code", action="store_true",
                        help="drift detection: exit 0 when nothing would change, 4 when something would (1 when a "
                             "step cannot tell)")
    _output_option(plan_p)
    p = sub.add_parser("status", parents=[common], help="print the journal: each step, its state, when, last error",
                       description="Print the last install and teardown runs from their journals: whether a run is "
                                   "live, each step's state, when it changed and its last error.")
    _output_option(p)
    p = sub.add_parser("check", parents=[common], help="offline checks of everything that would be applied",
                       description="Render every manifest, values file and pipeline from the settings and check them "
                                   "offline (schemas, chart keys, the pipeline); nothing is contacted.")
    _output_option(p)
    p = sub.add_parser("verify", parents=[common], help="live checks of the installed system",
                       description="Check the installed system live (read-only): Gitea, Woodpecker and its webhook, "
                                   "Argo CD, Kargo, the registry, TLS, volumes. After a teardown: what it keeps. With "
                                   "--delivery: prove the chain — a pipeline started on main, its image in the "
                                   "registry, Kargo's Freight, beta promoted and synced with that tag, paper's gate.")
    p.add_argument("--delivery", action="store_true",
                   help="start a pipeline and follow the commit to beta (changes: a pipeline run, a Promotion)")
    p.add_argument("--promote", choices=("paper", "live"), default=None,
                   help="with --delivery: also promote the Freight into this stage (the market-hours gate applies)")
    _output_option(p)
    p = sub.add_parser("break-glass", parents=[common], help="let promotions into paper or live run during market "
                                                           "hours for a while (recorded)",
                       description="Open the market-hours gate of a stage for a while: promotions into it may run "
                                   "09:30-16:00 New York time until the window ends by itself. Who, when, why and "
                                   "until when are recorded in the ConfigMap the gate reads (market-hours-break-glass "
                                   "in the Kargo project) and shown by status.")
    p.add_argument("--stage", required=True, choices=("paper", "live"))
    p.add_argument("--reason", required=True, help="why (recorded with your name)")
    p.add_argument("--for", dest="duration", default="30m", help="how long: 30m, 2h, 1h30m (at most 24h)")
    p.add_argument("--end", action="store_true", help="end the stage's window now")
    p = sub.add_parser("teardown", parents=[common], help="reverse the install; PersistentVolumes are kept",
                       description="Remove what the install made — Kargo's resources and release, Argo CD, Woodpecker, "
                                   "the agents' cluster RBAC, the namespaces it created — and keep the pipeline "
                                   "PersistentVolumes (Retain) unless --delete-pvs and their typed names say "
                                   "otherwise. NFS data is never deleted.")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.add_argument("--delete-pvs", action="store_true",
                   help="also delete the pipeline PVs (asks you to type their names; NFS data is never deleted)")
    p.add_argument("--confirm-pv-names", metavar="NAMES", default="",
                   help="with --delete-pvs off a terminal: the PV names, comma-separated, as typed confirmation")
    p.add_argument("--quiet", action="store_true", help="print step results only, not their log lines")
    _run_options(p)
    p = sub.add_parser("attach", parents=[common], help="follow the live install or teardown (its log so far, then "
                                                        "live); exits with the run's exit code",
                       description="Follow the run the engine process is doing for this context: everything it has "
                                   "done so far, then live, until it ends. On a terminal this is the wizard on the "
                                   "live run; otherwise plain lines (a question the run asks is answered at the "
                                   "prompt when standard input is a terminal). Ctrl-C detaches (the run goes on).")
    p.add_argument("--quiet", action="store_true", help="print step results only, not their log lines")
    p.add_argument("--plain", action="store_true", help="plain lines even on a terminal (there it opens the wizard)")
    p = sub.add_parser("engine-serve", parents=[common])  # started by install/teardown, not by hand
    # argparse on 3.11 lists a help=SUPPRESS subcommand as "==SUPPRESS==": leave it out of the listing instead.
    sub._choices_actions = [a for a in sub._choices_actions if a.dest != "engine-serve"]
    p.add_argument("which", choices=("install", "teardown"))
    p.add_argument("--yes", action="store_true")
    p.add_argument("--delete-pvs", action="store_true")
    p.add_argument("--confirm-pv-names", default="")
    p.add_argument("--clear-arc-finalizers", action="store_true")
    p.add_argument("--ask", action="store_true", help="ask the clients mid-run questions (an operator is there)")
    p = sub.add_parser("secrets", parents=[common], help="list stored secrets (names only), rotate one, or forget all",
                       description="list: the names of the secrets kept for this context (never their values). "
                                   "rotate NAME: a generated secret is forgotten and made anew by the next install; "
                                   "one you give (woodpecker-token, registry-password, …) is replaced by the value "
                                   "in STONKS_<NAME> or typed at the prompt. forget: every secret of the context.")
    p.add_argument("action", choices=["list", "rotate", "forget"], nargs="?", default="list")
    p.add_argument("name", nargs="?", default="", help="with rotate: the secret to renew or replace")
    p.add_argument("--yes", action="store_true", help="with forget: do not ask")
    p = sub.add_parser("settings", parents=[common], help="print every setting with its value, as an answers file",
                       description="Print every setting, grouped, with its current value (answers file and "
                                   "STONKS_<SETTING> variables applied) and what it is for: a valid answers file to "
                                   "start from. With --demo: the values the demo really runs with (its world's "
                                   "endpoints on 127.0.0.1 and its clone).")
    p.add_argument("names", nargs="*", metavar="NAME", help="print only these settings")
    p = sub.add_parser("render", parents=[common], help="write every rendered manifest and values file to DIR",
                       description="Write every manifest, values file and the pipeline the install would apply to DIR, "
                                   "for review or GitOps; secrets appear as placeholders, never values.")
    p.add_argument("--out", metavar="DIR", type=Path, required=True, help="output directory")
    p = sub.add_parser("completion", help="print the shell completion script for bash, zsh or fish",
                       description="Print the script that makes your shell complete stonks-tui's commands, options, "
                                   "setting names and kube contexts. bash: eval \"$(stonks-tui completion bash)\" in "
                                   "~/.bashrc; zsh: the same in ~/.zshrc; fish: stonks-tui completion fish > "
                                   "~/.config/fish/completions/stonks-tui.fish")
    p.add_argument("shell", choices=("bash", "zsh", "fish"))
    return parser


# ---------------------------------------------------------------------------------------------------------
