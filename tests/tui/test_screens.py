"""Every screen and the flows between them, driven by keys against the scripted runner (tests/tui/fakes.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml
from textual.widgets import DataTable, Input, Log, OptionList

from stonks_tui.app import StonksApp
from tests.tui.fakes import NFS_FAIL, PREFLIGHT_OK, PVS, FakeRunner, Script


def name(app: StonksApp) -> str:
    return type(app.screen).__name__


def text(app: StonksApp, selector: str) -> str:
    return str(app.screen.query_one(selector).render())


async def settle(pilot, predicate, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, f"stuck on {name(pilot.app)}"
        await pilot.pause(0.02)


async def to_plan(pilot, app: StonksApp) -> None:
    """Welcome → Prerequisites → Settings → Credentials (a password) → Plan."""
    await pilot.press("i")
    await settle(pilot, lambda: name(app) == "PrerequisitesScreen" and app.screen.results)
    await pilot.press("enter")
    await settle(pilot, lambda: name(app) == "SettingsScreen")
    await pilot.press("ctrl+n")
    await settle(pilot, lambda: name(app) == "CredentialsScreen")
    await pilot.press(*"Sekrit-Passw0rd", "tab", *"Sekrit-Passw0rd", "ctrl+n")
    await settle(pilot, lambda: name(app) == "PlanScreen" and app.screen.ready)


@pytest.fixture
def runner(tmp_path: Path) -> FakeRunner:
    return FakeRunner(tmp_path)


async def test_full_install_flow_with_the_woodpecker_token_asked_on_the_way(runner: FakeRunner) -> None:
    app = StonksApp(runner)
    async with app.run_test(size=(100, 30)) as pilot:
        await to_plan(pilot, app)
        assert runner.store.get("gitea-admin-password") == "Sekrit-Passw0rd"
        assert yaml.safe_load(runner.answers_path.read_text())  # the settings were saved for a resume
        await pilot.press("enter")
        # woodpecker-activate needs the operator: the token screen opens by itself, masked.
        await settle(pilot, lambda: name(app) == "WoodpeckerScreen" and app.screen.shown_at is not None)
        field = app.screen.query_one("#token", Input)
        assert field.password
        await pilot.press(*"short", "enter")
        assert "does not look like" in text(app, "#token-error") and name(app) == "WoodpeckerScreen"
        field.value = ""
        await pilot.press(*"wp_0123456789abcdefghij", "enter")
        await settle(pilot, lambda: name(app) == "ProgressScreen" and app.screen.finished is not None
                     and app.screen.finished.ok and not app.screen.running)
        assert runner.store.get("woodpecker-token") == "wp_0123456789abcdefghij"
        assert runner.runs == ["install", "install"]  # the retry, not a new wizard pass
        await pilot.press("enter")
        await settle(pilot, lambda: name(app) == "VerifyScreen" and "Done." in text(app, "#verify-status"))
        # The deploy key on one line that never wraps (copied from three rows it was a broken key).
        from stonks_tui.screens.verify import TextArea
        from tests.tui.fakes import DEPLOY_KEY

        key = app.screen.query_one("#deploy-key", TextArea)
        assert key.display and key.text == DEPLOY_KEY and key.soft_wrap  # whole, wrapped when narrow
        assert app.screen.check_action("copy_key", ()) and "c copies it" in text(app, "#verify-status")
        assert text(app, "#verify-title") == "Live checks of the installed system"


async def test_a_refused_woodpecker_token_opens_the_token_screen_again_with_the_reason(tmp_path: Path) -> None:
    runner = FakeRunner(tmp_path, Script(refused_tokens=("wp_refused-by-woodpecker-0123",)))
    app = StonksApp(runner)
    async with app.run_test(size=(100, 30)) as pilot:
        await to_plan(pilot, app)
        await pilot.press("enter")
        await settle(pilot, lambda: name(app) == "WoodpeckerScreen" and app.screen.shown_at is not None)
        assert not text(app, "#token-error")
        await pilot.press(*"wp_refused-by-woodpecker-0123", "enter")
        await settle(pilot, lambda: name(app) == "WoodpeckerScreen" and "refused" in text(app, "#token-error")
                     and app.screen.shown_at is not None)
        assert "HTTP 401" in text(app, "#token-error") and "paste a new one" in text(app, "#token-error")
        await pilot.press(*"wp_0123456789abcdefghij", "enter")
        await settle(pilot, lambda: name(app) == "ProgressScreen" and app.screen.finished is not None
                     and app.screen.finished.ok and not app.screen.running)
        assert runner.runs == ["install", "install", "install"]


async def test_plan_hides_what_is_unchanged_shows_rows_whole_and_opens_a_files_diff(runner: FakeRunner) -> None:
    from stonks_tui.screens.plan import PlanScreen

    app = StonksApp(runner)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.push_screen(PlanScreen("install"))
        await settle(pilot, lambda: app.screen.ready)
        table = app.screen.query_one(DataTable)
        assert table.row_count == 18  # 20 rows, 2 unchanged hidden
        status = text(app, "#plan-status")
        assert "install plan: 18 changes (17 to create, 1 to update) in 18 steps of 19" in status
        assert "2 unchanged rows hidden: u shows" in status
        await pilot.press("u")
        assert table.row_count == 20
        await pilot.press("u")
        table.focus()
        row = next(i for i, r in enumerate(app.screen.shown) if app.screen.rows[r][0] == "pvs")
        table.move_cursor(row=row)
        await pilot.pause()
        assert "bound to kargo/kargo-data by claimRef" in text(app, "#plan-detail")  # whole, though cut above
        assert not app.screen.check_action("diff", ())  # no diff on this row: d is not offered
        row = next(i for i, r in enumerate(app.screen.shown) if app.screen.rows[r][0] == "repo-migrate")
        table.move_cursor(row=row)
        await pilot.pause()
        assert "d shows the diff" in text(app, "#plan-detail")
        await pilot.press("d")
        await settle(pilot, lambda: name(app) == "DiffScreen")
        assert "+registry: 127.0.0.1:5000" in text(app, "#diff-body")
        await pilot.press("escape")
        await settle(pilot, lambda: name(app) == "PlanScreen")
        await pilot.press("d")
        await settle(pilot, lambda: name(app) == "DiffScreen")
        await pilot.press("d")  # closes the way it opened
        await settle(pilot, lambda: name(app) == "PlanScreen")


async def test_verify_after_a_teardown_says_so_in_its_title(runner: FakeRunner) -> None:
    from stonks_tui.screens.verify import VerifyScreen

    runner.torn_down_before = True
    app = StonksApp(runner)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.push_screen(VerifyScreen())
        await settle(pilot, lambda: "checks" in text(app, "#verify-status"))
        assert text(app, "#verify-title") == "After the teardown: what it removed and what it kept"


async def test_prerequisites_block_next_until_a_settings_fix_passes(tmp_path: Path) -> None:
    runner = FakeRunner(tmp_path, Script(preflight=[[*PREFLIGHT_OK[:-1], NFS_FAIL], PREFLIGHT_OK]))
    app = StonksApp(runner)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("i")
        await settle(pilot, lambda: name(app) == "PrerequisitesScreen" and app.screen.results)
        table = app.screen.query_one("#prereq", DataTable)
        assert [str(c) for c in table.get_row_at(0)[:2]] == ["✗", "nfs"]  # failures first, with their fix
        assert "fail" in text(app, "#prereq-status")
        await pilot.press("enter")
        assert name(app) == "PrerequisitesScreen"  # Next is refused while a check fails
        await pilot.press("s")
        await settle(pilot, lambda: name(app) == "SettingsScreen")
        nfs = app.screen.query_one("#f-nfs_server", Input)
        nfs.value = "127.0.0.2"
        await pilot.press("ctrl+n")
        await settle(pilot, lambda: name(app) == "PrerequisitesScreen" and runner.preflight_calls == 2
                     and not app.screen.checking)
        assert runner.settings.nfs_server == "127.0.0.2"
        await pilot.press("enter")
        await settle(pilot, lambda: name(app) == "SettingsScreen")


async def test_settings_validate_inline_refuse_next_and_save_only_non_secrets(runner: FakeRunner) -> None:
    app = StonksApp(runner)
    async with app.run_test(size=(80, 24)) as pilot:
        from stonks_tui.screens.settings_form import SettingsScreen

        await app.push_screen(SettingsScreen(then=None))
        await settle(pilot, lambda: name(app) == "SettingsScreen" and app.screen.typed)  # every group is there
        host = app.screen.query_one("#f-woodpecker_host", Input)
        host.value = "https://ci.example.test"
        port = app.screen.query_one("#f-nfs_port", Input)
        port.value = "twenty"
        # set directly, the values reach the screen as Changed messages: wait for them, not a fixed time
        await settle(pilot, lambda: app.screen.query("#e-nfs_port") and "whole number" in text(app, "#e-nfs_port"))
        assert "is a host, not a URL" in text(app, "#e-woodpecker_host")
        await pilot.press("ctrl+n")
        assert name(app) == "SettingsScreen" and app.focused is host  # the first bad field in the form
        host.value, port.value = "ci.example.test", "2049"
        await settle(pilot, lambda: not app.screen.errors)
        assert not app.screen.query("#e-woodpecker_host")  # the error line went with the error
        await pilot.press("ctrl+s")
        saved = yaml.safe_load(runner.answers_path.read_text())
        assert saved["woodpecker_host"] == "ci.example.test"
        assert not any("passw" in key or "token" in key for key in saved)
        await pilot.press("escape")
        await settle(pilot, lambda: name(app) == "WelcomeScreen")
    assert runner.settings.woodpecker_host == "ci.example.test"


async def test_credentials_explain_each_mistake_and_never_show_the_password(runner: FakeRunner) -> None:
    from stonks_tui.screens.credentials import CredentialsScreen

    app = StonksApp(runner)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.push_screen(CredentialsScreen())
        await settle(pilot, lambda: "not initialised" in text(app, "#gitea-mode"))
        await pilot.press("ctrl+n")
        assert "required" in text(app, "#credentials-error")
        await pilot.press(*"short", "tab", *"short", "ctrl+n")
        assert "at least 8" in text(app, "#credentials-error")
        # Refused: typed again from the password, both fields empty (what came next was added to "short").
        password, confirm = app.screen.query_one("#c-password", Input), app.screen.query_one("#c-confirm", Input)
        assert app.focused is password and password.value == confirm.value == ""
        await pilot.press(*"Right-Passw0rd", "tab", *"Wrong-Passw0rd", "ctrl+n")
        assert "does not match" in text(app, "#credentials-error")
        assert app.focused is confirm and confirm.value == "" and password.value == "Right-Passw0rd"
        await pilot.press(*"Wrong-Passw0rd")
        for field in ("#c-password", "#c-confirm"):
            app.screen.query_one(field, Input).value = ""  # both emptied: the mismatch is no longer true
        await pilot.pause()
        assert "does not match" not in text(app, "#credentials-error")
        assert "required" in text(app, "#credentials-error")
        app.screen.query_one("#c-password", Input).value = "Right-Passw0rd"
        app.screen.query_one("#c-confirm", Input).value = "Right-Passw0rd"
        app.screen.query_one("#c-user", Input).value = "admin"
        await pilot.press("ctrl+n")
        assert "admin user" in text(app, "#credentials-error") and "reserved" in text(app, "#credentials-error")
        shown = "\n".join(str(w.render()) for w in app.screen.query("Input"))
        assert "Right-Passw0rd" not in shown  # masked until the explicit show key
        await pilot.press("ctrl+r")
        assert not app.screen.query_one("#c-password", Input).password
        app.screen.query_one("#c-user", Input).value = "ops_admin"
        await pilot.press("ctrl+n")
        await settle(pilot, lambda: name(app) == "PlanScreen")
    assert runner.store.get("gitea-admin-password") == "Right-Passw0rd"
    assert runner.settings.gitea_admin_user == "ops_admin"
    assert "Right-Passw0rd" not in runner.answers_path.read_text()


async def test_a_failure_shows_reason_and_hint_and_retry_redoes_only_what_is_left(tmp_path: Path) -> None:
    runner = FakeRunner(tmp_path, Script(fail={"argocd": ("helm: release argocd failed", "kubectl -n argocd "
                                                                                           "get pods")}))
    runner.store.set("woodpecker-token", "wp_0123456789abcdefghij")
    app = StonksApp(runner)
    async with app.run_test(size=(100, 30)) as pilot:
        await to_plan(pilot, app)
        await pilot.press("enter")
        await settle(pilot, lambda: name(app) == "ProgressScreen" and app.screen.finished is not None
                     and not app.screen.running)
        screen = app.screen
        assert not screen.finished.ok and screen.states["argocd"] == "failed"
        assert screen.states["argocd-apps"] == "blocked" and screen.states["woodpecker"] == "ok"
        assert "helm: release argocd failed" in text(app, "#failure") and "hint: kubectl" in text(app, "#failure")
        assert screen.selected == "argocd"  # the log pane jumped to the failed step
        await pilot.press("r")
        await settle(pilot, lambda: screen.finished is not None and screen.finished.ok and not screen.running)
        assert screen.states["woodpecker"] == "unchanged"  # finished steps are re-checked, not redone


async def test_the_wizard_says_its_engine_went_away_and_r_resumes(tmp_path: Path) -> None:
    """The engine process SIGKILLed mid-run: the wizard's clock kept ticking and `c` did nothing. Now it says the
    engine went away, stops the clock, marks the running step interrupted, and r resumes."""
    runner = FakeRunner(tmp_path, Script(vanish_at="argocd"))
    runner.store.set("woodpecker-token", "wp_0123456789abcdefghij")
    app = StonksApp(runner)
    async with app.run_test(size=(100, 30)) as pilot:
        await to_plan(pilot, app)
        await pilot.press("enter")
        await settle(pilot, lambda: name(app) == "ProgressScreen" and "went away" in text(app, "#status"))
        screen = app.screen
        assert screen.states["argocd"] == "interrupted" and not screen.running
        assert "went away before the run ended" in text(app, "#failure")
        shown = text(app, "#status")
        assert "stopped: the engine process went away" in shown
        await pilot.pause(1.2)
        assert text(app, "#status") == shown  # the clock stopped
        assert not app.screen.check_action("cancel", ()) and app.screen.check_action("retry", ())
        await pilot.press("r")
        await settle(pilot, lambda: screen.finished is not None and screen.finished.ok and not screen.running)


async def test_log_pane_follows_then_keeps_the_operators_choice_and_shows_workloads(tmp_path: Path) -> None:
    gate = asyncio.Event()
    runner = FakeRunner(tmp_path, Script(gate=gate, lines_per_step=40))
    runner.store.set("woodpecker-token", "wp_0123456789abcdefghij")
    app = StonksApp(runner)
    async with app.run_test(size=(100, 30)) as pilot:
        from stonks_tui.screens.progress import ProgressScreen

        await app.push_screen(ProgressScreen(runner.plan("install")))
        await settle(pilot, lambda: app.screen.selected == "arc-removal")
        assert app.screen.running
        await pilot.press("escape")
        assert name(app) == "ProgressScreen"  # no way back while it runs, and escape says so
        assert any("Still running" in (n.title or "") for n in app._notifications)
        assert "install · 0/19 done · running: arc-removal · 0:0" in text(app, "#status")
        gate.set()
        await settle(pilot, lambda: app.screen.finished is not None and not app.screen.running)
        assert app.screen.follow  # it followed every step on its own
        app.screen.query_one("#steps", DataTable).focus()
        for _ in range(18 - list(runner.plan("install").order).index("woodpecker")):
            await pilot.press("up")  # from the last step (followed) up to woodpecker: the operator's choice
        await settle(pilot, lambda: app.screen.selected == "woodpecker")
        assert not app.screen.follow
        await pilot.pause(0.1)
        log = app.screen.query_one(Log)
        assert log.line_count == 40 and "woodpecker: line 40" in log.lines[-1]
        workloads = app.screen.query_one("#workloads")
        assert workloads.display and len(str(workloads.render()).splitlines()) == 2
        # A line arrives and the pane's width changes (z) before the next flush: the lines wrap anew, each once.
        from stonks_tui.engine.events import LogLine

        app.screen.listen(LogLine(step_id="woodpecker", line="woodpecker: line 41"))
        await pilot.press("z")
        await pilot.pause(0.2)
        assert log.line_count == 41 and log.lines[-2:] == ["woodpecker: line 40", "woodpecker: line 41"]


async def test_cancel_interrupts_and_the_resume_screen_picks_it_up(tmp_path: Path) -> None:
    gate = asyncio.Event()
    runner = FakeRunner(tmp_path, Script(gate=gate))
    runner.store.set("woodpecker-token", "wp_0123456789abcdefghij")
    app = StonksApp(runner)
    async with app.run_test(size=(100, 30)) as pilot:
        from stonks_tui.screens.progress import ProgressScreen

        await app.push_screen(ProgressScreen(runner.plan("install")))
        await settle(pilot, lambda: app.screen.running and app.screen.selected)
        await pilot.press("c")
        await settle(pilot, lambda: app.screen.finished is not None and app.screen.finished.interrupted)
        await pilot.press("escape")
        # back home: the journal has an unfinished run, so Resume is on top of Welcome
        await settle(pilot, lambda: name(app) == "ResumeScreen")
        rows = app.screen.query_one("#resume-steps", DataTable)
        assert [str(c) for c in rows.get_row_at(0)[1:3]] == ["arc-removal", "interrupted"]
        await pilot.press("escape")
        await settle(pilot, lambda: name(app) == "WelcomeScreen")
        options = [o.id for o in app.screen.query_one(OptionList).options]
        assert options[0] == "resume"
        await pilot.press("r")
        await settle(pilot, lambda: name(app) == "ResumeScreen")
        gate.set()
        await pilot.press("r")
        await settle(pilot, lambda: name(app) == "ProgressScreen" and app.screen.finished is not None)


async def press_on_resume(app: StonksApp, key: str, screen: str) -> None:
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, lambda: name(app) == "ResumeScreen")
        assert "Gitea answered 500" in text(app, "#resume-error") and "look at Gitea" in text(app, "#resume-error")
        await pilot.press(key)
        await settle(pilot, lambda: name(app) == screen)


async def test_resume_screen_on_start_offers_every_path(tmp_path: Path) -> None:
    first = FakeRunner(tmp_path, Script(fail={"gitea-init": ("Gitea answered 500", "look at Gitea's log")}))
    await first.run(first.plan("install"), [])
    # the last one resumes (and finishes) the run, so it goes last
    for key, screen in (("s", "PrerequisitesScreen"), ("t", "TeardownScreen"), ("r", "ProgressScreen")):
        again = FakeRunner(tmp_path)
        again.store.set("woodpecker-token", "wp_0123456789abcdefghij")
        await press_on_resume(StonksApp(again), key, screen)
    app = StonksApp(FakeRunner(tmp_path / "other"))
    (tmp_path / "other").mkdir()
    await FakeRunner(tmp_path / "other", Script(fail={"namespaces": ("forbidden", "")})).run(
        first.plan("install"), [])
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, lambda: name(app) == "ResumeScreen")
        await pilot.press("q")
    assert app.return_code == 0


async def test_teardown_keeps_pvs_unless_every_name_is_typed(runner: FakeRunner) -> None:
    app = StonksApp(runner)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("t")
        await settle(pilot, lambda: name(app) == "TeardownScreen" and app.screen.loaded)
        assert "pipeline-kargo-pv: 127.0.0.1:/exports/kargo, 2Gi, Retain, Bound" in text(app, "#kept")
        await pilot.press("d", *"pipeline-argocd-pv pipeline-kargo-pv", "enter")
        assert name(app) == "TeardownScreen" and not app.screen.deleting()
        assert "still to type: pipeline-woodpecker-pv" in text(app, "#teardown-status")
        await pilot.press("escape")  # closes the names field: PVs kept
        assert not app.screen.query_one("#pv-box").display and not app.screen.typed()
        await pilot.pause()
        assert "still to type" not in text(app, "#teardown-status")  # the emptied field's count is gone with it
        assert "PVs will be kept" in text(app, "#teardown-status")
        await pilot.press("d", *" ".join(n for n, _ in PVS), "enter")
        await settle(pilot, lambda: name(app) == "ProgressScreen")
        assert "pvs-delete" in app.screen.plan.by_id
        assert runner.extra["confirmed_pv_names"] == [n for n, _ in PVS]


async def test_teardown_confirm_keeps_pvs(runner: FakeRunner) -> None:
    runner.extra["confirmed_pv_names"] = ["left-over"]
    app = StonksApp(runner)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("t")
        await settle(pilot, lambda: name(app) == "TeardownScreen" and app.screen.loaded)
        await pilot.press("y")
        await settle(pilot, lambda: name(app) == "ProgressScreen")
        assert "pvs-delete" not in app.screen.plan.by_id and "confirmed_pv_names" not in runner.extra


async def test_escape_goes_back_from_every_screen(runner: FakeRunner) -> None:
    from stonks_tui.screens.credentials import CredentialsScreen
    from stonks_tui.screens.plan import PlanScreen
    from stonks_tui.screens.prerequisites import PrerequisitesScreen
    from stonks_tui.screens.resume import ResumeScreen
    from stonks_tui.screens.settings_form import SettingsScreen
    from stonks_tui.screens.teardown import TeardownScreen
    from stonks_tui.screens.verify import VerifyScreen
    from stonks_tui.screens.woodpecker import WoodpeckerScreen

    app = StonksApp(runner)
    async with app.run_test(size=(80, 24)) as pilot:
        for make in (PrerequisitesScreen, lambda: SettingsScreen(then=None), CredentialsScreen,
                     lambda: PlanScreen("install"), ResumeScreen, TeardownScreen, VerifyScreen, WoodpeckerScreen):
            await app.push_screen(make())
            await pilot.pause(0.05)
            await pilot.press("escape")
            await settle(pilot, lambda: name(app) == "WelcomeScreen")


async def test_keys_panel_and_command_palette_offer_the_main_actions(runner: FakeRunner) -> None:
    app = StonksApp(runner)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("question_mark")
        await settle(pilot, lambda: name(app) == "KeysPanel")
        await pilot.press("escape")
        await pilot.press("ctrl+p")
        await settle(pilot, lambda: name(app) == "CommandPalette")
        await pilot.press(*"Teardown")

        def first_match() -> str:
            options = app.screen.query_one(OptionList).options
            return str(options[0].prompt) if options else ""

        await settle(pilot, lambda: "Teardown" in first_match())  # the palette searches asynchronously
        await pilot.press("enter")
        await settle(pilot, lambda: name(app) == "TeardownScreen")


async def test_welcome_draws_before_start_up_finishes_and_keys_wait_for_it(tmp_path: Path) -> None:
    import threading

    from stonks_tui.runner import Runner

    release = threading.Event()
    runner = Runner(None, "fake-context", tmp_path, None)  # type: ignore[arg-type]
    ready = FakeRunner(tmp_path)

    def prepare() -> tuple[object, str]:
        release.wait(10)
        runner.settings, runner.make_context = ready.settings, lambda: None  # as Session.fill does
        runner.preflight = ready.preflight  # type: ignore[method-assign]
        return None, ""

    app = StonksApp(runner, prepare=prepare)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, lambda: name(app) == "WelcomeScreen")
        await pilot.press("i")
        await pilot.pause(0.2)
        assert name(app) == "WelcomeScreen" and not app.is_ready  # the key waits, it is not lost
        release.set()
        await settle(pilot, lambda: name(app) == "PrerequisitesScreen")


async def test_a_start_up_error_ends_the_wizard_with_its_exit_code(tmp_path: Path) -> None:
    from stonks_tui.errors import UsageError
    from stonks_tui.runner import Runner

    def prepare() -> tuple[object, str]:
        raise UsageError("nfs_port: expected a whole number, got 'x'", hint="set nfs_port to a number")

    app = StonksApp(Runner(None, "fake-context", tmp_path, None), prepare=prepare)  # type: ignore[arg-type]
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, lambda: app.startup_error is not None)
    assert app.return_code == 2 and "nfs_port" in app.startup_error.message


@pytest.mark.parametrize("errno_", [28, 30])  # ENOSPC, EROFS
async def test_a_full_or_read_only_state_dir_ends_the_wizard_with_a_message_not_a_crash(tmp_path: Path,
                                                                                         errno_: int) -> None:
    import os

    from stonks_tui.runner import Runner

    def prepare() -> tuple[object, str]:
        raise OSError(errno_, os.strerror(errno_), str(tmp_path / "demo" / "world.json"))

    app = StonksApp(Runner(None, "fake-context", tmp_path, None), prepare=prepare)  # type: ignore[arg-type]
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, lambda: app.startup_error is not None)
    assert app.return_code == 2
    assert app.startup_error.message == f"cannot use {tmp_path / 'demo' / 'world.json'}: {os.strerror(errno_)}"
    assert "df -h" in app.startup_error.hint


async def test_the_context_picker_prepares_a_session_for_the_chosen_context(tmp_path: Path) -> None:
    from textual.widgets import Select

    from stonks_tui.runner import Runner

    prepared: list[str | None] = []
    runner = Runner(None, "homelab", tmp_path, None)  # type: ignore[arg-type]
    ready = FakeRunner(tmp_path)

    def prepare(context: str | None = None) -> tuple[object, str]:
        prepared.append(context)
        runner.settings, runner.make_context = ready.settings, lambda: None
        return None, ""

    app = StonksApp(runner, prepare=prepare, contexts=["homelab", "staging"])
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, lambda: name(app) == "WelcomeScreen" and app.is_ready)
        assert "kube context homelab" in text(app, ".title")
        app.screen.query_one("#context", Select).value = "staging"
        await settle(pilot, lambda: prepared == [None, "staging"] and app.is_ready)
        await settle(pilot, lambda: name(app) == "WelcomeScreen" and "staging" in text(app, ".title"))
    assert runner.context == "staging"


async def test_a_new_keyring_takes_its_passphrase_typed_twice(runner: FakeRunner, tmp_path: Path) -> None:
    given: list[str] = []
    app = StonksApp(runner, unlock=given.append, keyring_where=str(tmp_path / "new" / "secrets.cryptfile"))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, lambda: name(app) == "UnlockScreen")
        assert "type it twice" in text(app, ".hint")
        await pilot.press(*"first-passphrase", "enter", *"other-passphrase", "enter")
        assert "differ" in text(app, "#unlock-error") and not given
        await pilot.press(*"good-passphrase", "enter", *"good-passphrase", "enter")
        await settle(pilot, lambda: name(app) == "WelcomeScreen")
    assert given == ["good-passphrase"]


async def test_a_question_the_run_asks_is_answered_here_or_closes_when_answered_elsewhere(runner: FakeRunner) -> None:
    answers: list[tuple[str, bool]] = []
    runner.answer = lambda qid, yes: answers.append((qid, yes))  # type: ignore[method-assign]
    app = StonksApp(runner)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, lambda: name(app) == "WelcomeScreen")
        assert runner.asks_operator  # the runs this wizard starts ask it
        runner.on_question({"type": "question", "id": "q1", "text": "Release kargo/kargo is pending-install. "
                            "Uninstall it (it was never deployed) and install it again?"})
        # on screen (drawn): a key typed before that is not an answer (test_keys_typed_before_a_screen_…)
        await settle(pilot, lambda: name(app) == "QuestionScreen" and app.screen.shown_at is not None)
        assert "pending-install" in text(app, "#question-text")
        app.save_screenshot(str(runner.state_dir / "question.svg"))
        await pilot.press("y")
        await settle(pilot, lambda: name(app) == "WelcomeScreen")
        runner.on_question({"type": "answered", "id": "q1", "yes": True, "by": 1, "why": ""})  # ours, back
        runner.on_question({"type": "question", "id": "q2", "text": "Clear exactly these ARC finalizers?"})
        await settle(pilot, lambda: name(app) == "QuestionScreen")
        runner.on_question({"type": "answered", "id": "q2", "yes": False, "by": 4242, "why": ""})
        await settle(pilot, lambda: name(app) == "WelcomeScreen")  # answered by another client: closed here
        assert answers == [("q1", True)]
        await settle(pilot, lambda: any("answered no by client pid 4242" in str(n.message) for n in app._notifications))


async def test_done_proves_the_delivery_in_its_pane_and_opens_a_break_glass(runner: FakeRunner) -> None:
    """d on the Done screen runs the proof in its own pane (each link as reported); b asks for a reason and a
    length, refuses an empty reason on the screen, and opens the gate with them; escape goes back."""
    from textual.widgets import RichLog

    from stonks_tui.screens.verify import VerifyScreen

    app = StonksApp(runner)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.push_screen(VerifyScreen(done=True))
        await settle(pilot, lambda: "Done." in text(app, "#verify-status"))
        await pilot.press("d")
        await settle(pilot, lambda: name(app) == "DeliveryScreen" and "proven" in text(app, "#delivery-status"))
        lines = "\n".join(strip.text for strip in app.screen.query_one("#delivery-log", RichLog).lines)
        assert "PASS beta-app: stonks-beta Synced and Healthy" in lines and "INFO paper-gate:" in lines
        assert runner.delivery_calls == [None]
        await pilot.press("p")  # prove again, promoting into paper
        await settle(pilot, lambda: runner.delivery_calls == [None, "paper"] and "proven" in
                     text(app, "#delivery-status"))
        await pilot.press("b")
        await settle(pilot, lambda: name(app) == "BreakGlassScreen")
        await pilot.press("ctrl+s")
        await settle(pilot, lambda: "reason" in text(app, "#bg-error"))
        assert not getattr(runner, "break_glasses", [])
        await pilot.press(*"hotfix [risk] engine", "ctrl+s")  # brackets are text, not markup
        await settle(pilot, lambda: name(app) == "DeliveryScreen")
        assert runner.break_glasses == [("paper", "hotfix [risk] engine", 30)]
        await pilot.press("escape")
        await settle(pilot, lambda: name(app) == "VerifyScreen")


async def test_remote_text_paths_and_check_results_are_shown_literally(runner: FakeRunner) -> None:
    """Text from elsewhere read as markup crashed the wizard (`[/]` in a journal's last error on Resume, a
    Gitea hook message `details in [/var/log/x.log]`) or vanished (`[webhook]` in the Verify table). Each is
    shown as it is, on every screen that shows such text, and in notifications."""
    from textual.widgets import DataTable

    from stonks_tui.checks.result import CheckResult
    from stonks_tui.screens.resume import ResumeScreen
    from stonks_tui.screens.verify import VerifyScreen

    results = [CheckResult("webhook", "fail", "Gitea refuses [webhook] deliveries; details in [/var/log/x.log]",
                           "set [security] ALLOWED_HOST_LIST [/]")]

    async def verify() -> list[CheckResult]:
        return results

    runner.verify = verify  # type: ignore[method-assign]
    journal = runner.journal("install")
    journal.mark("repo-push", "failed", error="pre-receive hook: details in [/var/log/x.log] [/]")
    app = StonksApp(runner)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.push_screen(VerifyScreen())
        await settle(pilot, lambda: "checks" in text(app, "#verify-status"))
        row = [str(c) for c in app.screen.query_one(DataTable).get_row_at(0)]
        assert row[2] == "Gitea refuses [webhook] deliveries; details in [/var/log/x.log]"
        assert row[3] == "set [security] ALLOWED_HOST_LIST [/]"
        app.notify("saved to /tmp/[/]/answers.yaml")
        await pilot.pause(0.1)
        await app.push_screen(ResumeScreen())
        await settle(pilot, lambda: name(app) == "ResumeScreen")
        cells = [str(c) for r in range(app.screen.query_one(DataTable).row_count)
                 for c in app.screen.query_one(DataTable).get_row_at(r)]
        assert "pre-receive hook: details in [/var/log/x.log] [/]" in cells
        assert app.return_code in (None, 0) and app.is_running


async def test_settings_open_fast_and_escape_at_once_is_safe(runner: FakeRunner) -> None:
    """The form's later groups are mounted after its first frame (its keys came 1–4 s late): leaving before that
    must not break the wizard, and the whole form is there once it has opened."""
    from stonks_tui.screens.settings_form import FIELD_NAMES, SettingsScreen

    app = StonksApp(runner)
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(5):
            app.push_screen(SettingsScreen(then=None))
            await pilot.pause(0.001)
            await pilot.press("escape")
            await pilot.pause(0.01)
        await pilot.pause(0.3)
        assert app.is_running and name(app) == "WelcomeScreen"
        await app.push_screen(SettingsScreen(then=None))
        await settle(pilot, lambda: app.screen.typed)
        assert {str(w.id)[2:] for w in app.screen.query(".editor")} == set(FIELD_NAMES)


async def test_a_key_typed_as_a_field_takes_focus_adds_to_its_value(runner: FakeRunner) -> None:
    """Once, `End` `A` typed while Settings opened replaced a whole value: a field selected all of it on focus."""
    from stonks_tui.screens.settings_form import SettingsScreen

    app = StonksApp(runner)
    async with app.run_test(size=(80, 24)) as pilot:
        app.push_screen(SettingsScreen(then=None))
        await pilot.press("A")
        await settle(pilot, lambda: name(app) == "SettingsScreen" and app.screen.typed)
        await pilot.press("B")
        value = app.screen.query_one("#f-woodpecker_host", Input).value
        assert value.startswith(runner.settings.woodpecker_host) and value.endswith("B"), value


async def test_done_in_the_demo_points_at_the_demos_own_endpoints(tmp_path: Path) -> None:
    """The demo's Woodpecker and Argo CD are on 127.0.0.1; Done used to point at the operator's public hosts."""
    from stonks_tui.screens.verify import VerifyScreen
    from tests.tui.fakes import SETTINGS

    runner = FakeRunner(tmp_path, settings=SETTINGS.replace(woodpecker_url="http://127.0.0.1:41001",
                                                            argocd_url="http://127.0.0.1:41002"))
    runner.demo = True
    app = StonksApp(runner)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.push_screen(VerifyScreen(done=True))
        await settle(pilot, lambda: "Done." in text(app, "#verify-status"))
        shown = text(app, "#verify-status")
        assert "http://127.0.0.1:41001" in shown and "http://127.0.0.1:41002" in shown
        assert "celestium" not in shown.split("Deploy key")[0]
    runner = FakeRunner(tmp_path / "real")
    app = StonksApp(runner)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.push_screen(VerifyScreen(done=True))
        await settle(pilot, lambda: "Done." in text(app, "#verify-status"))
        assert f"https://{runner.settings.woodpecker_host}" in text(app, "#verify-status")


async def test_keys_typed_before_a_screen_opened_by_itself_are_not_for_it(runner: FakeRunner) -> None:
    """The token screen and the run's questions open on their own: keys typed before they were drawn landed in
    the token field (and a `y` could have answered a question never seen). Keys typed after they are there do."""
    from stonks_tui.screens.question import QuestionScreen
    from stonks_tui.screens.woodpecker import WoodpeckerScreen

    app = StonksApp(runner)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.1)
        from textual import events

        typed = [events.Key(c, c) for c in "typed-on-progress"]  # typed (their time) before the screen opens
        app.push_screen(WoodpeckerScreen(by_run=True))
        for key in typed:  # they reach the app once it is there, as keys queued in a busy terminal do
            app.post_message(key)
        await settle(pilot, lambda: name(app) == "WoodpeckerScreen" and app.screen.shown_at is not None)
        await pilot.pause(0.1)
        field = app.screen.query_one("#token", Input)
        assert field.value == ""
        await pilot.press(*"wp_")
        assert field.value == "wp_"
        answers: list[bool] = []
        yes = events.Key("y", "y")
        app.push_screen(QuestionScreen("Clear these finalizers?"), answers.append)
        app.post_message(yes)
        await settle(pilot, lambda: name(app) == "QuestionScreen" and app.screen.shown_at is not None)
        await pilot.pause(0.1)
        assert answers == [] and name(app) == "QuestionScreen"
        await pilot.press("n")
        await settle(pilot, lambda: answers == [False])
