"""Settings: every validation rule with a bad value, answers file round-trip, env overrides, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from stonks_tui.errors import UsageError
from stonks_tui.settings import FIELD_NAMES, Settings, env_overrides, load_settings, read_answers, save_answers

GOOD = Settings(gitea_public_url="http://127.0.0.1:30300")


def errors_for(**changes: object) -> dict[str, str]:
    return {e.field: e.message for e in GOOD.replace(**changes).validate()}


def test_defaults_are_the_design_values_and_valid_once_gitea_url_is_known() -> None:
    s = Settings()
    assert s.woodpecker_host == "stonks-ci.celestium.life"
    assert s.nfs_server == "192.168.42.8"
    assert s.nfs_path_woodpecker == "/volume1/Kubernetes/pipelines/woodpecker"
    assert s.gitea_internal_url.startswith("http://gitea-service.git-server")  # FACTS beats the design
    assert s.gitea_admin_user != "admin"  # reserved by Gitea
    assert [e.field for e in s.validate()] == ["gitea_public_url"]
    assert GOOD.validate() == []


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("gitea_public_url", "gitea.local:3000", "needs a scheme"),
        ("gitea_public_url", "ftp://gitea.local", "needs a scheme"),
        ("gitea_internal_url", "http://", "no host"),
        ("gitea_internal_url", "http://gitea:99999", "invalid port"),
        ("gitea_api_url", "http://bad_host!:3000", "not a valid host"),
        ("registry_url", "registry.celestium.life", "needs a scheme"),
        ("woodpecker_host", "https://stonks-ci.celestium.life", "drop the scheme"),
        ("argocd_host", "bad host", "not a valid host"),
        ("registry_host", "-bad.example", "not a valid host"),
        ("woodpecker_namespace", "Woodpecker", "DNS-1123"),
        ("argocd_namespace", "a" * 64, "DNS-1123"),
        ("kargo_namespace", "kargo_ns", "DNS-1123"),
        ("woodpecker_namespace", "stonks-oracle", "distinct from the kept"),
        ("argocd_namespace", "git-server", "distinct from the kept"),
        ("kargo_namespace", "woodpecker", "must differ"),
        ("woodpecker_release", "wp", "must be 'woodpecker'"),
        ("gitea_ssh_nodeport", 70000, "not a port"),
        ("gitea_ssh_nodeport", 2222, "NodePort range"),
        ("gitea_admin_user", "admin", "reserved"),
        ("gitea_admin_user", "bad name", "not a name Gitea takes"),
        # Gitea 1.27's own rules (modules/validation, models/user, services/forms.InstallForm)
        ("gitea_admin_user", "_admin", "not a name Gitea takes"),
        ("gitea_admin_user", "ops__admin", "no two of"),
        ("gitea_admin_user", "ops-admin.", "none at the end"),
        ("gitea_admin_user", "a" * 31, "at most 30 (its install form)"),
        ("gitea_admin_user", "ops.keys", "reserved by Gitea"),
        ("gitea_admin_user", ".well-known", "reserved by Gitea"),
        ("gitea_admin_email", "-ops@example.test", "not an e-mail address Gitea takes"),
        ("gitea_admin_email", "ops@exa_mple.test", "not an e-mail address Gitea takes"),
        ("gitea_admin_email", "o" * 250 + "@example.test", "at most 254"),
        ("repo_name", "stonks..oracle", "not a valid repository"),
        ("repo_name", "stonks.wiki", "Gitea reserves names ending in"),
        # Woodpecker 3.16's Kubernetes backend: the repository's name and owner/name label every step pod
        ("repo_name", "stonks_", "Woodpecker's step pod labels"),
        ("repo_name", "_stonks", "Woodpecker's step pod labels"),
        ("repo_name", "stonks-.oracle", "Woodpecker's step pod labels"),
        # helm 3.21 / oras-go v2: an OCI chart's repository path and tag
        ("kargo_chart", "oci://ghcr.io/Akuity/kargo-charts/kargo", "OCI repository path"),
        ("woodpecker_chart", "oci://ghcr.io/woodpecker-ci/helm/-woodpecker", "OCI repository path"),
        ("kargo_chart_version", "1.11.0-" + "r" * 130, "at most 128"),
        ("registry_project", "Stonks", "not an image path"),
        ("registry_project", "stonks/_oracle", "not an image path"),
        ("gitea_admin_email", "not-an-email", "not an e-mail"),
        ("gitea_db_type", "oracle", "choose one of"),
        ("gitea_db_path", "data/gitea.db", "absolute"),
        ("gitea_ca_bundle", "/nonexistent/ca.pem", "not a file"),
        ("repo_name", "stonks oracle", "not a valid repository"),
        ("repo_name", "stonks.git", "Gitea reserves names ending in"),
        ("repo_owner", "-x", "not a name Gitea takes"),
        ("local_clone", "", "required"),
        ("github_mirror_url", "https://github.com/a/b.git", "SSH URL"),
        ("nfs_server", "nfs server", "not a host"),
        ("nfs_path_argocd", "volume1/argocd", "absolute"),
        ("nfs_path_kargo", "/volume1/../etc", "clean"),
        ("nfs_path_kargo", "/volume1/Kubernetes/pipelines/argocd", "same NFS path"),
        ("nfs_path_kargo", "/volume1/Kubernetes/pipelines/argocd/kargo", "must not nest"),
        ("nfs_size_argocd", "5 GB", "quantity"),
        ("woodpecker_chart_version", "latest", "chart version"),
        ("kargo_chart", "https://example/kargo", "oci://"),
        ("argocd_chart", "argo-cd", "repo/chart"),
        ("argocd_chart_repo", "argoproj.github.io", "needs a scheme"),
        ("helm_timeout", "10 minutes", "duration"),
        ("woodpecker_agent_replicas", 0, "between 1 and 50"),
        ("woodpecker_storage_rwx", "maybe", "choose one of"),
        ("rbac_mode", "god", "choose one of"),
        ("ingress_class", "Traefik!", "Kubernetes name"),
        ("cluster_issuer", "", "Kubernetes name"),
        ("registry_project", "Stonks Oracle", "image path"),
    ],
)
def test_each_rule_names_the_field(field: str, value: object, needle: str) -> None:
    errs = errors_for(**{field: value})
    assert field in errs, errs
    assert needle in errs[field]


def test_the_repository_full_name_is_checked_against_the_owner_it_really_has() -> None:
    """Woodpecker labels step pods with owner + name (its toDNSName drops the '/'); with no repo_owner the owner
    is the admin user, and the error names the setting to change."""
    errs = errors_for(gitea_admin_user="a" * 30, repo_name="b" * 34)
    assert "64-character label" in errs["gitea_admin_user"] and "repo_name" not in errs
    assert errors_for(gitea_admin_user="a" * 30, repo_name="b" * 33) == {}
    assert "64-character label" in errors_for(repo_owner="o" * 30, repo_name="b" * 34)["repo_owner"]


def test_external_database_needs_a_host() -> None:
    errs = errors_for(gitea_db_type="postgres")
    assert "gitea_db_host" in errs and "host[:port]" in errs["gitea_db_host"]
    assert errors_for(gitea_db_type="postgres", gitea_db_host="gitea-postgresql:5432") == {}
    bad = errors_for(gitea_db_type="mysql", gitea_db_host="db:3306", gitea_db_name="gitea; drop")
    assert "database identifier" in bad["gitea_db_name"]


def test_all_errors_come_at_once() -> None:
    errs = errors_for(woodpecker_host="http://x", gitea_admin_user="admin", nfs_size_kargo="lots")
    assert {"woodpecker_host", "gitea_admin_user", "nfs_size_kargo"} <= set(errs)


def test_answers_round_trip(tmp_path: Path) -> None:
    s = GOOD.replace(repo_name="oracle2", gitea_ssh_nodeport=30122, repo_private=False, nfs_server="nas.lan")
    path = tmp_path / "answers.yaml"
    save_answers(s, path)
    assert load_settings(path, environ={}) == s
    text = path.read_text()
    assert "repo_name: oracle2" in text and "woodpecker_host" not in text  # only what differs


def test_env_overrides_file(tmp_path: Path) -> None:
    path = tmp_path / "answers.yaml"
    path.write_text("repo_name: from-file\ngitea_ssh_nodeport: 30100\n")
    s = load_settings(path, environ={"STONKS_REPO_NAME": "from-env", "STONKS_REPO_PRIVATE": "no",
                                      "STONKS_SIM_SPEED": "0"})
    assert s.repo_name == "from-env" and s.gitea_ssh_nodeport == 30100 and s.repo_private is False


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("reponame: x\n", "unknown setting"),
        ("gitea_admin_password: hunter2\n", "looks like a secret"),
        ("woodpecker_client_secret: x\n", "looks like a secret"),
        ("gitea_token: x\n", "looks like a secret"),
        ("- a\n- b\n", "must be a mapping"),
        ("repo_name: [a, b]\n", "expected a plain value"),
        ("gitea_ssh_nodeport: lots\n", "whole number"),
        ("repo_private: perhaps\n", "true or false"),
        ("repo_name: 'a\\nb'\n", "control characters"),
        ("repo_name: \"x\n", "not valid YAML"),
        ("repo_name: " + "x" * 5000 + "\n", "5000 characters"),
    ],
)
def test_bad_answers_files(tmp_path: Path, content: str, needle: str) -> None:
    path = tmp_path / "answers.yaml"
    path.write_text(content.replace("\\n", "\n") if "control" in needle else content)
    if "control" in needle:
        path.write_text('repo_name: "a\\u0007b"\n')
    with pytest.raises(UsageError) as err:
        read_answers(path)
    assert needle in err.value.message


def test_secret_refusal_points_to_the_keyring(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("gitea_admin_password: hunter2\n")
    with pytest.raises(UsageError) as err:
        read_answers(path)
    assert "keyring" in err.value.hint and "hunter2" not in err.value.message


def test_non_utf8_and_missing_files(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_bytes(b"repo_name: \xff\xfe\n")
    with pytest.raises(UsageError, match="not UTF-8"):
        read_answers(path)
    with pytest.raises(UsageError, match="does not exist"):
        read_answers(tmp_path / "nope.yaml")


def test_hostile_values_are_rejected_not_interpreted() -> None:
    errs = errors_for(woodpecker_namespace="wp; rm -rf /", repo_name="$(reboot)", woodpecker_host="x\" : {a: 1}",
                      nfs_server="`id`")
    assert {"woodpecker_namespace", "repo_name", "woodpecker_host", "nfs_server"} <= set(errs)


def test_bad_env_value_names_the_variable() -> None:
    with pytest.raises(UsageError, match="STONKS_GITEA_SSH_NODEPORT"):
        env_overrides({"STONKS_GITEA_SSH_NODEPORT": "lots"})


def test_no_secret_fields_in_settings() -> None:
    assert not [n for n in FIELD_NAMES if any(w in n for w in ("password", "secret", "token", "passphrase"))]
