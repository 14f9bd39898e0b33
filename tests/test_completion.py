"""Shell completion: the script `stonks-tui completion SHELL` prints, loaded into the real shell, completes commands,
options, setting names, secrets and the kubeconfig's contexts (bash and fish asked as a user's TAB would; zsh as far
as a shell without a terminal goes: the script loads and registers, and the program answers zsh's request)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import PYTHON

EXE = Path(PYTHON).parent / "stonks-tui"
KUBECONFIG = """apiVersion: v1
kind: Config
current-context: homelab
contexts:
- {name: homelab, context: {cluster: c, user: u}}
- {name: staging, context: {cluster: c, user: u}}
"""


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "kubeconfig").write_text(KUBECONFIG)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STONKS_", "_ARC", "_ARGCOMPLETE"))}
    env.update({"KUBECONFIG": str(tmp_path / "kubeconfig"), "PATH": f"{EXE.parent}{os.pathsep}{env['PATH']}"})
    return env


def bash_complete(line: str, env: dict[str, str]) -> list[str]:
    words = line.split(" ")
    script = ('eval "$(stonks-tui completion bash)"; COMP_LINE="$LINE"; COMP_POINT=${#COMP_LINE}; '
              'read -ra COMP_WORDS <<< "$LINE"; [[ "$LINE" == *" " ]] && COMP_WORDS+=(""); '
              'COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); '
              '_python_argcomplete stonks-tui "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"; '
              'printf "%s\\n" "${COMPREPLY[@]}"')
    out = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], env=dict(env, LINE=line),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert words  # the line as typed
    return [w.strip() for w in out.stdout.splitlines() if w.strip()]


def test_bash_completes_commands_options_settings_secrets_and_contexts(env: dict[str, str]) -> None:
    assert bash_complete("stonks-tui pl", env) == ["plan"]
    assert bash_complete("stonks-tui --context st", env) == ["staging"]
    assert set(bash_complete("stonks-tui plan --", env)) >= {"--exit-code", "--output", "--delete-pvs", "--demo"}
    assert bash_complete("stonks-tui plan -o j", env) == ["json"]
    assert bash_complete("stonks-tui settings woodpecker_u", env) == ["woodpecker_url"]
    assert "gitea-admin-password" in bash_complete("stonks-tui secrets rotate gitea", env)
    assert bash_complete("stonks-tui completion f", env) == ["fish"]


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_completes_with_descriptions(env: dict[str, str], tmp_path: Path) -> None:
    script = subprocess.run([str(EXE), "completion", "fish"], env=env, capture_output=True, text=True, timeout=60)
    (tmp_path / "stonks-tui.fish").write_text(script.stdout)
    asked = (f"source {tmp_path / 'stonks-tui.fish'}; complete -C 'stonks-tui --context ho'; "
             "complete -C 'stonks-tui verif'; complete -C 'stonks-tui settings nfs_pa'")
    out = subprocess.run(["fish", "--no-config", "-c", asked], env=env, capture_output=True, text=True, timeout=60)
    lines = out.stdout.splitlines()
    assert "homelab" in lines
    assert any(line.startswith("verify\tlive checks") for line in lines), lines
    assert {"nfs_path_argocd", "nfs_path_kargo", "nfs_path_woodpecker"} <= set(lines)


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_loads_the_script_and_the_program_answers_zshs_request(env: dict[str, str], tmp_path: Path) -> None:
    loaded = subprocess.run(["zsh", "-f", "-c", 'autoload -U compinit; compinit -u -d "$D/zcompdump"; '
                             'eval "$(stonks-tui completion zsh)"; print -r -- "$_comps[stonks-tui]"'],
                            env=dict(env, D=str(tmp_path)), capture_output=True, text=True, timeout=60)
    assert loaded.stdout.strip() == "_python_argcomplete", loaded.stdout + loaded.stderr
    out = tmp_path / "answer"
    line = "stonks-tui s"
    subprocess.run([str(EXE)], env=dict(env, _ARGCOMPLETE="1", _ARGCOMPLETE_SHELL="zsh", COMP_LINE=line,
                                        COMP_POINT=str(len(line)), _ARGCOMPLETE_STDOUT_FILENAME=str(out)),
                   check=True, timeout=60)
    answers = dict(item.split(":", 1) for item in out.read_text().split("\v"))
    assert set(answers) == {"status", "secrets", "settings"}, answers
    assert answers["status"].startswith("print the journal")


def test_completion_costs_nothing_when_not_asked(env: dict[str, str]) -> None:
    """Without the shell's variable the command runs as always and argcomplete is never imported."""
    r = subprocess.run([PYTHON, "-X", "importtime", "-m", "stonks_tui", "--version"], env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and "argcomplete" not in r.stderr
