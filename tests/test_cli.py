"""The CLI contract: exit codes and messages on bad input, cheap --help, lock contention, status."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import PYTHON


def cli(*args: str, env: dict[str, str], stdin: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-m", "stonks_tui", *args], env=env, capture_output=True, text=True,
                          input=stdin, timeout=timeout)


def test_version_and_help(cli_env: dict[str, str]) -> None:
    from stonks_tui import __version__

    r = cli("--version", env=cli_env)
    assert r.returncode == 0 and r.stdout.strip() == f"stonks-tui {__version__}"
    r = cli("--help", env=cli_env)
    assert r.returncode == 0
    for word in ("install", "plan", "status", "check", "verify", "teardown", "render", "--demo", "--answers",
                 "--state-dir", "--context", "exit codes"):
        assert word in r.stdout


def test_help_and_version_import_no_heavy_modules(cli_env: dict[str, str]) -> None:
    for flag in ("--help", "--version"):
        r = subprocess.run([PYTHON, "-X", "importtime", "-m", "stonks_tui", flag], env=cli_env,
                           capture_output=True, text=True)
        imported = {line.split("|")[-1].strip().split(".")[0] for line in r.stderr.splitlines() if "|" in line}
        assert not imported & {"textual", "kubernetes", "httpx", "rich"}, flag


def test_unknown_command_and_flag_exit_2(cli_env: dict[str, str]) -> None:
    r = cli("instal", env=cli_env)
    assert r.returncode == 2 and "invalid choice: 'instal'" in r.stderr
    r = cli("install", "--force", env=cli_env)
    assert r.returncode == 2 and "--force" in r.stderr
    r = cli("render", env=cli_env)
    assert r.returncode == 2 and "--out" in r.stderr


def test_bad_answers_file_exit_2_without_traceback(cli_env: dict[str, str], tmp_path: Path) -> None:
    answers = tmp_path / "a.yaml"
    answers.write_text("woodpecker_namespace: Bad_NS\ngitea_admin_user: admin\n")
    for command in (("install", "--yes"), ("plan",), ("teardown", "--yes")):
        r = cli("--answers", str(answers), *command, env=cli_env)
        assert r.returncode == 2, (command, r.stderr)
        assert "woodpecker_namespace" in r.stderr and "gitea_admin_user" in r.stderr
        assert "Traceback" not in r.stderr
    answers.write_text("gitea_admin_password: hunter2\n")
    r = cli("--answers", str(answers), "install", "--yes", env=cli_env)
    assert r.returncode == 2 and "keyring" in r.stderr and "hunter2" not in r.stderr + r.stdout
    r = cli("--answers", str(tmp_path / "missing.yaml"), "plan", env=cli_env)
    assert r.returncode == 2 and "does not exist" in r.stderr


def test_unknown_context_exit_2(cli_env: dict[str, str]) -> None:
    r = cli("--context", "nope", "status", env=cli_env)
    assert r.returncode == 2 and "'nope' is not in your kubeconfig" in r.stderr and "homelab" in r.stderr


def test_missing_kubeconfig_exit_2(cli_env: dict[str, str], tmp_path: Path) -> None:
    env = dict(cli_env, KUBECONFIG=str(tmp_path / "none"))
    r = cli("status", env=env)
    assert r.returncode == 2 and "no kubeconfig found" in r.stderr and "--demo" in r.stderr


def test_install_without_yes_off_a_terminal_refuses(cli_env: dict[str, str]) -> None:
    r = cli("install", env=cli_env, stdin="")
    assert r.returncode == 2 and "--yes" in r.stderr


def _engines_for(state: Path) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            args = (proc / "cmdline").read_bytes().split(b"\0")
            if b"engine-serve" in args and str(state).encode() in args:
                found.append(int(proc.name))
    return found


def test_preflight_stops_an_install_against_an_unreachable_cluster(cli_env: dict[str, str], tmp_path: Path) -> None:
    """The engine process is started ahead, beside preflight: a preflight that fails leaves none behind, and the
    last run's engine.log as it was."""
    context_dir = tmp_path / "state" / "homelab"
    context_dir.mkdir(parents=True)
    (context_dir / "engine.log").write_text("the last run's log\n")
    r = cli("install", "--yes", env=cli_env)
    assert r.returncode == 1 and "FAIL cluster" in r.stdout and "nothing was applied" in r.stdout
    assert not (context_dir / "install.json").exists() and not (context_dir / "engine.json").exists()
    assert (context_dir / "engine.log").read_text() == "the last run's log\n"
    assert _engines_for(tmp_path / "state") == []


def test_an_engine_whose_client_goes_before_handing_it_a_run_touches_nothing(tmp_path: Path) -> None:
    from stonks_tui.service.client import start_engine

    context_dir = tmp_path / "stonks-demo"
    context_dir.mkdir(parents=True)
    (context_dir / "engine.log").write_text("the last run's log\n")
    started = start_engine(context_dir, [sys.executable, "-m", "stonks_tui", "--state-dir", str(tmp_path), "--demo",
                                         "engine-serve", "install", "--yes"])
    time.sleep(0.5)  # importing what a run needs, then waiting for its start line
    assert started.proc.poll() is None
    started.proc.stdin.close()  # the client went away
    assert started.proc.wait(timeout=30) == 0
    assert sorted(p.name for p in context_dir.iterdir()) == ["engine-start.log", "engine.log"]
    assert (context_dir / "engine.log").read_text() == "the last run's log\n"
    assert (context_dir / "engine-start.log").read_text() == ""


def test_install_runs_journals_and_status_reports(cli_env: dict[str, str], tmp_path: Path) -> None:
    r = cli("install", "--yes", "--skip-preflight", env=cli_env)
    # Nothing listens at the kubeconfig's server or Gitea's URL: steps fail with an operator-facing reason.
    assert r.returncode == 1
    assert "unreachable" in r.stdout and "Traceback" not in r.stdout + r.stderr
    journal = json.loads((tmp_path / "state" / "homelab" / "install.json").read_text())
    assert journal["run"]["status"] == "failed" and journal["context"] == "homelab"
    r = cli("status", env=cli_env)
    assert r.returncode == 0 and "install on homelab: failed" in r.stdout and "last error" in r.stdout
    # A journal that knows no start, pid or host (an older or hand-made one) says so, never "None".
    journal["run"] = {k: v for k, v in journal["run"].items() if k not in ("started_at", "pid", "host")}
    (tmp_path / "state" / "homelab" / "install.json").write_text(json.dumps(journal))
    r = cli("status", env=cli_env)
    assert r.returncode == 0 and "None" not in r.stdout and "not started" in r.stdout, r.stdout
    r = cli("status", "-o", "json", env=cli_env)
    [run] = json.loads(r.stdout)["runs"]
    assert (run["status"], run["startedAt"], run["pid"]) == ("failed", None, None)
    failed = [step for step in run["steps"] if step["state"] == "failed"]
    assert failed and all(step["lastError"] for step in failed)


def test_second_instance_on_same_context_exits_3(cli_env: dict[str, str], tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [PYTHON, "-c", "import sys,time; from pathlib import Path; from stonks_tui.journal import ContextLock;"
                       "l=ContextLock(Path(sys.argv[1]),'homelab'); l.acquire(); print('ok',flush=True);"
                       "time.sleep(60)",
         str(tmp_path / "state")], stdout=subprocess.PIPE, env=cli_env)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"ok"
        r = cli("install", "--yes", env=cli_env)
        assert r.returncode == 3 and f"pid {holder.pid}" in r.stderr
        r = cli("--context", "other", "install", "--yes", env=cli_env)
        assert r.returncode == 1  # another context runs (and stops at preflight: nothing listens there)
        # Issue 15: `secrets forget` / `rotate` during an install removed every secret the install was using.
        for args in (["secrets", "forget", "--yes"], ["secrets", "rotate", "gitea-token"]):
            r = cli(*args, env=cli_env)
            assert r.returncode == 3 and f"pid {holder.pid}" in r.stderr, (args, r.stderr)
    finally:
        holder.kill()
        holder.wait()


def test_corrupt_journal_exit_2_and_kept(cli_env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "state" / "homelab" / "install.json"
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    r = cli("status", env=cli_env)
    assert r.returncode == 2 and "cannot be used" in r.stderr and "Traceback" not in r.stderr
    assert path.read_text() == "{not json" and not list(path.parent.glob("*.corrupt-*"))  # a reader writes nothing
    r = cli("install", "--yes", env=cli_env)
    assert r.returncode == 2 and "moved to" in r.stderr, r.stderr
    assert [p.read_text() for p in path.parent.glob("install.json.corrupt-*")] == ["{not json"]
    r = cli("install", "--yes", env=cli_env)
    assert r.returncode == 1 and "cannot be used" not in r.stderr  # starts afresh (and stops at preflight here)


def test_check_refuses_bad_settings_and_passes_good_ones(cli_env: dict[str, str]) -> None:
    env = dict(cli_env, STONKS_NFS_PATH_KARGO="/volume1/Kubernetes/pipelines/argocd")
    r = cli("check", env=env)
    assert r.returncode == 2 and "nfs_path_kargo" in r.stderr and "same NFS path" in r.stderr
    r = cli("check", env=cli_env)
    assert r.returncode == 0, r.stdout
    assert "PASS manifests" in r.stdout and "PASS images" in r.stdout
    warned = r.stdout.count("\nWARN ") + r.stdout.startswith("WARN ")
    assert warned == 1, r.stdout  # the pipeline is not generated here (no clone): one warning, said in the singular
    assert r.stdout.rstrip().endswith("failed, 1 warning"), r.stdout[-200:]
    r = cli("check", "-o", "json", env=cli_env)
    doc = json.loads(r.stdout)  # stdout is the document alone
    assert (r.returncode, doc["apiVersion"], doc["kind"], doc["version"]) == (0, "stonks-tui/v1", "CheckReport", 1)
    assert doc["summary"] == {"checks": len(doc["checks"]), "failed": 0, "warnings": 1}
    assert {"name", "status", "reason", "fix"} == set(doc["checks"][0])
    r = cli("check", "-o", "json", env=env)  # bad settings: the message on stderr, nothing on stdout
    assert (r.returncode, r.stdout) == (2, "") and "nfs_path_kargo" in r.stderr
    r = cli("check", "-o", "yaml", env=cli_env)
    assert r.returncode == 2 and "invalid choice: 'yaml'" in r.stderr


def test_global_options_work_after_the_command(cli_env: dict[str, str]) -> None:
    r = cli("status", "--context", "other", env=cli_env)
    assert r.returncode == 0 and "context other" in r.stdout


def test_module_entry_matches_console_script() -> None:
    import shutil

    exe = shutil.which("stonks-tui", path=str(Path(sys.executable).parent))
    assert exe, "the console script stonks-tui is installed beside the interpreter"


def test_every_command_has_a_description_and_none_is_suppressed(cli_env: dict[str, str]) -> None:
    r = cli("--help", env=cli_env)
    assert "SUPPRESS" not in r.stdout and "engine-serve" not in r.stdout
    for command in ("install", "plan", "status", "check", "verify", "teardown", "attach", "secrets", "settings",
                    "render"):
        r = cli(command, "--help", env=cli_env)
        _usage, _, rest = r.stdout.partition("\n\n")
        description = rest.split("\n\n")[0]
        assert r.returncode == 0 and not description.startswith(("positional", "options")), (command, r.stdout)


def test_an_answers_file_reports_every_problem_at_once(cli_env: dict[str, str], tmp_path: Path) -> None:
    answers = tmp_path / "a.yaml"
    answers.write_text("repo_nmae: x\nrepo_private: maybe\nfrobnicate: 1\ngitea_ssh_nodeport: lots\n")
    r = cli("--answers", str(answers), "check", env=dict(cli_env, STONKS_WOODPECKER_AGENT_REPLICAS="many"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "5 settings need attention" in r.stderr
    for needle in ("repo_nmae: unknown setting", "did you mean repo_name", "repo_private: expected true or false",
                   "frobnicate: unknown setting", "`stonks-tui settings` lists every setting",
                   "gitea_ssh_nodeport: expected a whole number", "STONKS_WOODPECKER_AGENT_REPLICAS"):
        assert needle in r.stderr, needle


def test_settings_prints_an_answers_file_that_reads_back(cli_env: dict[str, str], tmp_path: Path) -> None:
    r = cli("settings", env=dict(cli_env, STONKS_REPO_NAME="other-repo"))
    assert r.returncode == 0
    assert "repo_name: other-repo  # " in r.stdout and "(changed)" in r.stdout
    answers = tmp_path / "all.yaml"
    answers.write_text(r.stdout)
    again = cli("--answers", str(answers), "settings", env=cli_env)
    assert again.returncode == 0 and again.stdout == r.stdout
    one = cli("settings", "repo_name", "nfs_port", env=dict(cli_env, STONKS_REPO_NAME="other-repo"))
    lines = [line for line in one.stdout.splitlines() if line and not line.startswith("#")]
    assert [line.split(":")[0] for line in lines] == ["repo_name", "nfs_port"], one.stdout
    wrong = cli("settings", "repo_nmae", env=cli_env)
    assert wrong.returncode == 2 and "not a setting: repo_nmae" in wrong.stderr and "repo_name" in wrong.stderr


def test_settings_demo_prints_what_the_demo_runs_with(cli_env: dict[str, str], tmp_path: Path) -> None:
    """Before: `settings --demo` printed the design's addresses (192.168.42.8, celestium.life), which the demo never
    contacts. Now: its world's endpoints on 127.0.0.1 — the ports the demo's next start really listens on."""
    state = tmp_path / "demo-state"
    r = cli("--state-dir", str(state), "--demo", "settings", env=cli_env)
    assert r.returncode == 0, r.stderr
    world = json.loads((state / "demo" / "world.json").read_text())["ports"]
    assert f"gitea_api_url: http://127.0.0.1:{world['gitea']}  #" in r.stdout
    assert f"woodpecker_url: http://127.0.0.1:{world['woodpecker']}  #" in r.stdout
    assert f"nfs_port: {world['nfs']}  #" in r.stdout and f"local_clone: {state / 'demo' / 'stonks-oracle'}" in r.stdout
    assert "192.168." not in r.stdout  # the design's Gitea, registry and NFS addresses are not the demo's
    again = cli("--state-dir", str(state), "--demo", "settings", "gitea_api_url", env=cli_env)
    assert f"http://127.0.0.1:{world['gitea']}" in again.stdout  # the same world, the same ports


def test_a_closed_pipe_is_not_a_traceback(cli_env: dict[str, str]) -> None:
    r = subprocess.run(f"{PYTHON} -m stonks_tui settings | head -1", shell=True, env=cli_env, capture_output=True,
                       text=True, timeout=60)
    assert r.stdout.startswith("# ") and r.stderr == "", r.stderr


def test_secrets_rotate_names_what_it_can_rotate_and_takes_a_given_secret(cli_env: dict[str, str]) -> None:
    r = cli("secrets", "rotate", "nosuch", env=cli_env)
    assert r.returncode == 2 and "'nosuch' is not a secret stonks-tui keeps" in r.stderr
    assert "gitea-token" in r.stderr and "woodpecker-token" in r.stderr
    r = cli("secrets", "rotate", "woodpecker-token", env=cli_env, stdin="")
    assert r.returncode == 2 and "STONKS_WOODPECKER_TOKEN=<value>" in r.stderr
    r = cli("secrets", "rotate", "woodpecker-token", env=dict(cli_env, STONKS_WOODPECKER_TOKEN="wp_new-token-1234"))
    assert r.returncode == 0 and "woodpecker-token replaced" in r.stdout, r.stderr
    assert "wp_new-token-1234" not in r.stdout + r.stderr
    listed = cli("secrets", "list", env=cli_env)
    assert "woodpecker-token" in listed.stdout


def test_an_unknown_keyring_backend_is_a_message(cli_env: dict[str, str]) -> None:
    for backend, why in (("nope.Backend", "No module named 'nope'"),
                         ("keyring.backends.fail.Nope", "has no attribute 'Nope'")):
        r = cli("secrets", env=dict(cli_env, PYTHON_KEYRING_BACKEND=backend))
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
        assert f"PYTHON_KEYRING_BACKEND / keyringrc: {backend!r} cannot be loaded" in r.stderr and why in r.stderr


def test_render_out_writes_only_into_the_operators_own_directory(cli_env: dict[str, str], tmp_path: Path) -> None:
    """render --out followed a link planted at a file's name and overwrote its target, wrote into another user's
    0777 directory, and gave tracebacks for a file or /proc/x as DIR. Now: each file is written whole and renamed
    into place, a linked subdirectory is refused, and DIR must be the operator's and not writable by others."""
    import os

    out = tmp_path / "out"
    r = cli("render", "--out", str(out), env=cli_env)
    assert r.returncode == 0, r.stderr
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    planted = next(p for p in out.rglob("*.yaml"))
    planted.unlink()
    planted.symlink_to(victim)
    r = cli("render", "--out", str(out), env=cli_env)
    assert r.returncode == 0 and victim.read_text() == "keep me\n" and not planted.is_symlink()
    sub = next(p for p in out.iterdir() if p.is_dir())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.rename(sub, tmp_path / "moved")
    sub.symlink_to(elsewhere, target_is_directory=True)
    r = cli("render", "--out", str(out), env=cli_env)
    assert r.returncode == 2 and "is a link or a file" in r.stderr and not any(elsewhere.iterdir())
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    r = cli("render", "--out", str(shared), env=cli_env)
    assert r.returncode == 2 and "others may write in it (mode 0777)" in r.stderr and not any(shared.iterdir())
    for target, words in ((victim, "exists and is not a directory"), (Path("/proc/x"), "cannot be used")):
        r = cli("render", "--out", str(target), env=cli_env)
        assert r.returncode == 2 and words in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert victim.read_text() == "keep me\n"


def test_a_silent_api_server_gets_preflights_answer_within_its_bound(cli_env: dict[str, str],
                                                                    kubeconfig: Path) -> None:
    """An API server that accepts connections and never answers: `install` sat ~8 minutes in preflight (urllib3
    retried each unanswered request three times, then the process waited for its blocked threads) and printed an
    asyncio traceback. Now preflight answers within its 20 s bound and the process ends right after."""
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                held.append(server.accept()[0])  # accepted, never answered

    threading.Thread(target=accept, daemon=True).start()
    kubeconfig.write_text(kubeconfig.read_text().replace("http://127.0.0.1:9", f"http://127.0.0.1:"
                                                                             f"{server.getsockname()[1]}"))
    try:
        r = cli("install", "--yes", env=cli_env, timeout=120)  # before: TimeoutExpired
    finally:
        server.close()
        for conn in held:
            conn.close()
    assert r.returncode == 1 and "nothing was applied" in r.stdout, r.stdout[-2000:]
    assert "FAIL cluster" in r.stdout and "no answer within 20s" in r.stdout
    assert "Traceback" not in r.stderr + r.stdout and "never retrieved" not in r.stderr + r.stdout
