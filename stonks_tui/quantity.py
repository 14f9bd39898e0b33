"""Kubernetes resource quantities ("5Gi", "5120Mi", "10G") as numbers, to compare what was written with what the
API server gives back in its canonical form."""

from __future__ import annotations

_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
          "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18, "m": 10**-3}


def quantity(value: str) -> float:
    """The quantity's value (bytes for a size); ValueError when it is not one."""
    value = str(value).strip()
    for suffix, mult in sorted(_UNITS.items(), key=lambda kv: -len(kv[0])):
        if value.endswith(suffix):
            return float(value[: -len(suffix)]) * mult
    return float(value)
