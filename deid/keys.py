"""Keyed pseudonyms and date shifts derived from one project secret.

Every pseudonym (patient, study, accession, report, UID) and every per-patient date shift is an
HMAC-SHA256 of the original value under a single secret. The same input gives the same output on
every worker and in every later run, so images and reports of one patient stay linked, while
nobody without the secret can reverse or recompute the mapping.

The secret lives outside every output: its path comes from ``$RADCURATE_SECRET_FILE`` or, by
default, ``$XDG_CONFIG_HOME/radcurate/secret.key`` (``~/.config/radcurate/secret.key``). It is
created with 256 random bits on first use and written with mode 0600.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

SECRET_ENV = "RADCURATE_SECRET_FILE"
DEFAULT_MAX_SHIFT_DAYS = 365


def default_secret_path() -> Path:
    """Where the project secret lives unless configured otherwise."""
    env = os.environ.get(SECRET_ENV)
    if env:
        return Path(env)
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "radcurate" / "secret.key"


def load_or_create_secret(path: str | os.PathLike | None = None) -> bytes:
    """Read the project secret, creating it (256 random bits, mode 0600) on first use."""
    path = Path(path) if path is not None else default_secret_path()
    if path.exists():
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            raise ValueError(f"secret file {path} can be read by other users (mode {mode:04o}); "
                             f"make it private first: chmod 600 {path}")
        data = path.read_bytes().strip()
        if len(data) < 32:
            raise ValueError(f"secret file {path} is too short (need >= 32 bytes)")
        return data
    path.parent.mkdir(parents=True, exist_ok=True)
    data = secrets.token_hex(32).encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    return data


def check_secret_outside(secret: str | os.PathLike | None, out_dir: str | os.PathLike) -> None:
    """Refuse a secret stored inside the output folder, reached through a link into it, or named
    there by a link: whoever receives the output must never receive the key that re-identifies it."""
    path = Path(secret) if secret is not None else default_secret_path()
    out = os.path.realpath(out_dir)
    # where it really is (through any link) and where it is named: a link inside OUT to a key
    # elsewhere would be shared with the output too
    for where in (os.path.realpath(path), os.path.join(os.path.realpath(path.parent), path.name)):
        if where == out or where.startswith(out.rstrip(os.sep) + os.sep):
            raise ValueError(f"secret file {path} is inside the output folder {out_dir} (or links into it); "
                             "keep it outside (e.g. ~/.config/radcurate/secret.key), since outputs are shared")


def check_secret(secret: str | os.PathLike | None, out_dir: str | os.PathLike) -> None:
    """Everything about the secret that can be known before a run writes anything: not inside the
    output folder (its real location, through any link) and, when it exists, a file only its owner
    can read. Raises ``ValueError``; never creates the secret."""
    check_secret_outside(secret, out_dir)
    path = Path(secret) if secret is not None else default_secret_path()
    if path.exists():
        if not path.is_file():
            raise ValueError(f"secret file {path} is not a file")
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            raise ValueError(f"secret file {path} can be read by other users (mode {mode:04o}); "
                             f"make it private first: chmod 600 {path}")


@dataclass(frozen=True)
class Keyer:
    """Derives pseudonyms, UIDs and date shifts from the project secret.

    ``Keyer.from_secret_file()`` is picklable and cheap, so one can be shipped to each Dask worker.
    """

    secret: bytes
    max_shift_days: int = DEFAULT_MAX_SHIFT_DAYS

    @classmethod
    def from_secret_file(cls, path: str | os.PathLike | None = None, **kw) -> "Keyer":
        return cls(load_or_create_secret(path), **kw)

    def digest(self, domain: str, value: str) -> bytes:
        """HMAC-SHA256 of ``value`` in a namespace, so equal strings of other kinds differ."""
        msg = f"{domain}\x1f{value.strip()}".encode("utf-8", "surrogateescape")
        return hmac.new(self.secret, msg, hashlib.sha256).digest()

    def pseudonym(self, domain: str, value: str, length: int = 16) -> str:
        """A short hex pseudonym such as ``P-3f9a...`` for ``domain`` in patient/study/accession/report."""
        prefix = {"patient": "P", "study": "S", "accession": "A", "report": "R", "series": "E",
                  "instance": "I"}.get(domain, domain[:1].upper() or "X")
        return f"{prefix}-{self.digest(domain, value).hex()[:length]}"

    def key_id(self) -> str:
        """A short public id of the secret (an HMAC of a fixed string): tells secrets apart in
        state files and manifests without revealing anything about the secret itself."""
        return self.digest("key-id", "radcurate").hex()[:16]

    def patient_key(self, patient_id: str) -> str:
        return self.pseudonym("patient", patient_id)

    def study_key(self, accession: str | None = None, study_uid: str | None = None) -> str:
        """The study pseudonym shared by a study's images and its report.

        Derived from the accession number, which both the DICOM headers and the RIS row carry;
        a study without an accession (common in research exports) falls back to its Study
        Instance UID.
        """
        if accession and str(accession).strip():
            return self.pseudonym("study", str(accession))
        if study_uid and str(study_uid).strip():
            return self.pseudonym("study", "uid:" + str(study_uid))
        raise ValueError("a study key needs an accession number or a Study Instance UID")

    def accession_key(self, accession: str) -> str:
        """16 characters (``A-`` + 14 hex): the most DICOM's Accession Number (SH) allows."""
        return self.pseudonym("accession", accession, length=14)

    def uid(self, uid: str) -> str:
        """A new DICOM UID under the ``2.25`` root (ISO/IEC 9834-8 style), at most 64 characters."""
        # 2.25. + decimal of 128 bits is at most 44 characters.
        n = int.from_bytes(self.digest("uid", uid)[:16], "big")
        return f"2.25.{n}"

    def date_shift_days(self, patient_id: str) -> int:
        """Per-patient shift in days, in [-max_shift_days, -1]: always back in time, never zero."""
        n = int.from_bytes(self.digest("dateshift", patient_id)[:8], "big")
        return -(1 + n % self.max_shift_days)

    def shift_date(self, patient_id: str, value: dt.date | dt.datetime) -> dt.date | dt.datetime:
        return value + dt.timedelta(days=self.date_shift_days(patient_id))
