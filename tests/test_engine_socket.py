"""The engine's socket beyond events and cancel: the backlog a late client replays, and the questions the run
asks the operator mid-way (issue 16: "whatever is waiting for the operator"): the engine
process asks every attached client; the first answer decides and every client sees who gave it; a client that
attaches later gets the open question with the backlog; no answer in time, or a cancelled run, is a no.

End to end: ARC's controller already gone, `install` at a terminal (a pty) without --yes or
--clear-arc-finalizers: the run in the engine process asks this terminal, and a yes there clears exactly ARC's
finalizers.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from kubernetes import client, config

from stonks_tui.engine.events import LogLine, StepFinished, StepStarted
from stonks_tui.service import server
from stonks_tui.service.client import EngineConnection
from stonks_tui.service.protocol import read_info
from stonks_tui.service.server import EngineService
from stonks_tui.sim.world import World
from tests.conftest import PYTHON
from tests.ptyrun import Terminal


async def until(test, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not test():
        assert asyncio.get_running_loop().time() < deadline, "not within the time"
        await asyncio.sleep(0.01)


def asked(seen: list[dict]) -> list[dict]:
    return [m for m in seen if m["type"] == "question"]


async def test_a_late_client_replays_the_run_in_order_exactly_as_a_live_one_saw_it(tmp_path: Path,
                                                                                  monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(server, "LOG_BATCH", 3)  # batches end at the limit too, not only at another event
    service = EngineService(tmp_path, "install", lambda: None)
    await service.start()
    live: list = []
    follow_live = asyncio.ensure_future(EngineConnection(tmp_path).attach([live.append]))
    await until(lambda: service.client_pids)
    sent = [StepStarted(step_id="a", title="A", attempt=1), *(LogLine(step_id="a", line=f"a{i}") for i in range(7)),
            LogLine(step_id="b", line="b0"), LogLine(step_id="a", line="a7"),
            StepFinished(step_id="a", outcome="ok", duration=0.1, error="", hint="")]
    half = 5
    for event in sent[:half]:
        service.broadcast(event)
    mid: list = []  # attaches mid-run: part of the backlog comes from an open batch
    follow_mid = asyncio.ensure_future(EngineConnection(tmp_path).attach([mid.append]))
    await until(lambda: len(service.client_pids) == 2)
    for event in sent[half:]:
        service.broadcast(event)
    late: list = []
    follow_late = asyncio.ensure_future(EngineConnection(tmp_path).attach([late.append]))
    await until(lambda: len(late) == len(sent))
    await service.finish(0)
    await asyncio.gather(follow_live, follow_mid, follow_late)
    assert live == mid == late == sent  # every field, the times included
    # a0-a2 (the limit), a3 (cut where the mid client attached), a4-a6, b0, a7: batches, not a message per line
    assert sum(b'"type": "log"' in line for line in service.backlog) == 5


async def test_the_first_answer_decides_and_every_client_sees_who_gave_it(tmp_path: Path) -> None:
    service = EngineService(tmp_path, "install", lambda: None)
    await service.start()
    seen: dict[str, list[dict]] = {"a": [], "b": [], "late": []}
    conns = {name: EngineConnection(tmp_path) for name in seen}
    follows = [asyncio.ensure_future(conns[n].attach([], None, seen[n].append)) for n in ("a", "b")]
    await until(lambda: len(service.client_pids) == 2)
    question = asyncio.ensure_future(service.ask("Clear exactly these ARC finalizers?"))
    await until(lambda: asked(seen["a"]) and asked(seen["b"]))
    qid = asked(seen["a"])[0]["id"]
    assert read_info(tmp_path)["asking"] == ["Clear exactly these ARC finalizers?"]  # status says the run waits
    conns["b"].answer(qid, True)
    assert await asyncio.wait_for(question, 5) is True
    assert read_info(tmp_path)["asking"] == []
    conns["a"].answer(qid, False)  # too late: the first answer decided
    follows.append(asyncio.ensure_future(conns["late"].attach([], None, seen["late"].append)))
    await until(lambda: len(seen["late"]) == 2)
    await service.finish(0)
    await asyncio.gather(*follows)
    for name in seen:
        assert [m["type"] for m in seen[name]] == ["question", "answered"], name
        assert seen[name][1] == {"type": "answered", "id": qid, "yes": True, "by": os.getpid(), "why": ""}


async def test_no_answer_in_time_or_a_cancelled_run_is_a_no(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(server, "ANSWER_WAIT", 0.2)
    service = EngineService(tmp_path, "install", lambda: None)
    await service.start()
    seen: list[dict] = []
    follow = asyncio.ensure_future(EngineConnection(tmp_path).attach([], None, seen.append))
    await until(lambda: service.client_pids)
    assert await service.ask("Roll back the release?") is False
    cancelled = asyncio.ensure_future(service.ask("Clear them?"))
    await until(lambda: len(asked(seen)) == 2)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    await service.finish(1)
    await follow
    answers = [m for m in seen if m["type"] == "answered"]
    assert [(m["yes"], m["by"]) for m in answers] == [(False, None), (False, None)]
    assert "no answer within" in answers[0]["why"] and "cancelled" in answers[1]["why"]


def test_install_at_a_terminal_is_asked_across_the_engine_and_a_yes_clears_arcs_finalizers(tmp_path: Path) -> None:
    # ARC's controller removed before its scale sets (the old script's order): only the operator may clear them.
    with World(tmp_path / "demo", speed=0.0, faults="") as w:
        c = config.new_client_from_config(config_file=str(w.kubeconfig))
        client.AppsV1Api(c).delete_namespaced_deployment("arc-gha-rs-controller", "arc-systems")
        c.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STONKS_")}
    env["STONKS_SIM_SPEED"] = "0"
    with Terminal([PYTHON, "-m", "stonks_tui", "--state-dir", str(tmp_path), "--demo", "install", "--quiet"],
                  env=env) as term:
        term.answer("steps) on context", "y")  # run the install plan?
        code = term.wait(timeout=240, answers={"Clear exactly these ARC finalizers": "y"})
    assert code == 0, term.output[-3000:]
    assert term.replies == 2  # arc-runners' scale-set objects, then arc-systems' listener
    log = (tmp_path / "stonks-demo" / "logs" / "install" / "arc-removal.log").read_text()
    assert "cleared   ephemeralrunner.actions.github.com/finalizer" in log
    with World(tmp_path / "demo", speed=0.0, faults="") as w:
        c = config.new_client_from_config(config_file=str(w.kubeconfig))
        names = {n.metadata.name for n in client.CoreV1Api(c).list_namespace().items}
        c.close()
    assert not {"arc-systems", "arc-runners"} & names


async def test_a_prompt_at_the_terminal_holds_the_runs_lines_until_it_is_answered(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Log lines of steps still running used to scroll the question away while it waited at the prompt."""
    import io
    import threading

    from stonks_tui.console import ConsolePrinter, TerminalQuestions

    out = io.StringIO()
    printer = ConsolePrinter(out)
    answers: list[tuple[str, bool]] = []
    prompted, typed = threading.Event(), threading.Event()

    def operator(prompt: str) -> str:
        out.write(prompt)
        prompted.set()
        typed.wait(5)
        return "y"

    monkeypatch.setattr("builtins.input", operator)
    questions = TerminalQuestions(lambda qid, yes: answers.append((qid, yes)), stream=out, printer=printer)
    printer(LogLine(step_id="woodpecker", line="before the question"))
    questions({"type": "question", "id": "q1", "text": "Clear exactly these ARC finalizers?"})
    assert await asyncio.to_thread(prompted.wait, 5)
    printer(LogLine(step_id="woodpecker", line="while it waits"))
    assert "while it waits" not in out.getvalue()
    typed.set()
    await until(lambda: answers)
    text = out.getvalue()
    assert answers == [("q1", True)]
    assert text.index("before the question") < text.index("ARC finalizers? [y/N]") < text.index("while it waits")


async def test_a_client_reads_an_engine_of_another_version_without_a_traceback(tmp_path: Path) -> None:
    """A client and an engine of different versions (an upgrade while a run goes on) meet: unknown messages and
    fields, fields of the wrong type, integers of thousands of digits — each unreadable one is left out, the rest
    reach the face, the end's code is kept sane. It used to raise (TypeError, ValueError) in the operator's face."""
    service = EngineService(tmp_path, "install", lambda: None)
    await service.start()
    seen: list = []
    notes: list[str] = []
    follow = asyncio.ensure_future(EngineConnection(tmp_path).attach([seen.append], notes.append))
    await until(lambda: service.client_pids)
    good = StepStarted(step_id="a", title="A", attempt=1)
    weird = [
        [1, 2, 3], "a string", None,  # not objects
        {"type": "from-the-future", "x": 1},
        {"type": "event", "kind": "StepStarted", "event": {"step_id": "a", "title": "A", "attempt": 1,
                                                          "at": 1.0, "colour": "blue"}},  # an unknown field: kept
        {"type": "event", "kind": "StepStarted", "event": {"step_id": ["a"], "title": "A", "attempt": 1}},
        {"type": "event", "kind": "StepStarted", "event": {"step_id": "a", "title": "A", "attempt": "1"}},
        {"type": "event", "kind": "StepStarted", "event": {"step_id": "a", "title": "A", "attempt": 10 ** 4000}},
        {"type": "event", "kind": "StepFinished", "event": {"step_id": "a", "outcome": "exploded"}},
        {"type": "event", "kind": "PlanFinished", "event": {"plan": "install", "ok": "yes", "interrupted": False,
                                                           "counts": {}, "duration": 1.0}},
        {"type": "event", "kind": "WorkloadStatus", "event": {"step_id": "a", "kind": "Deployment", "name": "n"}},
        {"type": "event", "kind": "StepStarted", "event": "not an object"},
        {"type": "log", "step_id": "a", "lines": "abc", "ats": [1.0]},
        {"type": "log", "step_id": "a", "lines": ["x", 5], "ats": [1.0, 2.0]},
        {"type": "note", "text": {"nested": True}},
        {"type": "question", "id": 7, "text": "?"},
    ]
    import json

    for message in weird:
        service._send(json.dumps(message).encode() + b"\n")
    service.broadcast(good)
    service._send(b'{"type": "event", "kind": "StepStarted", "event": {"attempt": ' + b"9" * 5000 + b"}}\n")
    service._send(b"not json at all\n")
    service._send(b'{"type": "end", "exit_code": "0"}\n')
    attached = await asyncio.wait_for(follow, 10)
    await service.finish(0)
    assert seen[-1] == good
    assert [e for e in seen if isinstance(e, StepStarted)] == [StepStarted(step_id="a", title="A", attempt=1, at=1.0),
                                                                good]
    assert [e.line for e in seen if isinstance(e, LogLine)] == ["x"]
    assert notes == [] and attached.exit_code == 1


async def test_the_ctrl_c_question_holds_the_runs_lines_until_it_is_answered(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """`install` at a terminal, Ctrl-C: "[c]ancel the run, or [d]etach?" was buried by the lines of the steps
    still running. They are held while it waits, then printed."""
    import io
    import threading

    from stonks_tui.commands.runs import cancel_or_detach
    from stonks_tui.console import ConsolePrinter

    out = io.StringIO()
    printer = ConsolePrinter(out)
    prompted, typed = threading.Event(), threading.Event()

    def operator(prompt: str) -> str:
        out.write(prompt)
        prompted.set()
        typed.wait(5)
        return "d"

    monkeypatch.setattr("builtins.input", operator)
    printer(LogLine(step_id="argocd", line="before Ctrl-C"))
    asking = asyncio.ensure_future(asyncio.to_thread(cancel_or_detach(printer)))
    assert await asyncio.to_thread(prompted.wait, 5)
    printer(LogLine(step_id="argocd", line="while it asks"))
    assert "while it asks" not in out.getvalue()
    typed.set()
    assert await asyncio.wait_for(asking, 5) == "detach"
    text = out.getvalue()
    assert text.index("before Ctrl-C") < text.index("[d]etach") < text.index("while it asks")
