"""Simulated Kargo v1.11.0 controller: Warehouses discover images, Freight is made, stages are promoted.

Modelled on Kargo's own behaviour (akuity/kargo v1.11.0, read in its source), never by shortcut:
- a Warehouse lists its subscription's tags in the registry, keeps those its `allowTagsRegexes` allow (and
  `ignoreTags` does not name), picks by `imageSelectionStrategy` (NewestBuild: the newest image) and makes one
  Freight per new artifact (its name a hash of what it holds, as kargoapi.GenerateID);
- a stage takes Freight per its `requestedFreight` (`direct` from the Warehouse, or verified in the upstream stages
  it names); ProjectConfig `promotionPolicies` auto-promote the newest eligible Freight into the stages they select;
- a Promotion runs its steps in order: a step's `if` is evaluated (expr-lang, sim/expr.py) with `configMap()`,
  `imageFrom()` and the clock (`STONKS_SIM_NOW` sets it); `fail` fails the promotion ("failed: <message>");
  `argocd-update` checks its config like Kargo's JSON Schema, refuses an unauthorized Application, updates the
  matching source's helm parameters and waits for Argo CD to sync it; any other step errors (not simulated);
- after a successful promotion into a stage with no verification the Freight is verified there (so the stages
  downstream may take it).
It acts only while kargo-controller is ready, as the real controller would.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from stonks_tui.sim.expr import Evaluator, ExprError, evaluate_template
from stonks_tui.sim.kargo_management import GROUP, VERSION, ManagementController
from stonks_tui.sim.kinds import Kind
from stonks_tui.sim.store import Obj, Store, now_rfc3339

AUTHORIZED = "kargo.akuity.io/authorized-stage"


def sim_now() -> datetime:
    """The simulated clock: STONKS_SIM_NOW (ISO 8601, e.g. 2026-12-02T16:00:00Z) or the real time."""
    text = os.environ.get("STONKS_SIM_NOW", "").strip()
    if text:
        try:
            when = datetime.fromisoformat(text.replace("Z", "+00:00"))
            return when if when.tzinfo else when.replace(tzinfo=UTC)
        except ValueError:
            pass
    return datetime.now(UTC)


def normalize_image(url: str) -> str:
    return url.lower().removeprefix("docker.io/").rstrip("/")


def normalize_git(url: str) -> str:
    return url.lower().removesuffix("/").removesuffix(".git")


def freight_id(origin: str, images: list[dict]) -> str:
    """kargoapi.Freight.GenerateID: a SHA-1 of the origin and the artifacts."""
    parts = [origin, *sorted(f"{i['repoURL']}:{i['digest']}" for i in images)]
    return hashlib.sha1("|".join(parts).encode()).hexdigest()


# -- argocd-update's config, checked as Kargo's JSON Schema does (argocd-update-config.json) ----------------
def _only(obj: Any, where: str, allowed: set[str], required: set[str] = frozenset()) -> list[str]:  # type: ignore[assignment]
    if not isinstance(obj, dict):
        return [f"{where}: must be an object"]
    out = [f"{where}: additional property {k} is not allowed" for k in obj if k not in allowed]
    return out + [f"{where}: missing property {k}" for k in sorted(required) if k not in obj]


def _nonempty(value: Any) -> bool:
    return isinstance(value, str) and len(value) >= 1


def argocd_update_problems(config: Any) -> list[str]:
    out = _only(config, "(root)", {"apps"}, {"apps"})
    apps = config.get("apps") if isinstance(config, dict) else None
    if not isinstance(apps, list) or not apps:
        return [*out, "apps: must be a non-empty array"]
    for i, app in enumerate(apps):
        where = f"apps.{i}"
        out += _only(app, where, {"name", "namespace", "selector", "sources"})
        if not isinstance(app, dict):
            continue
        if not (_nonempty(app.get("name")) ^ (app.get("selector") is not None)):
            out.append(f"{where}: exactly one of name and selector is required")
        if "namespace" in app and not _nonempty(app["namespace"]):
            out.append(f"{where}.namespace: must be a non-empty string")
        sources = app.get("sources")
        if sources is None:
            continue
        if not isinstance(sources, list) or not sources:
            out.append(f"{where}.sources: must be a non-empty array")
            continue
        for j, src in enumerate(sources):
            sw = f"{where}.sources.{j}"
            out += _only(src, sw, {"chart", "desiredRevision", "helm", "kustomize", "repoURL",
                                   "updateTargetRevision"}, {"repoURL"})
            if not isinstance(src, dict):
                continue
            if not _nonempty(src.get("repoURL")):
                out.append(f"{sw}.repoURL: must be a non-empty string")
            if src.get("updateTargetRevision") and not _nonempty(src.get("desiredRevision")):
                out.append(f"{sw}: updateTargetRevision needs desiredRevision")
            helm = src.get("helm")
            if helm is None:
                continue
            out += _only(helm, f"{sw}.helm", {"images"}, {"images"})
            images = helm.get("images") if isinstance(helm, dict) else None
            if not isinstance(images, list) or not images:
                out.append(f"{sw}.helm.images: must be a non-empty array")
                continue
            for k, image in enumerate(images):
                iw = f"{sw}.helm.images.{k}"
                out += _only(image, iw, {"key", "value"}, {"key", "value"})
                if isinstance(image, dict) and not (_nonempty(image.get("key")) and
                                                    isinstance(image.get("value"), str)):
                    out.append(f"{iw}: key must be a non-empty string and value a string")
    return out


def fail_problems(config: Any) -> list[str]:
    out = _only(config or {}, "(root)", {"message"})
    if isinstance(config, dict) and "message" in config and not _nonempty(config["message"]):
        out.append("message: must be a non-empty string")
    return out


CHECKS: dict[str, Callable[[Any], list[str]]] = {"argocd-update": argocd_update_problems, "fail": fail_problems}


class KargoSim(ManagementController):
    def __init__(self, store: Store, tags: Callable[[str], list[tuple[str, str, float]]],
                 ready: Callable[[], bool], now: Callable[[], datetime] = sim_now,
                 management_ready: Callable[[], bool] = lambda: True) -> None:
        """`tags(repository path)`: the registry's (tag, digest, pushed-at) for a repository."""
        self.store = store
        self.tags = tags
        self.ready = ready
        self.management_ready = management_ready
        self.now = now
        self.lock = threading.RLock()
        self._queued = False
        store.on_change.append(self._on_change)

    def _on_change(self, etype: str, kind: Kind, obj: Obj) -> None:
        ours = kind.group == GROUP and kind.plural in ("warehouses", "stages", "projectconfigs", "promotions",
                                                        "freights")
        controller = kind.group == "apps" and (obj.get("metadata") or {}).get("name") in (
            "kargo-controller", "kargo-management-controller")
        if (ours and etype != "DELETED") or controller:
            self.poke()
        managed = (kind.group == GROUP and kind.plural == "projects") or kind.plural == "serviceaccounts"
        if (managed and etype != "DELETED") or controller:
            self.store.scheduler.after(0.1, self.manage_projects, at_least=0.05)

    def poke(self, delay: float = 0.2) -> None:
        """Reconcile soon (once, however many events asked)."""
        with self.lock:
            if self._queued:
                return
            self._queued = True
        self.store.scheduler.after(delay, self.reconcile)

    def reconcile(self) -> None:
        with self.lock:
            self._queued = False
        if not self.ready() or self.kind("warehouses") is None:
            return
        try:
            self.discover()
            self.auto_promote()
            self.run_promotions()
        except Exception:  # a controller logs and retries; the world must not stop
            self.store.scheduler.after(2.0, self.poke)

    def objects(self, plural: str, ns: str | None = None) -> list[Obj]:
        kind = self.kind(plural)
        if kind is None:
            return []
        with self.store.lock:
            return [o for (n, _), o in sorted(self.store.objects[kind.key].items())
                    if (ns is None or n == ns) and not o["metadata"].get("deletionTimestamp")]

    # -- Warehouses ---------------------------------------------------------------------------------------
    def discover(self) -> None:
        for wh in self.objects("warehouses"):
            ns, name = wh["metadata"]["namespace"], wh["metadata"]["name"]
            images = []
            for sub in (wh.get("spec") or {}).get("subscriptions") or []:
                image = sub.get("image") or {}
                found = self.select(image)
                if found is None:
                    break
                images.append(found)
            else:
                if images:
                    self.make_freight(ns, name, images)

    def select(self, sub: dict) -> dict | None:
        repo = sub.get("repoURL", "")
        path = repo.split("/", 1)[1] if "/" in repo else repo  # the registry host resolves to the registry
        allow = [re.compile(r) for r in sub.get("allowTagsRegexes") or []]
        ignore = set(sub.get("ignoreTags") or [])
        candidates = [(tag, digest, at) for tag, digest, at in self.tags(path)
                      if tag not in ignore and (not allow or any(r.search(tag) for r in allow))]
        if not candidates:
            return None
        strategy = sub.get("imageSelectionStrategy") or "SemVer"
        if strategy == "NewestBuild":
            tag, digest, _ = max(candidates, key=lambda c: c[2])
        elif strategy == "Lexical":
            tag, digest, _ = max(candidates, key=lambda c: c[0])
        else:
            return None  # SemVer/Digest: not what the install writes; not simulated
        return {"repoURL": repo, "tag": tag, "digest": digest}

    def make_freight(self, ns: str, warehouse: str, images: list[dict]) -> None:
        kind = self.kind("freights")
        if kind is None:
            return
        name = freight_id(f"Warehouse/{warehouse}", images)
        if self.store.find(kind, ns, name) is not None:
            return
        alias = f"sim-{name[:6]}"
        self.store.create(kind, ns, {
            "apiVersion": f"{GROUP}/{VERSION}", "kind": "Freight",
            "metadata": {"name": name, "namespace": ns, "labels": {"kargo.akuity.io/alias": alias}},
            "alias": alias, "origin": {"kind": "Warehouse", "name": warehouse}, "images": images,
            "discoveredAt": now_rfc3339()}, manager="kargo-controller")

    # -- promotion policy -----------------------------------------------------------------------------------
    def eligible(self, stage: Obj) -> list[Obj]:
        ns = stage["metadata"]["namespace"]
        out = []
        for req in (stage.get("spec") or {}).get("requestedFreight") or []:
            origin = req.get("origin") or {}
            sources = req.get("sources") or {}
            for f in self.objects("freights", ns):
                if (f.get("origin") or {}).get("name") != origin.get("name"):
                    continue
                verified = ((f.get("status") or {}).get("verifiedIn") or {})
                if sources.get("direct") or any(s in verified for s in sources.get("stages") or []):
                    out.append(f)
        return sorted(out, key=lambda f: f["metadata"].get("creationTimestamp", ""))

    def auto_promote(self) -> None:
        for pc in self.objects("projectconfigs"):
            ns = pc["metadata"]["namespace"]
            for policy in (pc.get("spec") or {}).get("promotionPolicies") or []:
                if not policy.get("autoPromotionEnabled"):
                    continue
                selector = policy.get("stageSelector") or {}
                for stage in self.objects("stages", ns):
                    if selector.get("name") and stage["metadata"]["name"] != selector["name"]:
                        continue
                    freight = self.eligible(stage)
                    if freight:
                        self.promote(stage, freight[-1], actor="kargo-controller")

    def promote(self, stage: Obj, freight: Obj, actor: str) -> str | None:
        """A Promotion of `freight` into `stage`, made as Kargo makes one (steps from the stage's template);
        None when one for the same Freight exists already."""
        kind = self.kind("promotions")
        ns, sname, fname = stage["metadata"]["namespace"], stage["metadata"]["name"], freight["metadata"]["name"]
        for p in self.objects("promotions", ns):
            if (p.get("spec") or {}).get("stage") == sname and p["spec"].get("freight") == fname:
                return None
        steps = (((stage.get("spec") or {}).get("promotionTemplate") or {}).get("spec") or {}).get("steps") or []
        name = f"{sname}.{int(self.now().timestamp() * 1000):x}.{fname[:7]}"
        self.store.create(kind, ns, {  # type: ignore[arg-type]
            "apiVersion": f"{GROUP}/{VERSION}", "kind": "Promotion",
            "metadata": {"name": name, "namespace": ns, "annotations": {"kargo.akuity.io/create-actor": actor}},
            "spec": {"stage": sname, "freight": fname, "steps": steps}}, manager="kargo-controller")
        return name

    # -- Promotions -----------------------------------------------------------------------------------------
    def run_promotions(self) -> None:
        for promo in self.objects("promotions"):
            if not (promo.get("status") or {}).get("phase"):
                self.run(promo)

    def run(self, promo: Obj) -> None:
        kind = self.kind("promotions")
        ns, name = promo["metadata"]["namespace"], promo["metadata"]["name"]
        spec = promo.get("spec") or {}
        freight = self.store.find(self.kind("freights"), ns, spec.get("freight", ""))  # type: ignore[arg-type]
        stage = self.store.find(self.kind("stages"), ns, spec.get("stage", ""))  # type: ignore[arg-type]
        status: dict[str, Any] = {"phase": "Running", "startedAt": now_rfc3339(), "stepExecutionMetadata": []}
        if freight is not None:
            status["freight"] = {"name": freight["metadata"]["name"], "origin": freight.get("origin"),
                                 "images": freight.get("images") or []}
        self.store.update_status(kind, ns, name, dict(status))  # type: ignore[arg-type]
        if freight is None or stage is None:
            return self.finish(promo, status, "Errored", "Freight or Stage not found")
        evaluator = Evaluator(self.now, {
            "configMap": lambda cm: self.configmap(ns, cm),
            "imageFrom": lambda repo, *_: self.image_from(freight, repo)})
        self.next_step(promo, status, freight, evaluator, 0)

    def next_step(self, promo: Obj, status: dict, freight: Obj, evaluator: Evaluator, index: int) -> None:
        steps = promo["spec"].get("steps") or []
        if index >= len(steps):
            return self.finish(promo, status, "Succeeded", "All steps completed", freight)
        step = steps[index]
        alias = step.get("as") or f"step-{index}"
        meta = {"alias": alias, "startedAt": now_rfc3339()}
        status["stepExecutionMetadata"].append(meta)
        status["currentStep"] = index
        try:
            if step.get("if"):
                decided = evaluate_template(step["if"], evaluator)
                if not isinstance(decided, bool):
                    raise ExprError(f"expression must evaluate to a boolean, got {type(decided).__name__}")
                if not decided:
                    meta.update(status="Skipped", finishedAt=now_rfc3339())
                    return self.next_step(promo, status, freight, evaluator, index + 1)
            config = _evaluate_config(step.get("config") or {}, evaluator)
        except (ExprError, TypeError, ValueError, KeyError) as exc:
            meta.update(status="Errored", message=str(exc))
            return self.finish(promo, status, "Errored", f'step "{alias}" errored: {exc}')
        uses = step.get("uses", "")
        check = CHECKS.get(uses)
        if check is None:
            meta.update(status="Errored")
            return self.finish(promo, status, "Errored", f"step {uses!r} is not simulated")
        problems = check(config)
        if problems:
            meta.update(status="Failed")
            return self.finish(promo, status, "Failed", f"invalid {uses} config: {'; '.join(problems)}")
        if uses == "fail":
            message = "failed" + (f": {config['message']}" if config.get("message") else "")
            meta.update(status="Failed", message=message, finishedAt=now_rfc3339())
            return self.finish(promo, status, "Failed", f'step "{alias}" failed: {message}')
        error = self.argocd_update(promo["metadata"]["namespace"], promo["spec"]["stage"], config)
        if error:
            meta.update(status="Errored", message=error)
            return self.finish(promo, status, "Errored", error)
        self.wait_synced(promo, status, freight, evaluator, index, config, tries=0)

    def wait_synced(self, promo: Obj, status: dict, freight: Obj, evaluator: Evaluator, index: int, config: dict,
                    tries: int) -> None:
        """argocd-update returns Running until each Application has synced what it asked (Argo CD's status)."""
        apps = self.store.kinds.get(("argoproj.io", "v1alpha1", "applications"))
        synced = apps is not None
        for app in config.get("apps") or []:
            live = self.store.find(apps, app.get("namespace") or "argocd", app["name"]) if apps else None
            want = [{"name": i["key"], "value": i["value"]} for src in app.get("sources") or []
                    for i in ((src.get("helm") or {}).get("images") or [])]
            st = (live or {}).get("status") or {}
            got = ((((st.get("sync") or {}).get("comparedTo") or {}).get("source") or {}).get("helm") or {}).get(
                "parameters") or []
            if (st.get("sync") or {}).get("status") != "Synced" or (st.get("health") or {}).get("status") != \
                    "Healthy" or any(w not in got for w in want):
                synced = False
        meta = status["stepExecutionMetadata"][-1]
        if synced:
            meta.update(status="Succeeded", finishedAt=now_rfc3339())
            return self.next_step(promo, status, freight, evaluator, index + 1)
        if tries > 120:
            meta.update(status="Errored")
            return self.finish(promo, status, "Errored", "Argo CD did not sync the Application in time")
        self.store.scheduler.after(0.5, lambda: self.wait_synced(promo, status, freight, evaluator, index, config,
                                                                 tries + 1), at_least=0.05)

    def argocd_update(self, ns: str, stage: str, config: dict) -> str | None:
        apps = self.store.kinds.get(("argoproj.io", "v1alpha1", "applications"))
        for app in config.get("apps") or []:
            app_ns = app.get("namespace") or "argocd"
            live = self.store.find(apps, app_ns, app["name"]) if apps else None
            if live is None:
                return f'unable to find Argo CD Application "{app["name"]}" in namespace "{app_ns}"'
            if (live["metadata"].get("annotations") or {}).get(AUTHORIZED) != f"{ns}:{stage}":
                return f'Argo CD Application "{app["name"]}" in namespace "{app_ns}" is not authorized'

            def update(obj: Obj, app: dict = app) -> None:
                source = obj["spec"].get("source") or {}
                for src in app.get("sources") or []:
                    if normalize_git(source.get("repoURL", "")) != normalize_git(src["repoURL"]):
                        continue  # not applicable to this source: Kargo changes nothing
                    params = source.setdefault("helm", {}).setdefault("parameters", [])
                    for image in (src.get("helm") or {}).get("images") or []:
                        new = {"name": image["key"], "value": image["value"]}
                        for i, p in enumerate(params):
                            if p.get("name") == image["key"]:
                                params[i] = new
                                break
                        else:
                            params.append(new)
                obj["spec"]["source"] = source
                obj["operation"] = {"initiatedBy": {"username": "kargo-controller"}, "sync": {}}
            self.store.mutate(apps, app_ns, app["name"], update)
        return None

    def finish(self, promo: Obj, status: dict, phase: str, message: str, freight: Obj | None = None) -> None:
        kind = self.kind("promotions")
        ns, name = promo["metadata"]["namespace"], promo["metadata"]["name"]
        status.update(phase=phase, message=message, finishedAt=now_rfc3339())
        status.pop("currentStep", None)
        self.store.update_status(kind, ns, name, dict(status))  # type: ignore[arg-type]
        stage_kind = self.kind("stages")
        stage = self.store.find(stage_kind, ns, promo["spec"].get("stage", ""))  # type: ignore[arg-type]
        if stage is None:
            return
        st = dict(stage.get("status") or {})
        st["lastPromotion"] = {"name": name, "finishedAt": status["finishedAt"], "freight": status.get("freight"),
                               "status": {"phase": phase, "message": message}}
        if phase == "Succeeded" and freight is not None:
            st["freightHistory"] = [{"items": {f"Warehouse/{freight['origin']['name']}": status["freight"]}},
                                    *(st.get("freightHistory") or [])][:10]
            st["health"] = {"status": "Healthy"}
            sname = stage["metadata"]["name"]
            # No verification configured: the Freight counts as verified in the stage once it is there.
            if not (stage.get("spec") or {}).get("verification"):
                fkind = self.kind("freights")

                def verified(f: Obj) -> None:
                    fs = f.setdefault("status", {})
                    fs.setdefault("verifiedIn", {})[sname] = {"verifiedAt": now_rfc3339()}
                    fs.setdefault("currentlyIn", {})[sname] = {"since": now_rfc3339()}
                self.store.mutate(fkind, ns, freight["metadata"]["name"], verified)  # type: ignore[arg-type]
        self.store.update_status(stage_kind, ns, stage["metadata"]["name"], st)  # type: ignore[arg-type]
        self.poke()

    # -- expression functions -----------------------------------------------------------------------------
    def configmap(self, ns: str, name: str) -> dict[str, str]:
        kind = self.store.kinds.get(("", "v1", "configmaps"))
        obj = self.store.find(kind, ns, name) if kind else None
        return dict((obj or {}).get("data") or {})  # a missing ConfigMap is an empty map, as in Kargo

    @staticmethod
    def image_from(freight: Obj, repo: str) -> Any:
        for image in freight.get("images") or []:
            if normalize_image(image["repoURL"]) == normalize_image(repo):
                return _Image(image)
        return None


class _Image:
    """kargoapi.Image as expressions see it (exported Go field names)."""

    def __init__(self, image: dict) -> None:
        self.RepoURL = image.get("repoURL", "")
        self.Tag = image.get("tag", "")
        self.Digest = image.get("digest", "")


def _evaluate_config(node: Any, evaluator: Evaluator) -> Any:
    """EvaluateJSONTemplate: every string of the config evaluated as a template."""
    if isinstance(node, dict):
        return {k: _evaluate_config(v, evaluator) for k, v in node.items()}
    if isinstance(node, list):
        return [_evaluate_config(v, evaluator) for v in node]
    if isinstance(node, str):
        return evaluate_template(node, evaluator)
    return node
