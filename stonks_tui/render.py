"""Render manifests/ from Settings into plain objects: the one source for apply, plan, check and render --out.

Templates are YAML files with `${setting}` placeholders in scalar values. Substitution happens on the parsed
tree, never on text, so no setting can inject YAML. `${int:x}` / `${bool:x}` give typed values;
`${secret:name}` stays a placeholder until a step resolves it from the keyring at apply time, so rendered
files and `plan` never contain a secret.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from stonks_tui.errors import StepFailed
from stonks_tui.settings import Settings

_PLACEHOLDER = re.compile(r"\$\{(int:|bool:|secret:)?([a-z0-9_-]+)\}")
SECRET_MARK = "<secret:{}>"

# Provisioners known to serve ReadWriteMany volumes (pipeline workspaces shared between step pods).
RWX_PROVISIONERS = ("driver.longhorn.io", "nfs.csi.k8s.io", "cephfs.csi.ceph.com", "efs.csi.aws.com",
                    "nfs-subdir-external-provisioner", "file.csi.azure.com", "filestore.csi.storage.gke.io")


def manifests_dir() -> Path:
    """manifests/ inside the installed wheel, or at the top of the source tree."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "manifests", here.parent / "manifests"):
        if (candidate / "namespaces.yaml").exists():
            return candidate
    raise FileNotFoundError("manifests/ not found next to the stonks_tui package")


@dataclass(frozen=True)
class ClusterFacts:
    """What rendering needs to know about the live cluster; offline commands use the defaults."""

    rwx: bool | None = None  # None: unknown (offline) → the safe choice, RWO


@dataclass
class Rendered:
    """Every rendered file: objects (lists of manifests) and values (helm values dicts), by relative path."""

    objects: dict[str, list[dict]] = field(default_factory=dict)
    values: dict[str, dict] = field(default_factory=dict)

    def all_objects(self) -> list[tuple[str, dict]]:
        return [(path, obj) for path, objs in self.objects.items() for obj in objs]


def variables(settings: Settings, facts: ClusterFacts | None = None) -> dict[str, Any]:
    facts = facts or ClusterFacts()
    values = settings.to_dict()
    values["repo_owner_effective"] = settings.effective_repo_owner
    values["gitea_repo_url"] = settings.gitea_repo_url
    if settings.woodpecker_storage_rwx == "auto":
        values["rwx"] = "true" if facts.rwx else "false"
    else:
        values["rwx"] = settings.woodpecker_storage_rwx
    return values


def substitute(node: Any, values: dict[str, Any], where: str = "") -> Any:
    if isinstance(node, dict):
        return {substitute(k, values, where): substitute(v, values, where) for k, v in node.items()}
    if isinstance(node, list):
        return [substitute(v, values, where) for v in node]
    if not isinstance(node, str) or "${" not in node:
        return node
    full = _PLACEHOLDER.fullmatch(node)
    if full and full.group(1) in ("int:", "bool:"):
        value = values[full.group(2)]
        return int(value) if full.group(1) == "int:" else bool(value)

    def one(m: re.Match[str]) -> str:
        if m.group(1) == "secret:":
            return m.group(0)  # resolved at apply time, never rendered
        if m.group(2) not in values:
            raise KeyError(f"{where}: unknown placeholder {m.group(0)}")
        text = str(values[m.group(2)])
        if "${" in text:  # validate() refuses it; a setting's value must never become a placeholder of ours
            raise ValueError(f"{where}: setting {m.group(2)} holds '${{'")
        return text

    return _PLACEHOLDER.sub(one, node)


@functools.lru_cache(maxsize=1)
def templates() -> tuple[tuple[str, Any], ...]:
    """Every template, parsed once per process (they ship with the package and do not change)."""
    root = manifests_dir()
    # libyaml's parser where PyYAML has it: the pure-Python one took ~0.12 s of every plan for these 24 files.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return tuple((p.relative_to(root).as_posix(), yaml.load(p.read_text(encoding="utf-8"), Loader=loader))
                 for p in sorted(root.rglob("*.yaml")))


def render(settings: Settings, facts: ClusterFacts | None = None) -> Rendered:
    values = variables(settings, facts)
    out = Rendered()
    for rel, template in templates():
        doc = substitute(template, values, rel)
        if rel.endswith("values.yaml"):
            out.values[rel] = doc
        else:
            out.objects[rel] = doc if isinstance(doc, list) else [doc]
    return out


def resolve_secrets(node: Any, get: Callable[[str], str | None]) -> Any:
    """Fill `${secret:x}` from the keyring; a missing one is an error naming it (never an empty value)."""
    if isinstance(node, dict):
        return {k: resolve_secrets(v, get) for k, v in node.items()}
    if isinstance(node, list):
        return [resolve_secrets(v, get) for v in node]
    if isinstance(node, str) and "${secret:" in node:
        def one(m: re.Match[str]) -> str:
            if m.group(1) != "secret:":
                return m.group(0)
            value = get(m.group(2))
            if not value:
                raise StepFailed(f"secret {m.group(2)} is not in the keyring yet",
                                 hint="the step that creates it has not finished: run install to resume")
            return value

        return _PLACEHOLDER.sub(one, node)
    return node


def mask_secrets(node: Any) -> Any:
    """`${secret:x}` → `<secret:x>` for files and screens."""
    if isinstance(node, dict):
        return {k: mask_secrets(v) for k, v in node.items()}
    if isinstance(node, list):
        return [mask_secrets(v) for v in node]
    if isinstance(node, str):
        return _PLACEHOLDER.sub(lambda m: SECRET_MARK.format(m.group(2)) if m.group(1) == "secret:" else m.group(0),
                                node)
    return node


def write_rendered(rendered: Rendered, out_dir: Path) -> list[Path]:
    """Every rendered file under `out_dir`, which must be the operator's own directory: each file is written
    whole and renamed into place (a link planted at a file's name is replaced, never followed), and a
    subdirectory that is a link is refused."""
    from stonks_tui.fsutil import atomic_write_text

    out_dir = own_output_dir(out_dir)
    files = {**{rel: yaml.safe_dump_all(mask_secrets(objs), sort_keys=False)
                for rel, objs in rendered.objects.items()},
             **{rel: yaml.safe_dump(mask_secrets(values), sort_keys=False) for rel, values in rendered.values.items()}}
    written = []
    for rel, text in files.items():
        target = out_dir / rel
        _real_dirs(out_dir, target.parent)
        atomic_write_text(target, text, mode=0o644)
        written.append(target)
    return written


def own_output_dir(out_dir: Path) -> Path:
    """`render --out DIR`: created if missing (0700); refused when it is not a directory, not the operator's, or
    writable by others (another user could swap a file for a link between two writes)."""
    import stat

    from stonks_tui.errors import UsageError

    hint = "choose a directory of your own, e.g. --out ~/stonks-render"
    try:
        out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        info = out_dir.stat()
    except FileExistsError:
        raise UsageError(f"--out {out_dir}: exists and is not a directory", hint=hint) from None
    except OSError as exc:
        raise UsageError(f"--out {out_dir}: cannot be used as a directory ({exc.strerror or exc})",
                         hint=hint) from None
    if not stat.S_ISDIR(info.st_mode):
        raise UsageError(f"--out {out_dir}: exists and is not a directory", hint=hint)
    if info.st_uid != os.getuid():
        raise UsageError(f"--out {out_dir}: belongs to another user (uid {info.st_uid}); nothing was written",
                         hint=hint)
    if info.st_mode & 0o022:
        raise UsageError(f"--out {out_dir}: others may write in it (mode {stat.S_IMODE(info.st_mode):04o}); "
                         "nothing was written", hint=hint + f", or chmod go-w {out_dir}")
    return out_dir


def _real_dirs(root: Path, directory: Path) -> None:
    """Create `directory` under `root`, each part a real directory (a link there is refused, not followed)."""
    from stonks_tui.errors import UsageError

    current = root
    for part in directory.relative_to(root).parts:
        current = current / part
        if current.is_symlink() or (current.exists() and not current.is_dir()):
            raise UsageError(f"--out: {current} is a link or a file, not a directory; nothing is written through it",
                             hint="remove it, or choose an empty directory for --out")
        current.mkdir(mode=0o755, exist_ok=True)
