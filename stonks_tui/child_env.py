"""What a child process (helm, git and whatever they start) inherits: an allowlist, never the whole environment.

The operator's environment may hold STONKS_GITEA_ADMIN_PASSWORD and STONKS_KEYRING_PASSPHRASE (which opens every
stored secret); helm's plugins, git's hooks and helpers would inherit them with everything else. A child gets only
what lets it find its tools, its configuration, the cluster and the network — and a credential only where it is
the one that needs it (git's askpass, see clients/git.py).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

_EVERY_CHILD = {"PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TERM", "SHELL",
                "SSL_CERT_FILE", "SSL_CERT_DIR", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME",
                "XDG_RUNTIME_DIR", "KUBECONFIG"}
_PROXIES = {"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY"}
_BY_CHILD = {
    "helm": ({"KUBECACHEDIR"}, ("HELM_",)),
    # The operator's identity and transport choices for git; never GIT_ASKPASS or credential settings of theirs.
    "git": ({"SSH_AUTH_SOCK", "GIT_SSH", "GIT_SSH_COMMAND", "GIT_CONFIG_GLOBAL", "GIT_CONFIG_NOSYSTEM",
             "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "EMAIL"}, ()),
}
# The simulated world's knobs (where its state lives, its speed and faults) for the demo's helm stand-in:
# test settings, never secrets.
_SIM_PREFIX = "STONKS_SIM_"


def child_env(child: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    names, prefixes = _BY_CHILD[child]
    source = os.environ if environ is None else environ
    out = {}
    for key, value in source.items():
        upper = key.upper()
        if (key in _EVERY_CHILD or key in names or upper in _PROXIES or key.startswith("LC_")
                or key.startswith(prefixes or ("\0",)) or key.startswith(_SIM_PREFIX)):
            out[key] = value
    return out
