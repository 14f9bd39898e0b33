"""The wizard driven by keys (Textual's pilot) against the real engine on the simulated world."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable, Log, OptionList

from stonks_tui.app import StonksApp
from stonks_tui.cli import Session


@pytest.fixture
def session(demo_session: Session) -> Session:
    return demo_session


async def wait_for(pilot, predicate, timeout: float = 120.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        screen = pilot.app.screen
        detail = getattr(screen, "states", "") or getattr(screen, "ready", "")
        assert time.monotonic() < deadline, f"stuck on {type(screen).__name__}: {detail}"
        await pilot.pause(0.05)


async def test_install_through_the_wizard_then_resume_offer_is_gone(session: Session) -> None:
    app = StonksApp(session.runner())
    async with app.run_test(size=(100, 30)) as pilot:
        assert app.screen.__class__.__name__ == "WelcomeScreen"
        options = [str(o.prompt) for o in app.screen.query_one(OptionList).options]
        assert options[0].startswith("Install") and not any(o.startswith("Resume") for o in options)
        await pilot.press("i")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "PrerequisitesScreen" and app.screen.results
                       and not app.screen.checking)
        assert all(r.status != "fail" for r in app.screen.results), app.screen.results
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "SettingsScreen")
        assert not app.screen.errors
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "CredentialsScreen")
        await wait_for(pilot, lambda: "asking" not in str(app.screen.query_one("#gitea-mode").render()))
        assert "not initialised" in str(app.screen.query_one("#gitea-mode").render())
        await pilot.press("ctrl+n")  # the demo keyring already holds a password: kept
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "PlanScreen" and app.screen.ready)
        plan_rows = app.screen.query_one(DataTable).row_count
        assert plan_rows >= 19
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "ProgressScreen"
                       and app.screen.finished is not None and not app.screen.running)
        screen = app.screen
        assert screen.finished.ok, screen.states
        assert set(screen.states.values()) <= {"ok", "unchanged"}
        await pilot.pause(0.1)  # the pane takes lines at 30 Hz: the last step's may still be on their way
        # the selected step's log reached the pane (wrapping may make it longer)
        assert screen.query_one(Log).line_count >= len(screen.lines[screen.selected])
        # The pane followed the work to the last step (with steps running side by side, it once stayed on the
        # first one: the engine's concurrent starts made the screen think the operator had picked it).
        assert screen.follow and screen.selected == "verify", (screen.follow, screen.selected)
        assert "install finished" in str(screen.query_one("#status").render())
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "VerifyScreen"
                       and app.screen.query_one(DataTable).row_count >= 12)
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "WelcomeScreen")
        options = [str(o.prompt) for o in app.screen.query_one(OptionList).options]
        assert not any(o.startswith("Resume") for o in options)


async def test_teardown_screen_lists_kept_pvs(session: Session) -> None:
    app = StonksApp(session.runner())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("t")
        await wait_for(pilot, lambda: "reading" not in str(app.screen.query_one("#kept").render()))
        text = str(app.screen.query_one("#kept").render())
        assert "No pipeline PersistentVolumes" in text  # a fresh homelab has none yet
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "WelcomeScreen")


async def test_keyring_passphrase_is_typed_masked_and_a_wrong_one_can_be_retried(session: Session,
                                                                                  tmp_path: Path) -> None:
    from textual.widgets import Input

    from stonks_tui.redact import Redactor
    from stonks_tui.secrets import open_store

    keyring_dir = tmp_path / "kr"
    first = open_store(keyring_dir, "ctx", Redactor(), passphrase="right-passphrase", interactive=False)
    first.set("gitea-token", "value-1234567")
    first.flush()
    opened: list[object] = []

    def unlock(passphrase: str) -> None:
        opened.append(open_store(keyring_dir, "ctx", Redactor(), passphrase=passphrase, interactive=False))

    app = StonksApp(session.runner(), unlock=unlock, keyring_where=str(keyring_dir / "secrets.cryptfile"))
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.screen.__class__.__name__ == "UnlockScreen"
        field = app.screen.query_one(Input)
        assert field.password  # masked
        await pilot.press(*"wrong-passphrase", "enter")
        await wait_for(pilot, lambda: "does not unlock" in str(app.screen.query_one("#unlock-error").render()))
        assert app.screen.query_one(Input).value == ""  # cleared for another try
        await pilot.press(*"right-passphrase", "enter")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "WelcomeScreen")
    assert opened and opened[0].get("gitea-token") == "value-1234567"
