"""Settings: every operator-facing value of the migration, in one frozen dataclass.

Defaults are the design document's values, corrected where ../shared/FACTS.md says the design is wrong
(Gitea's Service is `gitea-service`, `admin` is a reserved Gitea user name, ARC lives in `arc-systems`...).
Secrets are never fields here: they live in the keyring.

Loaded from a YAML answers file, then overridden by `STONKS_<FIELD>` environment variables.
`validate()` returns every field error at once so the operator can fix them in one go.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import stat
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from stonks_tui.errors import UsageError

# Keys that look like they hold a secret. Such values belong in the keyring, never in an answers file.
_SECRET_KEY = re.compile(r"(passw|secret|token|passphrase|private_key|api_key|credential)", re.IGNORECASE)

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_HOST_LABEL = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$")
# The chart references helm takes as one argv word: an OCI reference, repo/chart, or a packaged chart's URL.
_CHART_REF = re.compile(r"^(oci://[A-Za-z0-9.-]+(:[0-9]+)?(/[A-Za-z0-9._-]+)+"
                        r"|[a-z0-9][a-z0-9-]*/[a-z0-9][a-z0-9-]*"
                        r"|https?://[A-Za-z0-9.-]+(:[0-9]+)?(/[A-Za-z0-9._~-]+)*/[A-Za-z0-9._-]+\.tgz)$")
_CHART_VERSION = re.compile(r"^v?[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$")
# Gitea: user and repo names are alphanumerics, dash, underscore, dot; not starting/ending with a dot or dash.
_GITEA_NAME = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$")
# Gitea 1.27's own rules, read in its source (modules/validation/helpers.go, models/user, models/repo,
# services/forms): what its install form, `gitea admin user create` and the repository API would refuse is refused
# here before anything runs, not met as a failed step mid-install.
_GITEA_USER = re.compile(r"^[0-9A-Za-z][-.\w]*$", re.ASCII)
_GITEA_USER_BAD = re.compile(r"[-._]{2,}|[-._]$")
GITEA_RESERVED_USER_PATTERNS = (".keys", ".gpg", ".rss", ".atom", ".png")
GITEA_ADMIN_NAME_MAX = 30  # the install form's AdminName: MaxSize(30)
GITEA_EMAIL_MAX = 254
_GITEA_EMAIL = re.compile(r"^[a-zA-Z0-9.!#$%&'*+\-/=?^_`{|}~]*@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
                          r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$")
GITEA_RESERVED_REPO_SUFFIXES = (".wiki", ".git", ".rss", ".atom")
# An image repository path (the distribution spec): lower-case components joined by '.', '_', '__' or '-'s.
_IMAGE_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
# helm 3.21's OCI references are parsed by oras-go v2 (registry/reference.go): the repository path must be lower
# case with single separators, the chart version becomes the tag ('+' written as '_': helm's pkg/registry).
_OCI_REPOSITORY = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*)*$")
_OCI_TAG = re.compile(r"^\w[\w.-]{0,127}$", re.ASCII)
# Woodpecker 3.16's Kubernetes backend labels every step pod with the repository's name and owner/name
# (pipeline/frontend/builder: woodpecker-ci.org/repo-name, …/repo-full-name), made a DNS name by toDNSName
# (pipeline/backend/kubernetes/utils.go: lower-cased, '_' and ' ' to '-', other characters dropped) and refused when
# the result is not one; the API server refuses a label value over 63 characters. Either way no step pod starts.
_WOODPECKER_DNS = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def woodpecker_pod_label(value: str) -> str:
    """`value` as Woodpecker's Kubernetes backend writes it into a step pod's label (its toDNSName)."""
    return re.sub(r"[^-^.a-z0-9]+", "", value.lower().replace("_", "-").replace(" ", "-"))


def woodpecker_label_problem(value: str) -> str:
    """Why a step pod labelled with `value` would not start under Woodpecker's Kubernetes backend, or ''."""
    label = woodpecker_pod_label(value)
    if not _WOODPECKER_DNS.match(label):
        return (f"becomes {label!r} in Woodpecker's step pod labels, which its Kubernetes backend refuses (it must "
                "start and end with a letter or digit, with no '-' or '.' beside a '.'): no pipeline step would "
                "start")
    if len(label) > 63:
        return (f"becomes a {len(label)}-character label of Woodpecker's step pods ({label!r}); Kubernetes takes "
                "at most 63: no pipeline step would start")
    return ""


def gitea_user_problem(name: str, *, admin: bool = False) -> str:
    """Why Gitea would refuse `name` as a user (or organisation) name, or ''."""
    lowered = name.lower()
    if lowered in GITEA_RESERVED_USERS or lowered.endswith(GITEA_RESERVED_USER_PATTERNS):
        return "is reserved by Gitea and cannot be a user name: choose another, e.g. gitea_admin"
    if not _GITEA_USER.match(name) or _GITEA_USER_BAD.search(name):
        return ("is not a name Gitea takes: letters, digits, '-', '_' and '.', starting with a letter or digit, "
                "no two of '-', '_', '.' in a row and none at the end")
    limit = GITEA_ADMIN_NAME_MAX if admin else 40
    if len(name) > limit:
        return f"is {len(name)} characters: Gitea takes at most {limit}" + (" (its install form)" if admin else "")
    return ""
# Names Gitea refuses for users (models/user: reservedUsernames) — the ones an operator might plausibly pick.
GITEA_RESERVED_USERS = frozenset(
    {
        "admin", "api", "assets", "attachments", "avatar", "avatars", "captcha", "commits", "debug", "error",
        "explore", "favicon.ico", "ghost", "issues", "login", "manifest.json", "metrics", "milestones", "new",
        "notifications", "org", "pulls", "raw", "repo", "repo-avatars", "robots.txt", "search", "serviceworker.js",
        "ssh_info", "swagger.v1.json", "user", "v2", "gitea-actions", ".", "..", ".well-known", "sitemap.xml",
        "openapi3.v1.json",
    }
)
_MAX_VALUE_LEN = 1024
ANSWERS_MAX_BYTES = 256 * 1024

RBAC_MODES = ("cluster-admin", "namespaced")
RWX_MODES = ("auto", "true", "false")
GITEA_DB_TYPES = ("sqlite3", "postgres", "mysql")


def _meta(group: str, help: str) -> dict[str, Any]:
    return {"group": group, "help": help}


@dataclass(frozen=True)
class Settings:
    # --- domains and hosts -------------------------------------------------------------------------------
    woodpecker_host: str = field(default="stonks-ci.celestium.life",
                                 metadata=_meta("domains", "Public host of the Woodpecker dashboard"))
    argocd_host: str = field(default="stonks-argocd.celestium.life",
                             metadata=_meta("domains", "Public host of the Argo CD UI"))
    woodpecker_url: str = field(default="",
                                metadata=_meta("domains", "URL this tool reaches Woodpecker at; empty = https://<host>"))
    argocd_url: str = field(default="",
                            metadata=_meta("domains", "URL this tool reaches Argo CD at; empty = https://<host>"))
    ingress_class: str = field(default="traefik", metadata=_meta("domains", "IngressClass for every ingress"))
    cluster_issuer: str = field(default="ca-issuer",
                                metadata=_meta("domains", "cert-manager ClusterIssuer for ingress TLS"))
    # --- Gitea --------------------------------------------------------------------------------------------
    gitea_public_url: str = field(
        default="",
        metadata=_meta("gitea", "URL a browser reaches Gitea at, e.g. http://<node-ip>:30300 (OAuth login)"))
    gitea_internal_url: str = field(
        default="http://gitea-service.git-server.svc.cluster.local:3000",
        metadata=_meta("gitea", "In-cluster URL of Gitea (used by Woodpecker and Argo CD)"))
    gitea_api_url: str = field(
        default="",
        metadata=_meta("gitea", "URL this tool talks to Gitea at; empty = gitea_public_url"))
    gitea_namespace: str = field(default="git-server", metadata=_meta("gitea", "Namespace Gitea runs in"))
    gitea_service: str = field(default="gitea-service", metadata=_meta("gitea", "Gitea's HTTP Service name"))
    gitea_ssh_nodeport: int = field(default=30022, metadata=_meta("gitea", "Gitea SSH NodePort"))
    gitea_admin_user: str = field(default="gitea_admin",
                                  metadata=_meta("gitea", "Gitea admin user (not 'admin': Gitea reserves it)"))
    gitea_admin_email: str = field(default="gitea_admin@celestium.life",
                                   metadata=_meta("gitea", "Gitea admin e-mail"))
    gitea_db_type: str = field(default="sqlite3", metadata=_meta("gitea", "Database the install form sets up"))
    gitea_db_path: str = field(default="/data/gitea/gitea.db", metadata=_meta("gitea", "SQLite file path"))
    gitea_db_host: str = field(default="", metadata=_meta("gitea", "postgres/mysql host:port (the chart's DB)"))
    gitea_db_name: str = field(default="gitea", metadata=_meta("gitea", "postgres/mysql database name"))
    gitea_db_user: str = field(default="gitea", metadata=_meta("gitea", "postgres/mysql user (its password: keyring)"))
    gitea_ca_bundle: str = field(default="", metadata=_meta("gitea", "CA bundle for Gitea's TLS (optional)"))
    gitea_verify_tls: bool = field(default=True, metadata=_meta("gitea", "Verify Gitea's TLS certificate"))
    repo_owner: str = field(default="", metadata=_meta("gitea", "Owner of the repo; empty = the admin user"))
    repo_name: str = field(default="stonks-oracle", metadata=_meta("gitea", "Repository name on Gitea"))
    repo_private: bool = field(default=True, metadata=_meta("gitea", "Create the repository private"))
    local_clone: str = field(default="~/sources/stonks-oracle",
                             metadata=_meta("gitea", "The operator's local clone to push and migrate"))
    github_mirror_url: str = field(default="git@github.com:celesrenata/stonks-oracle.git",
                                   metadata=_meta("gitea", "GitHub repo the pipeline mirrors to (read-only)"))
    # --- registry -----------------------------------------------------------------------------------------
    registry_host: str = field(default="registry.celestium.life",
                               metadata=_meta("registry", "Registry host used in image references"))
    registry_url: str = field(default="https://registry.celestium.life",
                              metadata=_meta("registry", "Registry URL probed for /v2/"))
    registry_project: str = field(default="stonks-oracle", metadata=_meta("registry", "Image path prefix"))
    registry_insecure: bool = field(
        default=False, metadata=_meta("registry", "Registry speaks plain HTTP, no TLS (buildkit's http = true; Kargo "
                                                  "reaches plain HTTP only at an IP or localhost)"))
    registry_skip_tls_verify: bool = field(
        default=False, metadata=_meta("registry", "Registry's TLS certificate is not verified (a private CA): "
                                                  "buildkit and Kargo's Warehouse skip the check"))
    # --- NFS ----------------------------------------------------------------------------------------------
    nfs_server: str = field(default="192.168.42.8", metadata=_meta("nfs", "NFS server host or IP"))
    nfs_port: int = field(default=2049, metadata=_meta("nfs", "NFS TCP port preflight probes"))
    nfs_storage_class: str = field(default="nfs", metadata=_meta("nfs", "storageClassName of the NFS PVs"))
    nfs_path_argocd: str = field(default="/volume1/Kubernetes/pipelines/argocd",
                                 metadata=_meta("nfs", "NFS export for Argo CD"))
    nfs_path_kargo: str = field(default="/volume1/Kubernetes/pipelines/kargo",
                                metadata=_meta("nfs", "NFS export for Kargo"))
    nfs_path_woodpecker: str = field(default="/volume1/Kubernetes/pipelines/woodpecker",
                                     metadata=_meta("nfs", "NFS export for Woodpecker"))
    nfs_size_argocd: str = field(default="5Gi", metadata=_meta("nfs", "Capacity of the Argo CD PV"))
    nfs_size_kargo: str = field(default="2Gi", metadata=_meta("nfs", "Capacity of the Kargo PV"))
    nfs_size_woodpecker: str = field(default="5Gi", metadata=_meta("nfs", "Capacity of the Woodpecker PV"))
    # --- namespaces ---------------------------------------------------------------------------------------
    woodpecker_namespace: str = field(default="woodpecker", metadata=_meta("namespaces", "Woodpecker namespace"))
    argocd_namespace: str = field(default="argocd", metadata=_meta("namespaces", "Argo CD namespace"))
    kargo_namespace: str = field(default="kargo", metadata=_meta("namespaces", "Kargo namespace"))
    beta_namespace: str = field(default="stonks-beta", metadata=_meta("namespaces", "Beta stage namespace"))
    paper_namespace: str = field(default="stonks-paper", metadata=_meta("namespaces", "Paper stage namespace"))
    live_namespace: str = field(default="stonks-oracle", metadata=_meta("namespaces", "Live namespace (kept)"))
    # --- charts -------------------------------------------------------------------------------------------
    woodpecker_chart: str = field(default="oci://ghcr.io/woodpecker-ci/helm/woodpecker",
                                  metadata=_meta("charts", "Woodpecker chart reference"))
    woodpecker_chart_version: str = field(default="3.6.5", metadata=_meta("charts", "Woodpecker chart version"))
    woodpecker_release: str = field(default="woodpecker",
                                    metadata=_meta("charts", "Woodpecker release (must be 'woodpecker')"))
    argocd_chart_repo: str = field(default="https://argoproj.github.io/argo-helm",
                                   metadata=_meta("charts", "Argo CD chart repository"))
    argocd_chart: str = field(default="argo/argo-cd", metadata=_meta("charts", "Argo CD chart"))
    argocd_chart_version: str = field(default="7.9.1", metadata=_meta("charts", "Argo CD chart version"))
    argocd_release: str = field(default="argocd", metadata=_meta("charts", "Argo CD release name"))
    kargo_chart: str = field(default="oci://ghcr.io/akuity/kargo-charts/kargo",
                             metadata=_meta("charts", "Kargo chart reference"))
    kargo_chart_version: str = field(default="1.11.0", metadata=_meta("charts", "Kargo chart version"))
    kargo_release: str = field(default="kargo", metadata=_meta("charts", "Kargo release name"))
    kargo_project: str = field(default="stonks-oracle",
                               metadata=_meta("charts", "Kargo project (its namespace holds the Freight)"))
    helm_timeout: str = field(default="10m", metadata=_meta("charts", "helm --timeout for each release"))
    # --- Woodpecker and RBAC ------------------------------------------------------------------------------
    woodpecker_agent_replicas: int = field(default=2, metadata=_meta("rbac", "Woodpecker agent replicas"))
    woodpecker_storage_class: str = field(
        default="", metadata=_meta("rbac", "Storage class for pipeline volumes; empty = cluster default"))
    woodpecker_storage_rwx: str = field(
        default="auto", metadata=_meta("rbac", "Pipeline volumes RWX: auto (from the class), true, false"))
    rbac_mode: str = field(
        default="cluster-admin",
        metadata=_meta("rbac", "Agent RBAC: cluster-admin (the design) or namespaced (least privilege)"))

    # ------------------------------------------------------------------------------------------------------
    @property
    def effective_repo_owner(self) -> str:
        return self.repo_owner or self.gitea_admin_user

    @property
    def effective_gitea_api_url(self) -> str:
        return self.gitea_api_url or self.gitea_public_url

    @property
    def gitea_repo_url(self) -> str:
        """The exact in-cluster clone URL (Argo CD does not follow redirects)."""
        return f"{self.gitea_internal_url.rstrip('/')}/{self.effective_repo_owner}/{self.repo_name}.git"

    @property
    def effective_woodpecker_url(self) -> str:
        return self.woodpecker_url or f"https://{self.woodpecker_host}"

    @property
    def effective_argocd_url(self) -> str:
        return self.argocd_url or f"https://{self.argocd_host}"

    @property
    def nfs_paths(self) -> dict[str, str]:
        return {"argocd": self.nfs_path_argocd, "kargo": self.nfs_path_kargo,
                "woodpecker": self.nfs_path_woodpecker}

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def validate(self) -> list[FieldError]:
        return validate(self)


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Settings))
_FIELD_TYPES: dict[str, type] = {f.name: type(f.default) for f in fields(Settings)}


# ---------------------------------------------------------------------------------------------------------
# Loading


def _coerce(name: str, value: Any, source: str) -> Any:
    """Turn a raw value (YAML scalar or env string) into the field's type, or raise a UsageError naming it."""
    want = _FIELD_TYPES[name]
    if want is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "yes", "1", "on"):
            return True
        if isinstance(value, str) and value.strip().lower() in ("false", "no", "0", "off"):
            return False
        raise UsageError(f"{name}: expected true or false, got {value!r} ({source})",
                         hint=f"set {name} to true or false")
    if want is int:
        # Digits 0-9 as people write them, at most 12 of them: int() would also take `2_049`, non-ASCII digits
        # and thousands of digits (a YAML integer that long cannot even be printed back).
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 10**12:
            return value
        shown = "a number too long to show" if isinstance(value, int) and not isinstance(value, bool) else \
            repr(str(value)[:60])
        if isinstance(value, str) and re.fullmatch(r"[+-]?[0-9]{1,12}", value.strip()):
            return int(value.strip())
        raise UsageError(f"{name}: expected a whole number written with the digits 0-9 (at most 12), got {shown} "
                         f"({source})", hint=f"set {name} to a number such as 2049") from None
    if isinstance(value, (dict, list)):
        raise UsageError(f"{name}: expected a plain value, got a {type(value).__name__} ({source})",
                         hint=f"write {name}: <value> on one line")
    if value is None:
        return ""
    text = str(value)
    if len(text) > _MAX_VALUE_LEN:
        raise UsageError(f"{name}: value is {len(text)} characters long, the limit is {_MAX_VALUE_LEN} ({source})")
    if any(ord(c) < 32 or 0x7f <= ord(c) <= 0x9f for c in text):
        raise UsageError(f"{name}: value contains control characters ({source})",
                         hint="remove newlines and other control characters from the value")
    return text


def _secret_key_refusal(key: str, source: str) -> UsageError:
    return UsageError(
        f"{key}: looks like a secret and is not accepted in {source}",
        hint="secrets live in the keyring: enter it in the wizard, or pass it once as an environment "
             "variable (e.g. STONKS_GITEA_ADMIN_PASSWORD) and it will be stored there",
    )


def read_answers(path: Path) -> dict[str, Any]:
    """Read an answers file into {field: value}; unknown or secret-looking keys are errors naming the key."""
    try:
        # A regular file only, read non-blocking and bounded: a FIFO would hang the read, /dev/zero never end it.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise UsageError(f"answers file {path} is not a regular file (a pipe, a device or a directory)",
                                 hint="give the path of a YAML file")
            with os.fdopen(os.dup(fd), "rb") as fh:
                raw = fh.read(ANSWERS_MAX_BYTES + 1)
        finally:
            os.close(fd)
        if len(raw) > ANSWERS_MAX_BYTES:
            raise UsageError(f"answers file {path} is larger than an answers file may be: at most "
                             f"{ANSWERS_MAX_BYTES // 1024} KiB", hint="it holds one setting: value per line")
    except FileNotFoundError:
        raise UsageError(f"answers file {path} does not exist", hint="check the --answers path") from None
    except OSError as exc:
        raise UsageError(f"answers file {path} cannot be read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"answers file {path} is not UTF-8 text (byte {exc.start})",
                         hint="save the file as UTF-8") from None
    try:
        data = yaml.safe_load(text)
    except RecursionError:
        raise UsageError(f"answers file {path} nests too deeply", hint="it holds one setting: value per line") from None
    except ValueError:  # a YAML integer of thousands of digits (Python's int limit)
        raise UsageError(f"answers file {path} holds a number too long to read",
                         hint="numbers in settings have at most 12 digits") from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
        raise UsageError(f"answers file {path} is not valid YAML{at}",
                         hint="fix the YAML syntax (a key: value per line)") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"answers file {path} must be a mapping of setting: value, got a {type(data).__name__}")
    out: dict[str, Any] = {}
    problems: list[UsageError] = []
    for key, value in data.items():  # every problem in the file at once, not one per attempt
        key_s = str(key)
        try:
            if _SECRET_KEY.search(key_s):
                raise _secret_key_refusal(key_s, f"answers file {path}")
            if key_s in RETIRED:
                raise UsageError(f"{key_s}: retired setting in answers file {path}", hint=RETIRED[key_s])
            if key_s not in _FIELD_TYPES:
                import difflib

                close = difflib.get_close_matches(key_s.lower().replace("-", "_"), FIELD_NAMES, n=1, cutoff=0.8)
                hint = f"did you mean {close[0]}?" if close else "`stonks-tui settings` lists every setting"
                raise UsageError(f"{key_s}: unknown setting in answers file {path}", hint=hint)
            out[key_s] = _coerce(key_s, value, f"answers file {path}")
        except UsageError as exc:
            problems.append(exc)
    _raise_all(problems)
    return out


def _raise_all(problems: list[UsageError]) -> None:
    """One problem as itself; several as one error listing each with its hint."""
    if len(problems) == 1:
        raise problems[0]
    if problems:
        lines = "\n".join(f"  - {p.message}" + (f" — {p.hint}" if p.hint else "") for p in problems)
        error = UsageError(f"{len(problems)} settings need attention:\n{lines}",
                           hint="fix each of them; nothing was changed")
        error.problems = problems  # type: ignore[attr-defined]
        raise error


# Settings that no longer exist, with what replaced them: an answers file that sets one is refused with this hint
# (silently ignoring it would let the operator believe it still does something).
RETIRED = {
    "kargo_verification": "the market-hours check is no longer an Argo Rollouts verification (Kargo verifies after "
                          "a promotion, so it blocked nothing): it is a gate step in paper's and live's promotions "
                          "and needs no Argo Rollouts; delete the line",
}


def env_overrides(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """`STONKS_<FIELD>` variables override the answers file. Other STONKS_ variables are not settings."""
    environ = dict(os.environ if environ is None else environ)
    out: dict[str, Any] = {}
    problems: list[UsageError] = [UsageError(f"environment variable STONKS_{name.upper()}: retired setting",
                                             hint=f"unset it: {why}")
                                  for name, why in RETIRED.items() if f"STONKS_{name.upper()}" in environ]
    for name in FIELD_NAMES:
        var = f"STONKS_{name.upper()}"
        if var in environ:
            try:
                out[name] = _coerce(name, environ[var], f"environment variable {var}")
            except UsageError as exc:
                problems.append(exc)
    _raise_all(problems)
    return out


def load_settings(answers: Path | None = None, environ: dict[str, str] | None = None,
                  base: Settings | None = None) -> Settings:
    """The answers file, then STONKS_<FIELD> variables over it; a problem in either is reported with every other
    one in both (a file that cannot be read at all stops here)."""
    values: dict[str, Any] = {}
    problems: list[UsageError] = []
    for source in ((lambda: read_answers(answers)) if answers is not None else dict, lambda: env_overrides(environ)):
        try:
            values.update(source())
        except UsageError as exc:
            problems.extend(_split(exc))
    _raise_all(problems)
    return dataclasses.replace(base or Settings(), **values)


def _split(exc: UsageError) -> list[UsageError]:
    return list(getattr(exc, "problems", None) or [exc])


def save_answers(settings: Settings, path: Path) -> None:
    """Write every setting that differs from the default, atomically; the file never holds a secret."""
    defaults = Settings()
    changed = {k: v for k, v in settings.to_dict().items() if getattr(defaults, k) != v}
    body = "# stonks-tui answers file: settings that differ from the defaults. No secrets here (keyring).\n"
    body += yaml.safe_dump(changed, sort_keys=False, allow_unicode=True) if changed else "{}\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    from stonks_tui.fsutil import atomic_write_text

    atomic_write_text(path, body)


# ---------------------------------------------------------------------------------------------------------
# Validation


def _check_url(name: str, value: str, errors: list[FieldError], required: bool = True) -> None:
    if not value:
        if required:
            errors.append(FieldError(name, "required: a URL such as http://host:port"))
        return
    try:
        parts = urlsplit(value)
        parts.hostname  # noqa: B018 - raises ValueError on a malformed [IPv6] host
    except ValueError as exc:
        errors.append(FieldError(name, f"{value!r} is not a URL ({exc})"))
        return
    if parts.scheme not in ("http", "https"):
        errors.append(FieldError(name, f"{value!r} needs a scheme: write http://… or https://…"))
        return
    if "@" in parts.netloc:
        errors.append(FieldError(name, "must not carry a user name or password (user:pw@host): credentials live "
                                       "in the keyring, and this URL is written into cluster objects in clear"))
        return
    if not parts.hostname:
        errors.append(FieldError(name, f"{value!r} has no host"))
        return
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        errors.append(FieldError(name, f"{value!r} has an invalid port"))
        return
    if not _valid_host(parts.hostname):
        errors.append(FieldError(name, f"{parts.hostname!r} is not a valid host name or IP address"))
    if parts.query or parts.fragment:
        errors.append(FieldError(name, f"{value!r} must not have a query or fragment"))


def _valid_host(host: str) -> bool:
    if not host or len(host) > 253:
        return False
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    return all(_HOST_LABEL.match(label) and len(label) <= 63 for label in host.rstrip(".").split("."))


def _check_host(name: str, value: str, errors: list[FieldError]) -> None:
    if "://" in value:
        errors.append(FieldError(name, f"{value!r} is a host, not a URL: drop the scheme "
                                       f"(write {urlsplit(value).netloc or value.split('://', 1)[1]})"))
    elif not _valid_host(value.split(":", 1)[0] if value.count(":") == 1 else value):
        errors.append(FieldError(name, f"{value!r} is not a valid host name"))


def _check_ingress_host(name: str, value: str, errors: list[FieldError]) -> None:
    """An Ingress rule's host: a lower-case DNS name (a leading `*.` allowed), no port, not an IP (the API server's
    validation of networking.k8s.io/v1 Ingress)."""
    if "://" in value:
        errors.append(FieldError(name, f"{value!r} is a host, not a URL: drop the scheme "
                                       f"(write {urlsplit(value).netloc or value.split('://', 1)[1]})"))
        return
    if ":" in value:
        errors.append(FieldError(name, f"{value!r} is an Ingress host: write the name only, without a port"))
        return
    try:
        ipaddress.ip_address(value)
        errors.append(FieldError(name, f"{value!r} is an IP address: an Ingress host must be a DNS name"))
        return
    except ValueError:
        pass
    bare = value[2:] if value.startswith("*.") else value
    if not bare or len(value) > 253 or not _DNS1123_SUBDOMAIN.match(bare):
        hint = ", lower-case only" if bare.lower() != bare else ""
        errors.append(FieldError(name, f"{value!r} is not a valid host name for an Ingress (a DNS name{hint})"))


_MIRROR_URL = re.compile(r"^(?:git@(?P<h1>[A-Za-z0-9][A-Za-z0-9.-]*):|ssh://git@(?P<h2>[A-Za-z0-9][A-Za-z0-9.-]*)"
                         r"(?::[0-9]{1,5})?/)(?P<owner>[A-Za-z0-9_][A-Za-z0-9_.-]*)/(?P<repo>[A-Za-z0-9_][A-Za-z0-9_.-]*)$")


def mirror_host(url: str) -> str:
    m = _MIRROR_URL.match(url)
    return (m.group("h1") or m.group("h2")) if m else ""


def _check_label(name: str, value: str, errors: list[FieldError]) -> None:
    if not value or len(value) > 63 or not _DNS1123_LABEL.match(value):
        errors.append(FieldError(name, f"{value!r} is not a DNS-1123 label (lower-case letters, digits and '-', "
                                       "start and end alphanumeric, at most 63 characters)"))


def _check_subdomain(name: str, value: str, errors: list[FieldError]) -> None:
    if not value or len(value) > 253 or not _DNS1123_SUBDOMAIN.match(value):
        errors.append(FieldError(name, f"{value!r} is not a valid Kubernetes name (DNS-1123 subdomain)"))


# Namespaces a pipeline namespace may never be: the cluster's own and the ones other components of the design run
# in. Teardown deletes pipeline namespaces (only if the install made them, and never these).
SYSTEM_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease", "cert-manager",
                               "argo-rollouts", "longhorn-system", "metallb-system", "traefik", "arc-systems",
                               "arc-runners", "local-path-storage"})
HELM_RELEASE_MAX = 53  # helm refuses longer release names


def _timeout_seconds(value: str) -> int | None:
    m = re.fullmatch(r"([0-9]{1,6})(s|m|h)", value)
    return int(m.group(1)) * {"s": 1, "m": 60, "h": 3600}[m.group(2)] if m else None


def validate(s: Settings) -> list[FieldError]:
    errors: list[FieldError] = []
    for f in fields(s):
        value = getattr(s, f.name)
        if isinstance(value, str) and "${" in value:
            # Setting values are data: a placeholder would be filled from the keyring at apply time and land in
            # clear in whatever object the setting reaches (a PV's path, an Ingress host...).
            errors.append(FieldError(f.name, "must not contain '${': setting values are never expanded"))
    for name in ("woodpecker_host", "argocd_host"):
        _check_ingress_host(name, getattr(s, name), errors)
    _check_host("registry_host", s.registry_host, errors)
    _check_url("gitea_public_url", s.gitea_public_url, errors)
    _check_url("gitea_internal_url", s.gitea_internal_url, errors)
    _check_url("gitea_api_url", s.gitea_api_url, errors, required=False)
    _check_url("registry_url", s.registry_url, errors)
    if s.registry_insecure and s.registry_skip_tls_verify:
        errors.append(FieldError("registry_skip_tls_verify", "there is no TLS to verify with registry_insecure: "
                                                             "true (plain HTTP): set one of them"))
    _check_url("woodpecker_url", s.woodpecker_url, errors, required=False)
    _check_url("argocd_url", s.argocd_url, errors, required=False)
    if not 1 <= s.nfs_port <= 65535:
        errors.append(FieldError("nfs_port", f"{s.nfs_port} is not a port (1-65535)"))
    for name in ("ingress_class", "cluster_issuer", "nfs_storage_class"):
        _check_subdomain(name, getattr(s, name), errors)
    if s.woodpecker_storage_class:
        _check_subdomain("woodpecker_storage_class", s.woodpecker_storage_class, errors)
    for name in ("gitea_namespace", "gitea_service", "woodpecker_namespace", "argocd_namespace",
                 "kargo_namespace", "beta_namespace", "paper_namespace", "live_namespace",
                 "woodpecker_release", "argocd_release", "kargo_release", "kargo_project"):
        _check_label(name, getattr(s, name), errors)
    for name in ("woodpecker_release", "argocd_release", "kargo_release"):
        if len(getattr(s, name)) > HELM_RELEASE_MAX:
            errors.append(FieldError(name, f"is {len(getattr(s, name))} characters: helm allows at most "
                                           f"{HELM_RELEASE_MAX}"))
    for name in ("woodpecker_namespace", "argocd_namespace", "kargo_namespace", "beta_namespace",
                 "paper_namespace"):
        value = getattr(s, name)
        if value in SYSTEM_NAMESPACES or value.startswith("kube-"):
            errors.append(FieldError(name, f"{value!r} belongs to the cluster or another component: the install "
                                           "would adopt it and teardown would remove what it made there; choose "
                                           "a namespace of its own"))
    if s.woodpecker_release != "woodpecker":
        errors.append(FieldError("woodpecker_release", "must be 'woodpecker': the agent reaches the server as "
                                                       "woodpecker-server:9000, a name the chart derives from it"))
    # Pipeline namespaces must not be the ones this migration keeps (the design's namespace-isolation test).
    kept = {s.live_namespace: "live_namespace", s.gitea_namespace: "gitea_namespace"}
    for name in ("woodpecker_namespace", "argocd_namespace", "kargo_namespace", "beta_namespace", "paper_namespace"):
        value = getattr(s, name)
        if value in kept:
            errors.append(FieldError(name, f"{value!r} is also {kept[value]}: teardown deletes pipeline "
                                           "namespaces, so they must be distinct from the kept ones"))
    first_with: dict[str, str] = {}
    for name in ("woodpecker_namespace", "argocd_namespace", "kargo_namespace", "beta_namespace", "paper_namespace"):
        value = getattr(s, name)
        if value in first_with:
            errors.append(FieldError(name, f"{value!r} is also {first_with[value]}: pipeline namespaces must differ"))
        first_with.setdefault(value, name)
    if not 1 <= s.gitea_ssh_nodeport <= 65535:
        errors.append(FieldError("gitea_ssh_nodeport", f"{s.gitea_ssh_nodeport} is not a port (1-65535)"))
    elif not 30000 <= s.gitea_ssh_nodeport <= 32767:
        errors.append(FieldError("gitea_ssh_nodeport",
                                 f"{s.gitea_ssh_nodeport} is outside the NodePort range 30000-32767"))
    if problem := gitea_user_problem(s.gitea_admin_user, admin=True):
        errors.append(FieldError("gitea_admin_user", f"{s.gitea_admin_user!r} {problem}"))
    if s.repo_owner and (problem := gitea_user_problem(s.repo_owner)):
        errors.append(FieldError("repo_owner", f"{s.repo_owner!r} {problem}"))
    repo = s.repo_name
    if not _GITEA_NAME.match(repo) or ".." in repo or len(repo) > 100:
        errors.append(FieldError("repo_name", f"{repo!r} is not a valid repository name (letters, digits, '-', '_' "
                                              "and '.', starting and ending with a letter, digit or '_', at most "
                                              "100)"))
    elif repo.lower().endswith(GITEA_RESERVED_REPO_SUFFIXES):
        errors.append(FieldError("repo_name", f"{repo!r}: Gitea reserves names ending in "
                                              f"{', '.join(GITEA_RESERVED_REPO_SUFFIXES)}"))
    elif problem := woodpecker_label_problem(repo):
        errors.append(FieldError("repo_name", f"{repo!r} {problem}"))
    elif (owner := s.effective_repo_owner) and not gitea_user_problem(owner) and (
            problem := woodpecker_label_problem(f"{owner}/{repo}")):
        field_name = "repo_owner" if s.repo_owner else "gitea_admin_user"
        errors.append(FieldError(field_name, f"{owner!r} with repo_name {repo!r}: the repository's full name "
                                             f"{problem}"))
    email = s.gitea_admin_email
    if not _EMAIL.match(email) or not _GITEA_EMAIL.match(email) or email.startswith("-"):
        errors.append(FieldError("gitea_admin_email", f"{email!r} is not an e-mail address Gitea takes"))
    elif len(email) > GITEA_EMAIL_MAX:
        errors.append(FieldError("gitea_admin_email", f"is {len(email)} characters: Gitea takes at most "
                                                      f"{GITEA_EMAIL_MAX}"))
    if s.gitea_db_type not in GITEA_DB_TYPES:
        errors.append(FieldError("gitea_db_type", f"{s.gitea_db_type!r}: choose one of {', '.join(GITEA_DB_TYPES)}"))
    if s.gitea_db_type == "sqlite3" and not s.gitea_db_path.startswith("/"):
        errors.append(FieldError("gitea_db_path", f"{s.gitea_db_path!r} must be an absolute path in the pod"))
    if s.gitea_db_type != "sqlite3":
        host = s.gitea_db_host.rsplit(":", 1)[0] if s.gitea_db_host.count(":") == 1 else s.gitea_db_host
        if not s.gitea_db_host or not _valid_host(host):
            errors.append(FieldError("gitea_db_host", f"{s.gitea_db_type} needs the database's host[:port], e.g. "
                                                      "gitea-postgresql:5432"))
        for name in ("gitea_db_name", "gitea_db_user"):
            if not re.fullmatch(r"[A-Za-z0-9_.-]{1,63}", getattr(s, name)):
                errors.append(FieldError(name, f"{getattr(s, name)!r} is not a database identifier"))
    if s.gitea_ca_bundle and not Path(os.path.expanduser(s.gitea_ca_bundle)).is_file():
        errors.append(FieldError("gitea_ca_bundle", f"{s.gitea_ca_bundle!r} is not a file"))
    if not s.local_clone:
        errors.append(FieldError("local_clone", "required: the path of your local stonks-oracle clone"))
    host = mirror_host(s.github_mirror_url)
    if not host or not _valid_host(host) or ".." in s.github_mirror_url:
        # It reaches a shell command of the mirror step (whose environment holds the deploy key) and ssh's argv:
        # only the plain form passes — no spaces, quotes, `;`, options (`-o…`) or path tricks.
        errors.append(FieldError("github_mirror_url", f"{s.github_mirror_url!r} must be an SSH URL such as "
                                                      "git@github.com:owner/repo.git (letters, digits, '.', '-', "
                                                      "'_'): the mirror pushes with a deploy key"))
    if not _valid_host(s.nfs_server):
        errors.append(FieldError("nfs_server", f"{s.nfs_server!r} is not a host name or IP address"))
    for comp, path in s.nfs_paths.items():
        name = f"nfs_path_{comp}"
        if not path.startswith("/"):
            errors.append(FieldError(name, f"{path!r} must be an absolute path on the NFS server"))
        elif "//" in path or "/../" in path or path.endswith("/..") or path.rstrip("/") == "":
            errors.append(FieldError(name, f"{path!r} is not a clean export path"))
    norm = {comp: p.rstrip("/") for comp, p in s.nfs_paths.items()}
    seen: dict[str, str] = {}
    for comp, p in norm.items():
        if p in seen:
            errors.append(FieldError(f"nfs_path_{comp}", f"same NFS path as nfs_path_{seen[p]}: each component "
                                                         "needs its own directory or they overwrite each other"))
        seen.setdefault(p, comp)
    for a, pa in norm.items():
        for b, pb in norm.items():
            if a != b and pb.startswith(pa + "/"):
                errors.append(FieldError(f"nfs_path_{b}", f"is inside nfs_path_{a}: paths must not nest"))
    for comp in ("argocd", "kargo", "woodpecker"):
        name = f"nfs_size_{comp}"
        if not _QUANTITY.match(getattr(s, name)):
            errors.append(FieldError(name, f"{getattr(s, name)!r} is not a Kubernetes quantity such as 5Gi"))
        elif float(re.match(r"[0-9.]+", getattr(s, name)).group()) <= 0:  # type: ignore[union-attr]
            errors.append(FieldError(name, f"{getattr(s, name)!r}: a volume needs a size above zero"))
    for name in ("woodpecker_chart_version", "argocd_chart_version", "kargo_chart_version"):
        if not _CHART_VERSION.match(getattr(s, name)):
            errors.append(FieldError(name, f"{getattr(s, name)!r} is not a chart version such as 1.2.3"))
    for name in ("woodpecker_chart", "kargo_chart", "argocd_chart"):
        value = getattr(s, name)
        if not _CHART_REF.match(value):
            errors.append(FieldError(name, f"{value!r} is not a chart reference helm takes: oci://host/path, "
                                           "repo/chart, or an http(s) URL of a chart .tgz"))
        elif value.startswith("oci://") and not _OCI_REPOSITORY.match(value[len("oci://"):].partition("/")[2]):
            errors.append(FieldError(name, f"{value!r}: helm refuses this OCI repository path (lower-case letters "
                                           "and digits, parts joined by one '.', '_', '__' or dashes)"))
    for name in ("woodpecker_chart", "kargo_chart"):
        version = getattr(s, f"{name}_version")
        if getattr(s, name).startswith("oci://") and not _OCI_TAG.match(version.replace("+", "_")):
            errors.append(FieldError(f"{name}_version", f"{version!r} is not a tag helm can pull from an OCI "
                                                        "registry (at most 128 characters)"))
    if not re.match(r"^[a-z0-9-]+/[a-z0-9-]+$", s.argocd_chart):
        errors.append(FieldError("argocd_chart", f"{s.argocd_chart!r} must be repo/chart, e.g. argo/argo-cd"))
    _check_url("argocd_chart_repo", s.argocd_chart_repo, errors)
    seconds = _timeout_seconds(s.helm_timeout)
    if seconds is None:
        errors.append(FieldError("helm_timeout", f"{s.helm_timeout!r} is not a duration such as 10m"))
    elif not 30 <= seconds <= 6 * 3600:
        errors.append(FieldError("helm_timeout", f"{s.helm_timeout!r}: choose between 30s and 6h"))
    if not 1 <= s.woodpecker_agent_replicas <= 50:
        errors.append(FieldError("woodpecker_agent_replicas", "must be between 1 and 50"))
    if s.woodpecker_storage_rwx not in RWX_MODES:
        errors.append(FieldError("woodpecker_storage_rwx", f"choose one of {', '.join(RWX_MODES)}"))
    if s.rbac_mode not in RBAC_MODES:
        errors.append(FieldError("rbac_mode", f"{s.rbac_mode!r}: choose one of {', '.join(RBAC_MODES)}"))
    parts = s.registry_project.split("/")
    if not all(_IMAGE_COMPONENT.match(part) for part in parts) or len(s.registry_project) > 200:
        errors.append(FieldError("registry_project", f"{s.registry_project!r} is not an image path (lower-case "
                                                     "letters and digits joined by '.', '_' or '-', parts "
                                                     "separated by '/')"))
    return errors


def require_valid(s: Settings) -> None:
    """Raise one UsageError listing every field error, or return."""
    errors = validate(s)
    if errors:
        lines = "\n".join(f"  - {e}" for e in errors)
        heading = "1 setting needs" if len(errors) == 1 else f"{len(errors)} settings need"
        raise UsageError(f"{heading} attention:\n{lines}",
                         hint="fix them in the answers file (--answers) or with STONKS_<FIELD> variables")


def coerce(name: str, value: Any, source: str) -> Any:
    """A raw value (typed into a form, read from YAML or the environment) as the field's type, or a UsageError."""
    return _coerce(name, value, source)


CHOICES: dict[str, tuple[str, ...]] = {"rbac_mode": RBAC_MODES, "woodpecker_storage_rwx": RWX_MODES,
                                       "gitea_db_type": GITEA_DB_TYPES}
GROUP_TITLES = {"domains": "Domains and ingress", "gitea": "Gitea and the repository", "registry": "Registry",
                "nfs": "NFS storage", "namespaces": "Namespaces", "charts": "Charts and releases",
                "rbac": "Woodpecker agents and RBAC"}
