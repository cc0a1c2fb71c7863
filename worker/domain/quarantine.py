"""What is kept of a rejection: redacted, cut to a storable size, fingerprinted.

Every store keeps one row per distinct rejection (``sync_errors``) and counts its
repeats. Whatever the provider sent, the kept form is storable and bounded
(``domain.poison``), and known secrets are blanked before anything is cut, so a
cut never keeps a secret's head. Pure.

The fingerprint decides what "the same rejection" means: an unknown status is
noted once per value and target, whichever campaigns carry it; anything else
once per campaign, field, reason and payload.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from worker.domain.campaign import TargetKey, canonical_json
from worker.domain.poison import safe_payload, safe_text
from worker.domain.records import Rejection, RejectionKind
from worker.domain.scrub import redact

__all__ = ["REASON_CHARS", "KeptRejection", "keep_rejections", "kept_form"]

REASON_CHARS = 2000  # of a reason kept in sync_errors


@dataclass(frozen=True, slots=True, kw_only=True)
class KeptRejection:
    """A rejection as stored: every text safe and bounded, secrets blanked."""

    fingerprint: str
    kind: RejectionKind
    campaign_id: str | None
    field: str
    reason: str
    raw: Any
    detail: Any


def kept_form(target: TargetKey, rejection: Rejection, secrets: Collection[str]) -> KeptRejection:
    """The stored form of one rejection of ``target``."""
    raw = redact(safe_payload(rejection.raw, secrets=secrets), secrets)
    reason = safe_text(redact(rejection.reason, secrets), REASON_CHARS)
    return KeptRejection(
        fingerprint=_fingerprint(target, rejection, raw, reason),
        kind=rejection.kind,
        campaign_id=None if rejection.campaign_id is None else safe_text(rejection.campaign_id),
        field=safe_text(rejection.field),
        reason=reason,
        raw=raw,
        detail=redact(safe_payload(dict(rejection.detail), secrets=secrets), secrets),
    )


def keep_rejections(
    target: TargetKey, rejections: Sequence[Rejection], secrets: Collection[str]
) -> list[tuple[KeptRejection, int]]:
    """One kept form per fingerprint, with how many of ``rejections`` it stands for.

    Of rejections that share a fingerprint the last one is kept, in the place the
    first one took (a store writes a page's rejections in one statement, which may
    touch a row only once).
    """
    kept: dict[str, tuple[KeptRejection, int]] = {}
    for rejection in rejections:
        form = kept_form(target, rejection, secrets)
        seen = kept.get(form.fingerprint)
        kept[form.fingerprint] = (form, 1 if seen is None else seen[1] + 1)
    return list(kept.values())


def _fingerprint(target: TargetKey, rej: Rejection, raw: Any, reason: str) -> str:
    if rej.kind is RejectionKind.UNKNOWN_STATUS:
        # Noted once per value and target, whichever campaigns carry it.
        basis: Any = [str(target), rej.kind.value, rej.detail.get("status_raw")]
    else:
        basis = [str(target), rej.kind.value, rej.campaign_id, rej.field, reason, raw]
    return hashlib.sha256(canonical_json(basis).encode()).hexdigest()
