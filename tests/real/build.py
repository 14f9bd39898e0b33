"""Build the real upstream programs the real tier runs, from the Go module proxy, into a cache outside the repo.

    python tests/real/build.py            # everything the tier needs
    python tests/real/build.py kube helm-3.13.1
    python tests/real/build.py --list

Each component is one pinned Go module version. Its source comes from the module proxy (`go mod download`), is
copied into the cache and built there with its own go.mod/go.sum; where that go.mod points at sibling modules by
relative path (Kubernetes' staging modules, etcd's siblings), those replaces are rewritten to the published
versions of the same release: the pattern other projects use to import the monorepo. Nothing built ever lands in
the repository. Idempotent: a finished build leaves `built.json` beside its binaries and is not built again.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

KUBE_VERSION = "v1.36.3"  # newest patch of the operator's line (k3s 1.36) that the proxy serves
STAGING_VERSION = "v0.36.3"
ETCD_VERSION = "v3.6.8"  # the etcd server kubernetes v1.36.3 itself requires
KWOK_VERSION = "v0.8.0"
HELM_OLDEST = "v3.13.1"  # the lowest helm the product supports; prints the kubeconfig-permission warning
HELM_CURRENT = "v3.21.4"
HELM_4 = "v4.3.2"  # helm's current major line
GITEA_VERSION = "v1.27.3"


def cache_root() -> Path:
    return Path(os.environ.get("STONKS_REAL_CACHE") or Path.home() / ".cache" / "stonks-tui" / "real")


@dataclass(frozen=True)
class Component:
    name: str
    module: str
    version: str
    packages: tuple[str, ...]  # relative to the module root ("." or "./cmd/x") or full import paths
    binaries: tuple[str, ...]
    tags: str = ""
    ldflags: str = ""
    cgo: bool = False
    sibling_replaces: dict[str, str] = field(default_factory=dict)  # relative-path prefix -> version
    renames: dict[str, str] = field(default_factory=dict)  # what `go build` names a binary -> what we call it

    @property
    def dir(self) -> Path:
        return cache_root() / f"{self.name}-{self.version}"

    def binary(self, name: str) -> Path:
        return self.dir / "bin" / name


_KUBE_LDFLAGS = " ".join(
    [
        "-s -w",
        f"-X k8s.io/component-base/version.gitVersion={KUBE_VERSION}",
        "-X k8s.io/component-base/version.gitMajor=1",
        "-X k8s.io/component-base/version.gitMinor=36",
        "-X k8s.io/component-base/version.gitTreeState=clean",
        "-X k8s.io/client-go/pkg/version.gitVersion=" + KUBE_VERSION,
    ]
)

COMPONENTS: dict[str, Component] = {
    c.name: c
    for c in (
        # etcd is built inside the kubernetes module so it shares the release's own pins (and the compile cache).
        Component(
            "kube",
            "k8s.io/kubernetes",
            KUBE_VERSION,
            (
                "./cmd/kube-apiserver",
                "./cmd/kube-controller-manager",
                "./cmd/kube-scheduler",
                "go.etcd.io/etcd/server/v3",
            ),
            ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"),
            ldflags=_KUBE_LDFLAGS,
            renames={"server": "etcd"},  # go.etcd.io/etcd/server/v3's main package builds as `server`
            sibling_replaces={"./staging/src/": STAGING_VERSION},
        ),
        Component(
            "kwok",
            "sigs.k8s.io/kwok",
            KWOK_VERSION,
            ("./cmd/kwok",),
            ("kwok",),
            ldflags=f"-s -w -X sigs.k8s.io/kwok/pkg/consts.Version={KWOK_VERSION}",
        ),
        Component(
            "helm-3.13",
            "helm.sh/helm/v3",
            HELM_OLDEST,
            ("./cmd/helm",),
            ("helm",),
            ldflags=f"-s -w -X helm.sh/helm/v3/internal/version.version={HELM_OLDEST}"
            " -X helm.sh/helm/v3/internal/version.gitTreeState=clean",
        ),
        Component(
            "helm",
            "helm.sh/helm/v3",
            HELM_CURRENT,
            ("./cmd/helm",),
            ("helm",),
            ldflags=f"-s -w -X helm.sh/helm/v3/internal/version.version={HELM_CURRENT}"
            " -X helm.sh/helm/v3/internal/version.gitTreeState=clean",
        ),
        Component(
            "helm-4",
            "helm.sh/helm/v4",
            HELM_4,
            ("./cmd/helm",),
            ("helm",),
            ldflags=f"-s -w -X helm.sh/helm/v4/internal/version.version={HELM_4}"
            " -X helm.sh/helm/v4/internal/version.gitTreeState=clean",
        ),
        Component(
            "gitea",
            "code.gitea.io/gitea",
            GITEA_VERSION,
            (".",),
            ("gitea",),
            tags="sqlite sqlite_unlock_notify",
            ldflags=f"-s -w -X main.Version={GITEA_VERSION.lstrip('v')}",
            cgo=True,  # mattn/go-sqlite3
            renames={"gitea.dev": "gitea"},  # the module's own path is gitea.dev (code.gitea.io redirects to it)
        ),
    )
}


def go_env() -> dict[str, str]:
    env = dict(os.environ)
    # Never let the go command fetch a toolchain: the proxy serves modules as Go code, nothing else.
    env["GOTOOLCHAIN"] = "local"
    env["GOFLAGS"] = "-mod=mod -buildvcs=false"
    # kubernetes ships a go.work over its staging tree, which the module zip does not carry: build the module alone.
    env["GOWORK"] = "off"
    return env


def say(msg: str) -> None:
    print(f"[real-build {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def check_go() -> str | None:
    """None when Go and the module proxy answer; otherwise why not."""
    go = shutil.which("go")
    if not go:
        return "no `go` on PATH (the real tier builds its upstreams with Go >= 1.26)"
    try:
        out = subprocess.run(["go", "env", "GOVERSION"], capture_output=True, text=True, timeout=30, env=go_env())
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"`go env` failed: {exc}"
    m = re.match(r"go1\.(\d+)", out.stdout.strip())
    if not m or int(m.group(1)) < 26:
        return f"Go {out.stdout.strip() or '?'} is too old: the real tier needs Go >= 1.26"
    return None


def _download(module: str, version: str) -> Path:
    out = subprocess.run(
        ["go", "mod", "download", "-json", f"{module}@{version}"],
        capture_output=True,
        text=True,
        env=go_env(),
        timeout=1800,
        cwd=cache_root(),
    )
    info = json.loads(out.stdout or "{}")
    if out.returncode or info.get("Error") or not info.get("Dir"):
        raise SystemExit(
            f"go mod download {module}@{version} failed: {info.get('Error') or out.stderr.strip()}\n"
            "Is the Go module proxy reachable (GOPROXY)?"
        )
    return Path(info["Dir"])


def _rewrite_sibling_replaces(gomod: Path, prefixes: dict[str, str]) -> None:
    text = gomod.read_text()
    for prefix, version in prefixes.items():
        pattern = re.compile(r"^(\s*(?:replace\s+)?)(\S+)\s*=>\s*" + re.escape(prefix) + r"\S+\s*$", re.M)
        text = pattern.sub(lambda m, v=version: f"{m.group(1)}{m.group(2)} => {m.group(2)} {v}", text)
    gomod.write_text(text)


def _drop_unpublished(src: Path, env: dict[str, str]) -> None:
    """A staging module that is replaced but never published (sample-cli-plugin) cannot resolve; nothing we build
    imports one, so its replace goes."""
    gomod = src / "go.mod"
    lines = gomod.read_text().splitlines()
    keep: list[str] = []
    for line in lines:
        m = re.match(r"^\s*(k8s\.io/\S+) => (\S+) (v\S+)\s*$", line)
        if m:
            probe = subprocess.run(
                ["go", "list", "-m", f"{m.group(2)}@{m.group(3)}"], capture_output=True, env=env, cwd=src, timeout=300
            )
            if probe.returncode:
                say(f"  {m.group(1)} {m.group(3)} is not published; its replace is dropped")
                continue
        keep.append(line)
    gomod.write_text("\n".join(keep) + "\n")


def build(c: Component, *, force: bool = False) -> Path:
    stamp = c.dir / "built.json"
    if stamp.exists() and not force and all(c.binary(b).exists() for b in c.binaries):
        return c.dir
    c.dir.mkdir(parents=True, exist_ok=True)
    with open(c.dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second builder waits for the first instead of racing it
        if stamp.exists() and not force and all(c.binary(b).exists() for b in c.binaries):
            return c.dir
        started = time.monotonic()
        env = go_env()
        env["CGO_ENABLED"] = "1" if c.cgo else "0"
        say(f"{c.name}: fetching {c.module}@{c.version} from the module proxy")
        mod_dir = _download(c.module, c.version)
        src = c.dir / "src"
        if src.exists():
            shutil.rmtree(src)
        shutil.copytree(mod_dir, src)
        for p in [src, *src.rglob("*")]:
            if not p.is_symlink():
                p.chmod(p.stat().st_mode | 0o200)  # the module cache is read-only; our copy is not
        if c.sibling_replaces:
            _rewrite_sibling_replaces(src / "go.mod", c.sibling_replaces)
            _drop_unpublished(src, env)
        (c.dir / "bin").mkdir(exist_ok=True)
        cmd = ["go", "build", "-o", str(c.dir / "bin") + "/"]
        if c.tags:
            cmd += ["-tags", c.tags]
        if c.ldflags:
            cmd += ["-ldflags", c.ldflags]
        cmd += list(c.packages)
        say(f"{c.name}: go build {' '.join(c.packages)} (this takes minutes on 2 cores)")
        proc = subprocess.Popen(cmd, cwd=src, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        tail: list[str] = []
        assert proc.stdout is not None
        for line in proc.stdout:
            tail = ([*tail, line.rstrip()])[-40:]
            if line.startswith("go: downloading"):
                continue
            print(f"    {line.rstrip()}", flush=True)
        if proc.wait():
            raise SystemExit(f"{c.name}: go build failed (exit {proc.returncode}):\n" + "\n".join(tail))
        for built, name in c.renames.items():
            if (c.dir / "bin" / built).exists():
                (c.dir / "bin" / built).replace(c.binary(name))
        missing = [b for b in c.binaries if not c.binary(b).exists()]
        if missing:
            raise SystemExit(f"{c.name}: go build left no {', '.join(missing)} in {c.dir / 'bin'}")
        took = time.monotonic() - started
        stamp.write_text(json.dumps({"module": c.module, "version": c.version, "seconds": round(took, 1)}))
        say(f"{c.name}: built in {took / 60:.1f} min -> {c.dir / 'bin'}")
        return c.dir


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("names", nargs="*", help="components to build (default: all)")
    ap.add_argument("--list", action="store_true", help="list the components and whether they are built")
    ap.add_argument("--force", action="store_true", help="build again even when built")
    args = ap.parse_args(argv)
    if args.list:
        for c in COMPONENTS.values():
            state = "built" if (c.dir / "built.json").exists() else "not built"
            print(f"{c.name:10} {c.module}@{c.version:9} {state:10} {c.dir}")
        return 0
    why = check_go()
    if why:
        print(f"real-build: {why}", file=sys.stderr)
        return 2
    names = args.names or list(COMPONENTS)
    unknown = [n for n in names if n not in COMPONENTS]
    if unknown:
        print(f"real-build: unknown component(s) {', '.join(unknown)}; known: {', '.join(COMPONENTS)}", file=sys.stderr)
        return 2
    cache_root().mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    for n in names:
        build(COMPONENTS[n], force=args.force)
    say(f"all built in {(time.monotonic() - started) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
