"""Will Gitea deliver its webhook to Woodpecker? Gitea's own rules (FACTS, webhooks), decided from its app.ini.

Gitea refuses to deliver to any address its allow list does not match — by default only "external" addresses,
so the private LAN address an ingress host resolves to is refused — and verifies TLS unless told not to. Neither
shows anywhere but in the hook's delivery history, so the install would end green while no push ever builds.
This module mirrors Gitea 1.27's modules/hostmatcher and setting.Webhook; the real tier checks the verdicts
against real deliveries of a real Gitea.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import socket
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import urlsplit

from stonks_tui.checks.result import CheckResult
from stonks_tui.clients.gitea import Auth, GiteaClient
from stonks_tui.clients.gitea_pod import read_app_ini, su_git
from stonks_tui.errors import StepFailed
from stonks_tui.settings import Settings

IP = ipaddress.IPv4Address | ipaddress.IPv6Address

# Ranges Gitea never counts as "external" nor "private" (hostmatcher.reservedIPNets).
_RESERVED = [ipaddress.ip_network(n) for n in (
    "100.64.0.0/10", "168.63.129.16/32", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "198.18.0.0/15",
    "198.51.100.0/24", "203.0.113.0/24", "100::/64", "64:ff9b::/96", "64:ff9b:1::/48", "2001::/32",
    "2001:10::/28", "2001:20::/28", "2001:db8::/32", "2002::/16")]
_GO_PRIVATE = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")]


def parse_ini(text: str) -> dict[str, dict[str, str]]:
    """app.ini as go-ini reads it for these keys: `[section]`, `KEY = value`, `;`/`#` comments, quotes."""
    out: dict[str, dict[str, str]] = {"": {}}
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in ";#":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip().lower()
            out.setdefault(section, {})
            continue
        key, eq, value = line.partition("=")
        if eq:
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'`":
                value = value[1:-1]
            out.setdefault(section, {})[key.strip().upper()] = value
    return out


@dataclass(frozen=True)
class WebhookConfig:
    allowed_hosts: str  # the effective [webhook] ALLOWED_HOST_LIST
    source: str  # where it came from, as the operator would find it
    skip_tls_verify: bool
    proxy_url: str

    @classmethod
    def from_ini(cls, text: str) -> WebhookConfig:
        ini = parse_ini(text)
        webhook, security = ini.get("webhook", {}), ini.get("security", {})
        # An empty value keeps the default (go-ini's MapTo, MustString): [webhook] falls back to [security],
        # which falls back to "external".
        if webhook.get("ALLOWED_HOST_LIST"):
            allowed, source = webhook["ALLOWED_HOST_LIST"], "[webhook] ALLOWED_HOST_LIST"
        elif security.get("ALLOWED_HOST_LIST"):
            allowed, source = security["ALLOWED_HOST_LIST"], "[security] ALLOWED_HOST_LIST"
        else:
            allowed, source = "external", "Gitea's default"
        skip = webhook.get("SKIP_TLS_VERIFY", "false").lower() in ("1", "t", "true", "y", "yes", "on")
        return cls(allowed, source, skip, webhook.get("PROXY_URL", ""))


def _global_unicast(ip: IP) -> bool:  # Go's net.IP.IsGlobalUnicast
    return not (ip.is_unspecified or ip.is_loopback or ip.is_multicast or ip.is_link_local
                or ip == ipaddress.IPv4Address("255.255.255.255"))


def _in(ip: IP, nets: list) -> bool:
    return any(ip.version == n.version and ip in n for n in nets)


def host_allowed(allowed_hosts: str, host: str, ip: IP | None) -> bool:
    """hostmatcher.ParseHostMatchList(allowed).MatchHostOrIP(host, ip) — or True for a list with no entries."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped  # Go compares ::ffff:a.b.c.d as IPv4
    builtins, patterns, nets = [], [], []
    for entry in (e.strip().lower() for e in allowed_hosts.split(",")):
        if not entry:
            continue
        if "/" in entry:  # Go's ParseCIDR: only "addr/len" is a network
            try:
                nets.append(ipaddress.ip_network(entry, strict=False))
                continue
            except ValueError:
                pass
        (builtins if entry in ("external", "private", "loopback") else patterns).append(entry)
    if not (builtins or patterns or nets):
        return True

    def matches_ip(addr: IP) -> bool:
        if "*" in patterns:
            return True
        private, reserved = _in(addr, _GO_PRIVATE), _in(addr, _RESERVED)
        for b in builtins:
            if b == "external" and _global_unicast(addr) and not reserved and not private:
                return True
            if b == "private" and _global_unicast(addr) and not reserved and private:
                return True
            if b == "loopback" and addr.is_loopback:
                return True
        return _in(addr, nets)

    name = host.strip().lower()
    if any(fnmatchcase(name, p) for p in patterns):
        return True
    try:
        literal = ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None and matches_ip(literal):
        return True
    return ip is not None and (any(fnmatchcase(str(ip), p) for p in patterns) or matches_ip(ip))


def kind_of(ip: IP) -> str:
    if ip.is_loopback:
        return "a loopback address"
    if _in(ip, _GO_PRIVATE):
        return "a private address"
    if _in(ip, _RESERVED) or not _global_unicast(ip):
        return "a reserved address"
    return "a public address"


def allow_hint(config: WebhookConfig, host: str, gitea_version: str) -> str:
    """What to set, in the key this Gitea reads (1.27 moved it to [security]; [webhook] still wins there)."""
    major_minor = tuple(int(x) for x in gitea_version.split("-")[0].split(".")[:2] if x.isdigit())
    section = "security" if major_minor >= (1, 27) and not config.source.startswith("[webhook]") else "webhook"
    current = "" if config.source == "Gitea's default" else config.allowed_hosts + ","
    return (f"in Gitea's app.ini set [{section}] ALLOWED_HOST_LIST = {current}{host} (or the environment variable "
            f"GITEA__{section}__ALLOWED_HOST_LIST of the gitea container) and restart Gitea")


async def resolve(host: str, timeout: float = 5.0) -> list[IP]:
    """The addresses `host` has here (the node's resolver; Gitea's pod usually agrees on an ingress host)."""
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        infos = await asyncio.wait_for(asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM),
                                       timeout)
    except (OSError, TimeoutError):
        return []
    return list(dict.fromkeys(ipaddress.ip_address(str(i[4][0]).split("%")[0]) for i in infos))


async def delivery_check(gitea: GiteaClient, auth: Auth, kube: Any, s: Settings, gitea_version: str) -> CheckResult:
    """The verify check "webhook": Woodpecker's hook exists in Gitea and Gitea's rules let it be delivered."""
    full = f"{s.effective_repo_owner}/{s.repo_name}"
    resp = await gitea.request("GET", f"/api/v1/repos/{full}/hooks", auth=auth, what="list the repository's webhooks")
    if resp.status_code != 200:
        return CheckResult("webhook", "fail", f"cannot list the webhooks of {full} (HTTP {resp.status_code})",
                           "the token needs write:repository; see the step log")
    hooks = [h for h in resp.json() if "/hook?" in ((h.get("config") or {}).get("url") or "")]
    if not hooks:
        return CheckResult("webhook", "fail", f"Gitea has no Woodpecker webhook on {full}: pushes start no pipeline",
                           "in Woodpecker open the repository's settings and press Repair (it re-registers the "
                           "webhook), then run verify")
    url = hooks[0]["config"]["url"]
    parts = urlsplit(url)
    where = f"{parts.scheme}://{parts.netloc}{parts.path}"  # never the hook's access_token
    if not hooks[0].get("active", True):
        return CheckResult("webhook", "fail", f"the webhook to {where} is inactive in Gitea",
                           f"activate it in Gitea: {full} → Settings → Webhooks")
    host = parts.hostname or ""
    namespace = s.gitea_namespace
    try:
        config = WebhookConfig.from_ini(await read_app_ini(kube, namespace))
    except StepFailed as exc:
        return CheckResult("webhook", "warn", f"cannot tell whether Gitea may deliver to {host}: {exc.message}",
                           "Gitea delivers only where [webhook] ALLOWED_HOST_LIST allows (default: external "
                           "addresses only) and verifies TLS unless [webhook] SKIP_TLS_VERIFY = true")
    if config.proxy_url:
        return CheckResult("webhook", "warn", f"Gitea delivers through the proxy {urlsplit(config.proxy_url).netloc}: "
                                              f"whether it reaches {host} depends on the proxy", "")
    ips = await resolve(host)
    if not ips and not host_allowed(config.allowed_hosts, host, None):
        return CheckResult("webhook", "warn", f"{host} does not resolve here; Gitea delivers to it only if it resolves "
                                              f"to an address {_allow_list(config)} ({config.allowed_hosts!r}) allows",
                           allow_hint(config, host, gitea_version))
    refused = [ip for ip in ips if not host_allowed(config.allowed_hosts, host, ip)]
    if ips and len(refused) == len(ips):
        return CheckResult("webhook", "fail",
                           f"Gitea will refuse every delivery to {where}: {_is(host, refused[0])} and "
                           f"{_allow_list(config)} is {config.allowed_hosts!r}",
                           allow_hint(config, host, gitea_version))
    if parts.scheme == "https" and not config.skip_tls_verify:
        line = await _private_ca_line(kube, s.woodpecker_namespace)
        if line:
            code, _ = await su_git(kube, namespace, 'read -r L; grep -rqF -- "$L" /etc/ssl/certs/', stdin=line + "\n")
            if code != 0:
                return CheckResult(
                    "webhook", "fail",
                    f"Gitea verifies {host}'s certificate, which ClusterIssuer {s.cluster_issuer} signs with a "
                    "private CA Gitea does not trust: every delivery fails the TLS handshake",
                    "add that CA to the gitea container's /etc/ssl/certs (or set [webhook] SKIP_TLS_VERIFY = true "
                    "in app.ini) and restart Gitea")
    return CheckResult("webhook", "pass", f"Gitea may deliver to {where} ({config.source}: "
                                          f"{config.allowed_hosts!r})")


def _is(host: str, ip: IP) -> str:
    return f"{host} is {kind_of(ip)}" if host.strip("[]") == str(ip) else f"{host} is {ip} ({kind_of(ip)})"


def _allow_list(config: WebhookConfig) -> str:
    return "Gitea's default allow list" if config.source == "Gitea's default" else config.source


async def _private_ca_line(kube: Any, namespace: str) -> str:
    """A line of the CA that signed woodpecker-tls, if that CA is private: cert-manager writes `ca.crt` into the
    secret for CA and self-signed issuers, never for ACME. A line of its PEM body is enough to find it in a bundle."""
    secret = await kube.get("v1", "Secret", "woodpecker-tls", namespace) or {}
    pem = base64.b64decode((secret.get("data") or {}).get("ca.crt") or "").decode(errors="replace")
    body = [ln.strip() for ln in pem.splitlines() if ln.strip() and not ln.startswith("-----")]
    return body[len(body) // 2] if body else ""
