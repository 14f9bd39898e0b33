"""Credentials: the Gitea admin (user, password typed twice, masked, e-mail) and what will happen to Gitea.

The password goes to the keyring only; the user and e-mail are settings (saved to the answers file). A password
already in the keyring can be kept by leaving the fields empty. ctrl+r shows what was typed — the only way
anything secret appears on screen.
"""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Input

from stonks_tui.screens.footer import WizardFooter
from stonks_tui.screens.literal import Label, Static
from stonks_tui.screens.title_bar import TitleBar
from stonks_tui.settings import Settings, save_answers, validate

PASSWORD = "gitea-admin-password"
MIN_PASSWORD = 8  # Gitea's default MIN_PASSWORD_LENGTH


class CredentialsScreen(Screen[None]):
    BINDINGS = [Binding("ctrl+n", "next", "Next", priority=True), Binding("ctrl+r", "reveal", "Show/hide password"),
                Binding("escape", "app.pop_screen", "Back")]

    def compose(self) -> ComposeResult:
        runner = self.app.runner  # type: ignore[attr-defined]
        s: Settings = runner.settings
        stored = bool(runner.secret_store().get(PASSWORD))
        keep = "a password is in the keyring: leave empty to keep it" if stored else "at least 8 characters"
        yield TitleBar()
        yield Static("Gitea credentials — the admin this tool uses (and creates when Gitea has none)", classes="title")
        yield Static("asking Gitea what it is…", id="gitea-mode", classes="hint")
        with Vertical(id="credentials-form"):
            for label, widget in (
                ("admin user", Input(s.gitea_admin_user, id="c-user", compact=True, select_on_focus=False)),
                ("password", Input(password=True, placeholder=keep, id="c-password", compact=True)),
                ("password again", Input(password=True, placeholder="the same again", id="c-confirm", compact=True)),
                ("admin e-mail", Input(s.gitea_admin_email, id="c-email", compact=True, select_on_focus=False)),
            ):
                with Horizontal(classes="field"):
                    yield Label(label, classes="field-name")
                    yield widget
        yield Static("", id="credentials-error", classes="field-error")
        yield Static(f"Secrets are kept in the keyring ({_where(runner)}); never in a file in clear, on a command "
                     "line or in a log. ctrl+n: next (the plan)", classes="hint")
        yield WizardFooter()

    def on_mount(self) -> None:
        self.query_one("#c-password", Input).focus()
        self.ask_gitea()

    @work(exclusive=True, exit_on_error=False)
    async def ask_gitea(self) -> None:
        runner = self.app.runner  # type: ignore[attr-defined]
        line = self.query_one("#gitea-mode", Static)
        try:
            mode = await runner.gitea_mode()
        except Exception as exc:  # shown, not fatal: the plan and the steps say more
            line.update(f"Gitea at {runner.settings.effective_gitea_api_url} did not answer ({exc}).")
            return
        if mode == "installer":
            line.update("Gitea is not initialised yet: the install fills its install form and makes this user its "
                        "administrator with this password.")
        else:
            line.update("Gitea is initialised: the install checks this user logs in with this password, and creates "
                        "it (`gitea admin user create`) if it does not exist.")

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        if self.focused is self.query_one("#c-email"):
            self.action_next()
        else:
            self.focus_next()

    def on_input_changed(self, _event: Input.Changed) -> None:
        """A shown error follows the fields: it goes when what it said is fixed, or says what is wrong now."""
        error = self.query_one("#credentials-error", Static)
        if not error.has_class("shown"):
            return
        problem = self.problems()
        if problem is None:
            error.remove_class("shown")
        else:
            error.update(problem[1])

    def problems(self) -> tuple[str, str] | None:
        """(field id, message) of the first thing wrong, or None."""
        runner = self.app.runner  # type: ignore[attr-defined]
        user, email = self.query_one("#c-user", Input).value.strip(), self.query_one("#c-email", Input).value.strip()
        errors = {e.field: e.message for e in validate(runner.settings.replace(gitea_admin_user=user,
                                                                               gitea_admin_email=email))}
        if "gitea_admin_user" in errors:
            return "c-user", f"admin user: {errors['gitea_admin_user']}"
        password, confirm = self.query_one("#c-password", Input).value, self.query_one("#c-confirm", Input).value
        if not password and not runner.secret_store().get(PASSWORD):
            return "c-password", "password: required (Gitea needs one for its admin)"
        if password and len(password) < MIN_PASSWORD:
            return "c-password", f"password: {len(password)} characters; Gitea wants at least {MIN_PASSWORD}"
        if password != confirm:
            return "c-confirm", "password again: does not match the password"
        if "gitea_admin_email" in errors:
            return "c-email", f"admin e-mail: {errors['gitea_admin_email']}"
        return None

    def action_next(self) -> None:
        problem = self.problems()
        error = self.query_one("#credentials-error", Static)
        if problem:
            field, message = problem
            error.update(message)
            error.add_class("shown")
            # A refused password is typed again from where it went wrong, in an empty field (the cursor used to
            # land after the refused text, and what was typed next was added to it): too short, both fields;
            # different, the second one.
            refused = {"c-password": ("#c-password", "#c-confirm"), "c-confirm": ("#c-confirm",)}.get(field, ())
            with self.prevent(Input.Changed):  # emptied by us: the message says why until the operator types
                for name in refused:
                    self.query_one(name, Input).value = ""
            self.query_one(f"#{field}").focus()
            return
        error.remove_class("shown")
        runner = self.app.runner  # type: ignore[attr-defined]
        runner.settings = runner.settings.replace(gitea_admin_user=self.query_one("#c-user", Input).value.strip(),
                                                  gitea_admin_email=self.query_one("#c-email", Input).value.strip())
        if runner.answers_path is not None:
            save_answers(runner.settings, runner.answers_path)
        password = self.query_one("#c-password", Input).value
        if password:
            runner.secret_store().set(PASSWORD, password)
        for field in ("#c-password", "#c-confirm"):
            self.query_one(field, Input).value = ""  # not kept in the widget tree longer than needed
        from stonks_tui.screens.plan import PlanScreen

        self.app.push_screen(PlanScreen("install"))

    def action_reveal(self) -> None:
        for field in ("#c-password", "#c-confirm"):
            widget = self.query_one(field, Input)
            widget.password = not widget.password


def _where(runner: object) -> str:
    store = runner.secret_store()  # type: ignore[attr-defined]
    return getattr(store, "where", "") or type(store).__name__
