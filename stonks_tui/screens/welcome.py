"""Welcome: what the migration does, which cluster, and the paths (Install, Resume, Verify, Teardown, Quit)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import OptionList, Select
from textual.widgets.option_list import Option

from stonks_tui.screens.footer import WizardFooter
from stonks_tui.screens.literal import Static
from stonks_tui.screens.title_bar import TitleBar

INTRO = (  # one paragraph: the Static wraps it to the terminal's width
    "This wizard moves the cluster's CI/CD off GitHub: it removes the ARC runners, initialises Gitea and pushes "
    "your clone to it, installs Woodpecker CI (Kubernetes backend) building into the local registry, and points "
    "Argo CD and Kargo at Gitea and the local registry. Every step checks first, so it is safe to run again; a "
    "run that stops resumes where it stopped. PersistentVolumes and their NFS data are never deleted unless you "
    "ask for it by name.")


class WelcomeScreen(Screen[None]):
    can_resume = False
    BINDINGS = [("i", "choose('install')", "Install"), ("r", "choose('resume')", "Resume"),
                ("v", "choose('verify')", "Verify"),
                ("t", "choose('teardown')", "Teardown"), ("q", "app.quit", "Quit")]

    def compose(self) -> ComposeResult:
        runner = self.app.runner  # type: ignore[attr-defined]
        yield TitleBar()
        yield Static(INTRO, id="welcome-text")
        where = "the simulated demo cluster on 127.0.0.1" if runner.demo else f"kube context {runner.context}"
        yield Static(f"Target: {where}", classes="title")
        contexts = getattr(self.app, "contexts", [])
        if not runner.demo and len(contexts) > 1:
            yield Select([(c, c) for c in contexts], value=runner.context, allow_blank=False, compact=True,
                         id="context")
        options = [Option("Install — plan, confirm, apply", id="install")]
        journal = runner.journal("install")
        self.can_resume = journal.unfinished() and not runner.torn_down()
        if self.can_resume:
            counts: dict[str, int] = {}
            for rec in journal.steps.values():
                counts[rec.state] = counts.get(rec.state, 0) + 1
            summary = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
            options.insert(0, Option(f"Resume the unfinished install ({summary})", id="resume"))
        options += [Option("Verify the installed system", id="verify"),
                    Option("Teardown — remove the pipeline, keep the data", id="teardown"),
                    Option("Quit", id="quit")]
        yield OptionList(*options, id="actions")
        yield Static("arrows + enter, or the keys below · ? shows every key", classes="hint")
        yield WizardFooter()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "choose" and parameters == ("resume",):
            return self.can_resume  # hidden when there is nothing to resume
        return True

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "context" and isinstance(event.value, str):
            self.app.switch_context(event.value)  # type: ignore[attr-defined]

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.action_choose(event.option.id or "")

    def action_choose(self, choice: str) -> None:
        if choice == "quit":
            self.app.exit(0)
            return
        self.app.when_ready(lambda: self.choose(choice))  # type: ignore[attr-defined]

    def choose(self, choice: str) -> None:
        if choice == "quit":
            self.app.exit(0)
        elif choice == "install":
            from stonks_tui.screens.prerequisites import PrerequisitesScreen

            self.app.push_screen(PrerequisitesScreen())
        elif choice == "resume":
            from stonks_tui.screens.resume import ResumeScreen

            self.app.push_screen(ResumeScreen())
        elif choice == "verify":
            from stonks_tui.screens.verify import VerifyScreen

            self.app.push_screen(VerifyScreen())
        elif choice == "teardown":
            from stonks_tui.screens.teardown import TeardownScreen

            self.app.push_screen(TeardownScreen())
