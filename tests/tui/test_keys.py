"""The footer and the keys panel (`?`): only keys that work on the screen now, each once, in a stable order, whole
at 80 columns; the panel lists the screen's keys in the wizard's words and closes with `?` and with escape."""

from __future__ import annotations

import asyncio
from pathlib import Path

from rich.cells import cell_len
from textual.widgets._footer import FooterKey

from stonks_tui.app import StonksApp
from tests.tui.fakes import FakeRunner, Script
from tests.tui.test_screens import name, settle, text, to_plan

TEXTUAL_WORDS = ("Scroll Left", "Page Left", "Copy selected text", "palette", "Maximize", "Toggle")


def footer(app: StonksApp) -> list[tuple[str, str]]:
    return [(key.key_display, key.description) for key in app.screen.query(FooterKey)]


def footer_is_whole(app: StonksApp) -> None:
    """Every footer key inside the terminal and as wide as its words (at 80 columns `^q Qui`, `esc Ba` were cut)."""
    width = app.size.width
    for key in app.screen.query(FooterKey):
        words = f"{key.key_display} {key.description}"
        assert key.region.right <= width and key.region.width >= cell_len(words), (words, key.region, footer(app))
    actions = [key.action.removeprefix("app.") for key in app.screen.query(FooterKey)]
    assert len(actions) == len(set(actions)), footer(app)  # `q Quit` beside `^q Quit` was one meaning twice


async def open_panel(pilot, app: StonksApp) -> str:
    below = app.screen
    await pilot.press("question_mark")
    await settle(pilot, lambda: name(app) == "KeysPanel")
    shown = "\n".join(f"{key}  {what}" for key, what in app.screen.lines)
    for word in TEXTUAL_WORDS:
        assert word not in shown, shown
    for _key, description in [(k.key_display, k.description) for k in below.query(FooterKey)]:
        assert description == "Keys" or description in shown, (description, shown)
    return shown


async def panel_opens_and_closes(pilot, app: StonksApp) -> str:
    below = app.screen
    shown = await open_panel(pilot, app)
    await pilot.press("question_mark")  # the key that opened it closes it
    await settle(pilot, lambda: app.screen is below)
    await open_panel(pilot, app)
    await pilot.press("escape")
    await settle(pilot, lambda: app.screen is below)
    return shown


async def test_keys_panel_lists_each_screens_keys_and_closes_with_question_mark_and_escape(tmp_path: Path) -> None:
    runner = FakeRunner(tmp_path, Script(fail={"argocd": ("helm: release argocd failed", "kubectl get pods")}))
    runner.store.set("woodpecker-token", "wp_0123456789abcdefghij")
    app = StonksApp(runner)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, lambda: name(app) == "WelcomeScreen")
        shown = await panel_opens_and_closes(pilot, app)
        assert "Install" in shown and "Quit" in shown and "choose an action" in shown
        await to_plan(pilot, app)
        footer_is_whole(app)
        shown = await panel_opens_and_closes(pilot, app)
        assert "Start" in shown and "move in the table" in shown
        await pilot.press("enter")
        await settle(pilot, lambda: name(app) == "ProgressScreen" and app.screen.finished is not None
                     and not app.screen.running)
        footer_is_whole(app)
        shown = await panel_opens_and_closes(pilot, app)
        assert "Retry" in shown and "Cancel" not in shown and "Next" not in shown


async def test_the_footer_offers_only_what_works_now_in_a_stable_order(tmp_path: Path) -> None:
    gate = asyncio.Event()
    runner = FakeRunner(tmp_path, Script(gate=gate))
    runner.store.set("woodpecker-token", "wp_0123456789abcdefghij")
    app = StonksApp(runner)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, lambda: name(app) == "WelcomeScreen")
        footer_is_whole(app)
        await to_plan(pilot, app)
        await pilot.press("enter")
        await settle(pilot, lambda: name(app) == "ProgressScreen" and app.screen.running)
        await pilot.pause(0.1)
        running = footer(app)
        descriptions = [d for _, d in running]
        assert "Cancel" in descriptions and "Next" not in descriptions and "Retry" not in descriptions
        footer_is_whole(app)
        await pilot.press("z")  # the log over the whole width: focus moves, the keys stay where they were
        await pilot.pause(0.2)
        assert footer(app) == running
        await pilot.press("z")
        gate.set()
        await settle(pilot, lambda: app.screen.finished is not None and not app.screen.running)
        await pilot.pause(0.1)
        descriptions = [d for _, d in footer(app)]
        # After a successful finish: Next; Cancel and Retry did nothing there and are gone.
        assert "Next" in descriptions and "Cancel" not in descriptions and "Retry" not in descriptions
        footer_is_whole(app)
        await pilot.press("enter")
        await settle(pilot, lambda: name(app) == "VerifyScreen" and "Done." in text(app, "#verify-status"))
        await pilot.pause(0.1)
        footer_is_whole(app)


async def test_start_is_not_offered_while_the_plan_is_worked_out(tmp_path: Path) -> None:
    from stonks_tui.screens.plan import PlanScreen

    runner = FakeRunner(tmp_path)
    hold = asyncio.Event()
    describe = runner.describe

    async def slow_describe(plan):
        await hold.wait()
        return await describe(plan)

    runner.describe = slow_describe  # type: ignore[method-assign]
    app = StonksApp(runner)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.push_screen(PlanScreen("install"))
        await pilot.pause(0.2)
        assert "Start" not in [d for _, d in footer(app)]
        await pilot.press("enter")  # does nothing yet
        assert name(app) == "PlanScreen" and not runner.runs
        hold.set()
        await settle(pilot, lambda: app.screen.ready)
        await pilot.pause(0.1)
        assert "Start" in [d for _, d in footer(app)]
