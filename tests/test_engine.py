"""The engine: ordering, concurrency bound, failure isolation, cancel, resume and idempotency."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from stonks_tui.engine.engine import Engine
from stonks_tui.engine.events import Event, LogLine, PlanFinished, StepFinished, StepStarted
from stonks_tui.engine.plan import Plan, PlanError
from stonks_tui.engine.step import Change, Done, MemorySecretStore, NotDone, Step, StepContext
from stonks_tui.errors import StepFailed
from stonks_tui.journal import DONE, FAILED, INTERRUPTED, PENDING, Journal
from stonks_tui.redact import Redactor
from stonks_tui.settings import Settings


class World:
    """A toy world: a set of things that exist. Steps make things exist; check looks."""

    def __init__(self) -> None:
        self.things: set[str] = set()
        self.applies: list[str] = []
        self.active = 0
        self.max_active = 0
        self.fail: set[str] = set()
        self.gates: dict[str, asyncio.Event] = {}


class ThingStep(Step):
    def __init__(self, world: World, sid: str, needs: tuple[str, ...] = ()) -> None:
        self.world, self.id, self.title, self.needs = world, sid, f"make {sid}", needs

    async def check(self, ctx: StepContext):
        return Done() if self.id in self.world.things else NotDone(f"{self.id} missing")

    async def apply(self, ctx: StepContext) -> None:
        w = self.world
        w.applies.append(self.id)
        w.active += 1
        w.max_active = max(w.max_active, w.active)
        try:
            ctx.log(f"making {self.id}")
            gate = w.gates.get(self.id)
            if gate:
                await gate.wait()
            else:
                await asyncio.sleep(0.01)
            if self.id in w.fail:
                raise StepFailed(f"{self.id} broke", hint="fix the thing")
            w.things.add(self.id)
        finally:
            w.active -= 1

    async def describe(self, ctx: StepContext) -> list[Change]:
        return [Change("unchanged" if self.id in self.world.things else "create", "Thing", self.id)]


def make_ctx() -> StepContext:
    r = Redactor()
    return StepContext(settings=Settings(), secrets=MemorySecretStore(r), redact=r)


def diamond(world: World) -> Plan:
    #   a → b → d ; a → c → d ; e independent
    return Plan("install", [
        ThingStep(world, "a"), ThingStep(world, "b", ("a",)), ThingStep(world, "c", ("a",)),
        ThingStep(world, "d", ("b", "c")), ThingStep(world, "e"),
    ])


async def run(plan: Plan, path: Path, events: list[Event] | None = None, concurrency: int = 4,
              ctx: StepContext | None = None, settle_timeout: float = 0.3, one_picture=None):
    journal = Journal.open(path, plan.name, "ctx")
    engine = Engine(plan, ctx or make_ctx(), journal, concurrency=concurrency, log_dir=path.parent / "logs",
                    listeners=[events.append] if events is not None else [], settle_timeout=settle_timeout,
                    one_picture=one_picture)
    return await engine.run(), journal


async def test_order_respects_needs(tmp_path: Path) -> None:
    world = World()
    events: list[Event] = []
    summary, journal = await run(diamond(world), tmp_path / "j.json", events)
    assert summary.ok and summary.exit_code == 0
    order = [e.step_id for e in events if isinstance(e, StepFinished)]
    assert order.index("a") < order.index("b") < order.index("d")
    assert order.index("c") < order.index("d")
    assert all(journal.steps[s].state == DONE for s in "abcde")
    assert isinstance(events[-1], PlanFinished) and events[-1].ok


async def test_concurrency_bound(tmp_path: Path) -> None:
    world = World()
    plan = Plan("install", [ThingStep(world, f"s{i}") for i in range(8)])
    await run(plan, tmp_path / "j.json", concurrency=3)
    assert world.max_active == 3
    world2 = World()
    await run(Plan("install", [ThingStep(world2, f"s{i}") for i in range(8)]), tmp_path / "k.json", concurrency=1)
    assert world2.max_active == 1


async def test_failure_stops_dependants_not_independent_branches(tmp_path: Path) -> None:
    world = World()
    world.fail = {"b"}
    events: list[Event] = []
    summary, journal = await run(diamond(world), tmp_path / "j.json", events)
    assert not summary.ok and summary.exit_code == 1
    assert summary.outcomes["b"] == "failed"
    assert summary.outcomes["d"] == "blocked"
    assert summary.outcomes["c"] == "ok" and summary.outcomes["e"] == "ok"
    assert "d" not in world.applies
    assert journal.steps["b"].state == FAILED
    assert journal.steps["b"].last_error == "b broke" and journal.steps["b"].hint == "fix the thing"
    assert journal.steps["d"].state == PENDING
    blocked = [e for e in events if isinstance(e, StepFinished) and e.outcome == "blocked"]
    assert blocked[0].error == "not started: b did not finish"


async def test_resume_after_failure_does_only_remaining_work(tmp_path: Path) -> None:
    world = World()
    world.fail = {"b"}
    await run(diamond(world), tmp_path / "j.json")
    first = list(world.applies)
    world.fail.clear()
    world.applies.clear()
    summary, journal = await run(diamond(world), tmp_path / "j.json")
    assert summary.ok
    assert sorted(world.applies) == ["b", "d"], (first, world.applies)
    assert journal.steps["b"].attempts == 2 and journal.steps["a"].attempts == 2


async def test_second_run_applies_nothing(tmp_path: Path) -> None:
    world = World()
    await run(diamond(world), tmp_path / "j.json")
    world.applies.clear()
    events: list[Event] = []
    summary, _ = await run(diamond(world), tmp_path / "j.json", events)
    assert summary.ok and world.applies == []
    assert {e.outcome for e in events if isinstance(e, StepFinished)} == {"unchanged"}


async def test_cancel_marks_running_interrupted_and_resume_finishes(tmp_path: Path) -> None:
    world = World()
    world.gates["b"] = asyncio.Event()  # b hangs until released
    path = tmp_path / "j.json"
    journal = Journal.open(path, "install", "ctx")
    events: list[Event] = []
    engine = Engine(diamond(world), make_ctx(), journal, listeners=[events.append])
    task = asyncio.create_task(engine.run())
    while not any(isinstance(e, StepStarted) and e.step_id == "b" for e in events):
        await asyncio.sleep(0)
    engine.cancel()
    summary = await task
    assert summary.interrupted and summary.exit_code == 130
    assert journal.steps["b"].state == INTERRUPTED
    assert journal.steps["d"].state == PENDING
    assert Journal.open(path, "install", "ctx").run["status"] == "interrupted"
    world.gates.clear()
    world.applies.clear()
    summary, _ = await run(diamond(world), path)
    assert summary.ok and "b" in world.applies and "a" not in world.applies


async def test_a_cancel_as_a_step_is_started_interrupts_the_run(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A cancel that lands just after a step's task was created, before its first line ran: the engine ended with
    a CancelledError (the client: exit 1, not 130; "exception was never retrieved" from helm's readers)."""
    world = World()
    path = tmp_path / "j.json"
    journal = Journal.open(path, "install", "ctx")
    engine = Engine(diamond(world), make_ctx(), journal)
    create = asyncio.create_task

    def create_then_cancel(coro, *, name=None, **kw):  # type: ignore[no-untyped-def]
        task = create(coro, name=name, **kw)
        if name == "b":  # what engine.cancel() does to a task that exists but has not run a line yet
            engine.cancel()
            task.cancel()
        return task

    monkeypatch.setattr(asyncio, "create_task", create_then_cancel)
    summary = await engine.run()
    monkeypatch.undo()
    assert summary.interrupted and summary.exit_code == 130
    assert journal.steps["d"].state == PENDING and "b" not in world.applies
    assert Journal.open(path, "install", "ctx").run["status"] == "interrupted"


async def test_a_step_without_its_methods_fails_loudly(tmp_path: Path) -> None:
    class Unwritten(Step):
        id, title = "todo", "Not yet"

    events: list[Event] = []
    plan = Plan("install", [Unwritten()])
    summary, journal = await run(plan, tmp_path / "j.json", events)
    assert not summary.ok
    assert "not implemented" in journal.steps["todo"].last_error


async def test_check_still_not_done_after_apply_is_a_failure(tmp_path: Path) -> None:
    class Liar(ThingStep):
        async def apply(self, ctx: StepContext) -> None:  # claims success, changes nothing
            self.world.applies.append(self.id)

    world = World()
    summary, journal = await run(Plan("install", [Liar(world, "x")]), tmp_path / "j.json")
    assert summary.outcomes["x"] == "failed"
    assert "check still says" in journal.steps["x"].last_error


async def test_a_check_that_agrees_a_moment_after_apply_is_waited_for(tmp_path: Path) -> None:
    """At other simulator speeds the pvs step failed ("check still says: PV not bound") and passed seconds later:
    what a cluster takes a moment to do (a controller re-binding a volume) is waited for, bounded."""

    class Lagging(ThingStep):
        async def apply(self, ctx: StepContext) -> None:  # the controller makes it exist a moment later
            asyncio.get_running_loop().call_later(0.4, self.world.things.add, self.id)

    world, events = World(), []
    summary, journal = await run(Plan("install", [Lagging(world, "x")]), tmp_path / "j.json", events,
                                 settle_timeout=5)
    assert summary.outcomes["x"] == "ok", journal.steps["x"].last_error
    assert any(isinstance(e, LogLine) and "waiting for the cluster: x missing" in e.line for e in events)


async def test_unexpected_exception_is_reported_with_log_path(tmp_path: Path) -> None:
    class Buggy(ThingStep):
        async def apply(self, ctx: StepContext) -> None:
            raise KeyError("oops")

    summary, journal = await run(Plan("install", [Buggy(World(), "x")]), tmp_path / "j.json")
    assert summary.outcomes["x"] == "failed"
    assert "KeyError" in journal.steps["x"].last_error
    assert "x.log" in journal.steps["x"].hint
    assert "Traceback" in (tmp_path / "logs" / "x.log").read_text()


async def test_secrets_are_redacted_in_logs_errors_and_journal(tmp_path: Path) -> None:
    secret = "hunter2-very-secret"

    class Leaky(ThingStep):
        async def apply(self, ctx: StepContext) -> None:
            ctx.secrets.set("gitea-admin-password", secret)
            ctx.log(f"using password {secret}")
            raise StepFailed(f"login with {secret} refused")

    events: list[Event] = []
    await run(Plan("install", [Leaky(World(), "x")]), tmp_path / "j.json", events)
    lines = [e.line for e in events if isinstance(e, LogLine)]
    assert lines and all(secret not in line for line in lines)
    assert secret not in (tmp_path / "j.json").read_text()
    assert secret not in (tmp_path / "logs" / "x.log").read_text()


async def test_outputs_flow_to_later_steps_and_journal(tmp_path: Path) -> None:
    seen: dict = {}

    class Producer(ThingStep):
        async def apply(self, ctx: StepContext) -> None:
            ctx.output("app_id", 42)
            await super().apply(ctx)

    class Consumer(ThingStep):
        async def apply(self, ctx: StepContext) -> None:
            seen.update(ctx.outputs["p"])
            await super().apply(ctx)

    world = World()
    _, _journal = await run(Plan("install", [Producer(world, "p"), Consumer(world, "c", ("p",))]), tmp_path / "j.json")
    assert seen == {"app_id": 42}
    assert Journal.open(tmp_path / "j.json", "install", "ctx").steps["p"].outputs == {"app_id": 42}


def test_plan_shape_errors() -> None:
    w = World()
    with pytest.raises(PlanError, match="cycle"):
        Plan("p", [ThingStep(w, "a", ("b",)), ThingStep(w, "b", ("a",))])
    with pytest.raises(PlanError, match="needs zz"):
        Plan("p", [ThingStep(w, "a", ("zz",))])
    with pytest.raises(PlanError, match="two steps"):
        Plan("p", [ThingStep(w, "a"), ThingStep(w, "a")])


def test_install_and_teardown_plans_have_the_design_shape() -> None:
    from stonks_tui.plans import install_plan, teardown_plan

    plan = install_plan(Settings())
    order = plan.order
    for before, after in [("gitea-init", "gitea-token"), ("gitea-token", "gitea-oauth-app"),
                          ("gitea-oauth-app", "woodpecker"), ("arc-removal", "woodpecker"),
                          ("repo-push", "repo-migrate"), ("argocd", "argocd-apps"), ("kargo", "kargo-resources"),
                          ("woodpecker", "woodpecker-activate"), ("kargo-resources", "verify")]:
        assert order.index(before) < order.index(after)
    assert plan.dependants("gitea-init") >= {"gitea-token", "woodpecker", "verify"}
    assert "arc-removal" not in plan.dependants("gitea-init")  # independent branches run concurrently
    td = teardown_plan(Settings()).order
    assert td.index("kargo-uninstall") < td.index("argocd-uninstall") < td.index("woodpecker-uninstall")
    assert td[-1] == "namespaces-remove" and td[0] == "pvs-retain"
    assert "pvs-delete" not in td and "pvs-delete" in teardown_plan(Settings(), delete_pvs=True).order


class TimedStep(ThingStep):
    """Records when each of its checks starts and ends, and can be told to take a while."""

    def __init__(self, world: World, sid: str, needs: tuple[str, ...] = (), log: list | None = None) -> None:
        super().__init__(world, sid, needs)
        self.log = log if log is not None else []

    async def check(self, ctx: StepContext):
        self.log.append(("check-start", self.id))
        ctx.log(f"looked at {self.id}")
        await asyncio.sleep(0.05)
        self.log.append(("check-end", self.id))
        return await super().check(ctx)

    async def apply(self, ctx: StepContext) -> None:
        self.log.append(("apply", self.id))
        await super().apply(ctx)


def chain(world: World, log: list) -> Plan:
    return Plan("install", [TimedStep(world, "a", (), log), TimedStep(world, "b", ("a",), log),
                            TimedStep(world, "c", ("b",), log)])


async def test_a_rerun_after_a_finished_run_asks_every_check_at_once(tmp_path: Path) -> None:
    """A no-op install re-checked its steps one dependency level after another (2.3 s on the real tier for 19
    steps that were all done): after a finished run, the checks are asked together — and each step's log still
    reads as always."""
    world, log = World(), []
    await run(chain(world, log), tmp_path / "j.json")  # makes a, b, c: the run finishes
    log.clear()
    events: list[Event] = []
    summary, _ = await run(chain(world, log), tmp_path / "j.json", events)
    assert summary.ok and [e.outcome for e in events if isinstance(e, StepFinished)] == ["unchanged"] * 3
    starts = [i for i, (what, _) in enumerate(log) if what == "check-start"]
    first_end = next(i for i, (what, _) in enumerate(log) if what == "check-end")
    assert len(starts) == 3 and max(starts) < first_end, log  # all three asked before the first answered
    lines = [e.line for e in events if isinstance(e, LogLine)]
    assert lines == ["looked at a", "looked at b", "looked at c"], lines  # each after its step started


class FollowerStep(TimedStep):
    """Done while it has seen a's current generation: a's apply makes it stale (like values rendered from a)."""

    async def check(self, ctx: StepContext):
        await TimedStep.check(self, ctx)
        return Done() if self.world.seen == self.world.generation else NotDone("a changed since")

    async def apply(self, ctx: StepContext) -> None:
        self.log.append(("apply", self.id))
        self.world.seen = self.world.generation


async def test_once_a_step_applies_no_check_asked_ahead_is_used(tmp_path: Path) -> None:
    """The world a check ahead read is the world before any change: when a step applies, its dependants are
    checked again after it, as without speculation (b's check ahead said done; after a's apply it is not)."""

    class Maker(TimedStep):
        async def apply(self, ctx: StepContext) -> None:
            await super().apply(ctx)
            self.world.generation += 1

    world, log = World(), []
    world.generation = world.seen = 0

    def plan() -> Plan:
        return Plan("install", [Maker(world, "a", (), log), FollowerStep(world, "b", ("a",), log)])

    await run(plan(), tmp_path / "j.json")  # a made (generation 1), b follows it
    world.things.discard("a")  # drift: a must be made again
    log.clear()
    events: list[Event] = []
    summary, _ = await run(plan(), tmp_path / "j.json", events)
    assert summary.ok and ("apply", "b") in log, log
    assert [e.outcome for e in events if isinstance(e, StepFinished)] == ["ok", "ok"]


async def test_checks_asked_ahead_share_their_reads_until_something_applies(tmp_path: Path) -> None:
    """A no-op install ran `helm list` four times in its engine (each release step and ARC's asked its own, ~0.12 s
    of CPU each): the checks asked ahead read one picture of the world and may share it — but never once a step
    applies, and not in a first run (checked in order)."""
    world, log = World(), []

    def one_picture(on: bool) -> None:
        log.append(("shared reads", on))

    await run(chain(world, log), tmp_path / "j.json", one_picture=one_picture)
    assert not [e for e in log if e[0] == "shared reads"], log  # a first run: in order, nothing shared
    log.clear()
    await run(chain(world, log), tmp_path / "j.json", one_picture=one_picture)
    shared = [e for e in log if e[0] == "shared reads"]
    assert shared == [("shared reads", True), ("shared reads", False)], log
    assert log[0] == ("shared reads", True)  # before the first check asked ahead
    world.things.discard("c")  # drift: c applies — the shared reads end before it does
    log.clear()
    await run(chain(world, log), tmp_path / "j.json", one_picture=one_picture)
    assert log.index(("shared reads", False)) < log.index(("apply", "c")), log


async def test_a_first_run_checks_in_order(tmp_path: Path) -> None:
    world, log = World(), []
    await run(chain(world, log), tmp_path / "j.json")
    assert [entry for entry in log if entry[0] != "check-end"] == [
        ("check-start", "a"), ("apply", "a"), ("check-start", "a"),
        ("check-start", "b"), ("apply", "b"), ("check-start", "b"),
        ("check-start", "c"), ("apply", "c"), ("check-start", "c")]


async def test_a_step_whose_check_is_its_work_reports_what_it_ran_not_already_done(tmp_path: Path) -> None:
    """The install's verify step ran 13 live checks and said "already done: 13 live checks pass", counted as
    "1 unchanged": its check is its work, so it is "ok" with what the checks found."""

    class LiveChecks(Step):
        id, title, check_is_the_work = "verify", "live checks", True

        async def check(self, ctx: StepContext):
            return Done("13 live checks pass")

    world = World()
    events: list[Event] = []
    summary, _ = await run(Plan("install", [ThingStep(world, "a"), LiveChecks()]), tmp_path / "j.json", events)
    finished = {e.step_id: e.outcome for e in events if isinstance(e, StepFinished)}
    lines = [e.line for e in events if isinstance(e, LogLine) and e.step_id == "verify"]
    assert summary.ok and finished["verify"] == "ok" and "13 live checks pass" in lines
    assert not any("already done" in line for line in lines)


async def test_steps_asking_at_once_read_the_cluster_facts_once() -> None:
    """Rendering depends on one cluster fact (does the pipeline storage class do RWX?), read once per run — but
    steps asking at once (a plan, checks asked ahead) each listed the StorageClasses before the first answer was
    kept: six lists per plan. The read itself is shared."""
    from stonks_tui.runtime import Runtime, cluster_facts

    lists: list[str] = []

    class Kube:
        async def list(self, api_version: str, kind: str) -> list[dict]:
            lists.append(kind)
            await asyncio.sleep(0.01)
            return [{"metadata": {"name": "longhorn", "annotations": {
                "storageclass.kubernetes.io/is-default-class": "true"}}, "provisioner": "driver.longhorn.io"}]

    ctx = make_ctx()
    rt = Runtime(context="x")
    rt._clients["kube"] = Kube()
    ctx.clients["runtime"] = rt
    facts = await asyncio.gather(*(cluster_facts(ctx.for_step(f"s{i}", log=lambda _l: None)) for i in range(6)))
    assert lists == ["StorageClass"] and all(f.rwx for f in facts), lists
