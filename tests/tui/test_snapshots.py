"""Snapshots of the key screens at 80×24 and 120×40 (pytest-textual-snapshot), on the scripted runner.

Each snapshot was looked at before it was accepted (rendered to PNG). After a deliberate change to a screen:
`pytest tests/tui/test_snapshots.py --snapshot-update`, look at the new SVGs in __snapshots__/, commit them.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from stonks_tui.app import StonksApp
from tests.tui.fakes import NFS_FAIL, PREFLIGHT_OK, FakeRunner, Script

pytest.importorskip("pytest_textual_snapshot")

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]
TOKEN = "wp_0123456789abcdefghij"


async def until(pilot, predicate) -> None:
    for _ in range(500):
        if predicate():
            await pilot.pause(0.05)  # one more frame after the condition
            return
        await pilot.pause(0.02)
    raise AssertionError(f"never ready on {type(pilot.app.screen).__name__}")


def steady(run_before):
    """Run the scripted interaction, then stop the text cursors blinking: a blink phase is not a regression."""
    async def wrapped(pilot) -> None:
        await run_before(pilot)
        for field in pilot.app.screen.query("Input"):
            field.cursor_blink = False
        await pilot.pause(0.05)
    return wrapped


@pytest.mark.parametrize("size", SIZES)
def test_welcome(snap_compare, tmp_path: Path, size) -> None:
    assert snap_compare(StonksApp(FakeRunner(tmp_path)), terminal_size=size)


@pytest.mark.parametrize("size", SIZES)
def test_prerequisites_with_a_failing_check(snap_compare, tmp_path: Path, size) -> None:
    runner = FakeRunner(tmp_path, Script(preflight=[[*PREFLIGHT_OK[:-1], NFS_FAIL]]))

    async def run_before(pilot) -> None:
        await pilot.press("i")
        await until(pilot, lambda: getattr(pilot.app.screen, "results", None))

    assert snap_compare(StonksApp(runner), terminal_size=size, run_before=steady(run_before))


@pytest.mark.parametrize("size", SIZES)
def test_settings_with_an_error(snap_compare, tmp_path: Path, size) -> None:
    from stonks_tui.screens.settings_form import SettingsScreen

    async def run_before(pilot) -> None:
        await pilot.app.push_screen(SettingsScreen(then="credentials"))
        await pilot.pause(0.1)
        await pilot.press("ctrl+a", "ctrl+k", *"https://ci.example.test")
        await pilot.pause(0.1)

    assert snap_compare(StonksApp(FakeRunner(tmp_path)), terminal_size=size, run_before=steady(run_before))


@pytest.mark.parametrize("size", SIZES)
def test_credentials_with_a_mismatch(snap_compare, tmp_path: Path, size) -> None:
    from stonks_tui.screens.credentials import CredentialsScreen

    async def run_before(pilot) -> None:
        await pilot.app.push_screen(CredentialsScreen())
        await until(pilot, lambda: "not initialised" in str(pilot.app.screen.query_one("#gitea-mode").render()))
        await pilot.press(*"Right-Passw0rd", "tab", *"Wrong-Passw0rd", "ctrl+n")

    assert snap_compare(StonksApp(FakeRunner(tmp_path)), terminal_size=size, run_before=steady(run_before))


@pytest.mark.parametrize("size", SIZES)
def test_plan(snap_compare, tmp_path: Path, size) -> None:
    from stonks_tui.screens.plan import PlanScreen

    async def run_before(pilot) -> None:
        await pilot.app.push_screen(PlanScreen("install"))
        await until(pilot, lambda: pilot.app.screen.ready)

    assert snap_compare(StonksApp(FakeRunner(tmp_path)), terminal_size=size, run_before=steady(run_before))


@pytest.mark.parametrize("size", SIZES)
def test_progress_after_a_failure(snap_compare, tmp_path: Path, size) -> None:
    from stonks_tui.screens.progress import ProgressScreen

    runner = FakeRunner(tmp_path, Script(fail={"argocd": ("helm upgrade --install argocd failed: context deadline "
                                                          "exceeded", "kubectl -n argocd get pods; then retry")}))
    runner.store.set("woodpecker-token", TOKEN)

    async def run_before(pilot) -> None:
        await pilot.app.push_screen(ProgressScreen(runner.plan("install")))
        await until(pilot, lambda: pilot.app.screen.finished is not None and not pilot.app.screen.running)

    assert snap_compare(StonksApp(runner), terminal_size=size, run_before=steady(run_before))


@pytest.mark.parametrize("size", SIZES)
def test_woodpecker_token(snap_compare, tmp_path: Path, size) -> None:
    from stonks_tui.screens.woodpecker import WoodpeckerScreen

    async def run_before(pilot) -> None:
        await pilot.app.push_screen(WoodpeckerScreen())
        await pilot.press(*TOKEN)
        await pilot.pause(0.05)

    assert snap_compare(StonksApp(FakeRunner(tmp_path)), terminal_size=size, run_before=steady(run_before))


@pytest.mark.parametrize("size", SIZES)
def test_resume(snap_compare, tmp_path: Path, size) -> None:
    first = FakeRunner(tmp_path, Script(fail={"gitea-init": ("Gitea answered 500 Internal Server Error",
                                                             "look at the Gitea pod's log, then resume")}))
    asyncio.run(first.run(first.plan("install"), []))
    journal = first.journal("install")
    journal.run.update(started_at="2026-11-28T09:00:00+0000", finished_at="2026-11-28T09:01:00+0000")
    for rec in journal.steps.values():
        rec.started_at = rec.finished_at = "2026-11-28T09:00:30+0000" if rec.started_at else None
    journal.save()
    assert snap_compare(StonksApp(FakeRunner(tmp_path)), terminal_size=size)


@pytest.mark.parametrize("size", SIZES)
def test_teardown_deleting_pvs(snap_compare, tmp_path: Path, size) -> None:
    async def run_before(pilot) -> None:
        await pilot.press("t")
        await until(pilot, lambda: getattr(pilot.app.screen, "loaded", False))
        await pilot.press("d", *"pipeline-argocd-pv pipeline-kargo-pv")

    assert snap_compare(StonksApp(FakeRunner(tmp_path)), terminal_size=size, run_before=steady(run_before))


@pytest.mark.parametrize("size", SIZES)
def test_done(snap_compare, tmp_path: Path, size) -> None:
    from stonks_tui.screens.verify import VerifyScreen

    async def run_before(pilot) -> None:
        from tests.tui.fakes import DEPLOY_KEY

        journal = pilot.app.runner.journal("install")
        journal.mark("woodpecker-activate", "done", outputs={"github_deploy_public_key": DEPLOY_KEY})
        await pilot.app.push_screen(VerifyScreen(done=True))
        await until(pilot, lambda: "Done." in str(pilot.app.screen.query_one("#verify-status").render()))

    assert snap_compare(StonksApp(FakeRunner(tmp_path)), terminal_size=size, run_before=steady(run_before))


@pytest.mark.parametrize("size", SIZES)
def test_a_question_the_run_asks(snap_compare, tmp_path: Path, size) -> None:
    runner = FakeRunner(tmp_path)

    async def run_before(pilot) -> None:
        runner.on_question({"type": "question", "id": "q1", "text": (
            "Clear exactly these ARC finalizers so arc-runners can finish terminating? AutoscalingRunnerSet "
            "arc-runner-set (autoscalingrunnerset.actions.github.com/finalizer), EphemeralRunner "
            "arc-runner-set-x7k2p-runner-abcde (ephemeralrunner.actions.github.com/finalizer)")})
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "QuestionScreen")

    assert snap_compare(StonksApp(runner), terminal_size=size, run_before=steady(run_before))


@pytest.mark.parametrize("size", SIZES)
def test_delivery_proof(snap_compare, tmp_path: Path, size) -> None:
    from stonks_tui.screens.delivery import DeliveryScreen

    async def run_before(pilot) -> None:
        await pilot.app.push_screen(DeliveryScreen())
        await until(pilot, lambda: "delivery proven" in str(pilot.app.screen.query_one("#delivery-status").render()))

    assert snap_compare(StonksApp(FakeRunner(tmp_path)), terminal_size=size, run_before=steady(run_before))


@pytest.mark.parametrize("size", SIZES)
def test_verify_after_a_teardown(snap_compare, tmp_path: Path, size) -> None:
    """The kept volumes in one long result: every PV is read in its row (the detail line lost the last one)."""
    from stonks_tui.checks.result import CheckResult
    from stonks_tui.screens.verify import VerifyScreen

    runner = FakeRunner(tmp_path)
    runner.torn_down_before = True

    async def after_teardown():
        return [CheckResult("removed", "pass", "woodpecker, argocd and kargo releases are gone; 5 namespaces deleted"),
                CheckResult("pvs-kept", "pass", "pipeline-argocd-pv: 127.0.0.1:/exports/argocd, 5Gi, Retain, "
                            "Released; pipeline-kargo-pv: 127.0.0.1:/exports/kargo, 2Gi, Retain, Released; "
                            "pipeline-woodpecker-pv: 127.0.0.1:/exports/woodpecker, 5Gi, Retain, Released"),
                CheckResult("gitea", "warn", "Gitea still runs (it was there before the install)",
                            "nothing to do: the teardown keeps what it did not make")]

    runner.verify = after_teardown  # type: ignore[method-assign]

    async def run_before(pilot) -> None:
        await pilot.app.push_screen(VerifyScreen())
        await until(pilot, lambda: "checks" in str(pilot.app.screen.query_one("#verify-status").render()))

    assert snap_compare(StonksApp(runner), terminal_size=size, run_before=steady(run_before))


@pytest.mark.parametrize("size", SIZES)
def test_progress_running_with_the_keys_panel_open(snap_compare, tmp_path: Path, size) -> None:
    """A run going: long log lines wrap between words in the pane; `?` lists this screen's keys only."""
    gate = asyncio.Event()
    runner = FakeRunner(tmp_path, Script(gate=gate))
    runner.store.set("woodpecker-token", TOKEN)

    async def run_before(pilot) -> None:
        from stonks_tui.engine.events import LogLine
        from stonks_tui.screens.progress import ProgressScreen

        await pilot.app.push_screen(ProgressScreen(runner.plan("install")))
        await until(pilot, lambda: pilot.app.screen.running and pilot.app.screen.selected)
        screen = pilot.app.screen
        screen.listen(LogLine(step_id=screen.selected, line="Synced the release and waited for Kubernetes to "
                              "report every Deployment of it Available, which took a while"))
        import time

        screen.plan_started_at = time.time() + 3600  # the run's clock reads 0:00 in every snapshot
        screen.show_status()
        await pilot.pause(0.2)
        await pilot.press("question_mark")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "KeysPanel")

    assert snap_compare(StonksApp(runner), terminal_size=size, run_before=steady(run_before))


@pytest.mark.parametrize("size", SIZES)
def test_unlock_a_new_keyring(snap_compare, tmp_path: Path, size) -> None:
    from stonks_tui.screens.unlock import UnlockScreen

    async def run_before(pilot) -> None:
        # A path that does not exist (a new keyring) and reads the same on every machine.
        await pilot.app.push_screen(UnlockScreen("/home/operator/.local/state/stonks-tui/keyring.json",
                                                 lambda passphrase: None))
        await pilot.pause(0.1)
        await pilot.press(*"short", "enter")
        await pilot.pause(0.1)

    assert snap_compare(StonksApp(FakeRunner(tmp_path)), terminal_size=size, run_before=steady(run_before))


@pytest.mark.parametrize("size", SIZES)
def test_a_files_diff(snap_compare, tmp_path: Path, size) -> None:
    from stonks_tui.screens.plan import DiffScreen

    lines = ("--- .woodpecker.yml (now)", "+++ .woodpecker.yml (after)", "@@ -1,3 +1,4 @@", " steps:",
             "-  build: {image: docker}", "+  build:", "+    image: woodpeckerci/plugin-docker-buildx:5")

    async def run_before(pilot) -> None:
        await pilot.app.push_screen(DiffScreen("repo-push: update File .woodpecker.yml", lines))
        await pilot.pause(0.1)

    assert snap_compare(StonksApp(FakeRunner(tmp_path)), terminal_size=size, run_before=steady(run_before))


@pytest.mark.parametrize("size", SIZES)
def test_break_glass(snap_compare, tmp_path: Path, size) -> None:
    from stonks_tui.screens.delivery import BreakGlassScreen

    async def run_before(pilot) -> None:
        await pilot.app.push_screen(BreakGlassScreen())
        await pilot.pause(0.1)
        await pilot.press("ctrl+s")
        await pilot.pause(0.1)

    assert snap_compare(StonksApp(FakeRunner(tmp_path)), terminal_size=size, run_before=steady(run_before))
