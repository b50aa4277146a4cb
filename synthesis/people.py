"""Synthetic identities: patients, physicians, institutions, all derived from a seeded RNG.

Every value here is PHI-shaped on purpose (names, MRNs, dates, phone numbers, e-mails, addresses)
so that de-identification has something real-looking to find; none belongs to a real person.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass

import numpy as np

FIRST_M = ["John", "Robert", "Michael", "William", "David", "Richard", "Joseph", "Thomas",
           "Charles", "Daniel", "Matthew", "Anthony", "Mark", "Steven", "Andrew", "Kenneth", "José"]
FIRST_F = ["Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica",
           "Sarah", "Karen", "Nancy", "Margaret", "Sandra", "Ashley", "Dorothy", "Helen", "Zoë"]
LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
        "Rodriguez", "Martinez", "Hernandez", "Lopez", "Wilson", "Anderson", "Taylor", "Moore",
        "Jackson", "Martin", "Thompson", "White", "Harris", "Clark", "Lewis", "Robinson",
        "Walker", "Young", "Allen", "King", "Wright", "Scott", "Nguyen", "Hill", "Green",
        "Baker", "Nelson", "Carter", "Mitchell", "Perez", "Roberts", "Turner", "Phillips",
        "Campbell", "Parker", "Evans", "Edwards", "Collins", "Stewart", "Morris", "Murphy",
        "O'Brien", "Müller", "Peña", "García-López", "Van der Berg"]
HARD_LAST = ["O'Brien", "Müller", "Peña", "García-López", "Van der Berg", "Nuñez"]  # ', accents, -, spaces
STREETS = ["Main Street", "Oak Avenue", "Maple Drive", "Cedar Lane", "Elm Street",
           "Washington Boulevard", "Lakeview Road", "Hillcrest Avenue"]
CITIES = [("Springfield", "IL", "62704"), ("Riverside", "CA", "92501"),
          ("Fairview", "OR", "97024"), ("Madison", "WI", "53703"), ("Georgetown", "TX", "78626")]
HOSPITALS = ["St. Mary's Medical Center", "Riverside General Hospital",
             "Lakeside University Hospital", "Mercy Regional Medical Center",
             "Good Samaritan Hospital"]


@dataclass(frozen=True)
class Person:
    """A named person with a sex (M/F)."""

    first: str
    last: str
    sex: str
    middle: str = ""

    @property
    def dicom_name(self) -> str:
        """DICOM PN form, ``LAST^FIRST^MIDDLE`` (trailing empty parts dropped)."""
        parts = [self.last.upper(), self.first.upper()] + ([self.middle.upper()] if self.middle else [])
        return "^".join(parts)

    @property
    def last_first(self) -> str:
        return f"{self.last.upper()}, {self.first.upper()}"

    @property
    def first_last(self) -> str:
        return f"{self.first} {self.last}"

    @property
    def honorific(self) -> str:
        return f"{'Mr.' if self.sex == 'M' else 'Ms.'} {self.last}"


@dataclass(frozen=True)
class Patient:
    """A patient's identity as the hospital's systems hold it."""

    person: Person
    patient_id: str  # MRN
    other_id: str  # an ID from a second issuer (e.g. a merged-record MRN)
    birth_date: dt.date
    phone: str
    address: str


@dataclass(frozen=True)
class Institution:
    """A hospital with its address, phone, e-mail domain and staff."""

    name: str
    address: str
    phone: str
    domain: str
    radiologists: tuple[Person, ...]
    referrers: tuple[Person, ...]
    technologists: tuple[Person, ...]


def _phone(rng: np.random.Generator) -> str:
    return f"({rng.integers(201, 990)}) {rng.integers(200, 999)}-{rng.integers(0, 10000):04d}"


def _person(rng: np.random.Generator, sex: str | None = None, middle: bool = False) -> Person:
    sex = sex or ("M" if rng.random() < 0.5 else "F")
    first = str(rng.choice(FIRST_M if sex == "M" else FIRST_F))
    mid = str(rng.choice(FIRST_M + FIRST_F))[0] if middle else ""
    return Person(first=first, last=str(rng.choice(LAST)), sex=sex, middle=mid)


def make_institution(rng: np.random.Generator) -> Institution:
    """One hospital with a few radiologists, referrers and technologists."""
    name = str(rng.choice(HOSPITALS))
    city, state, zipc = CITIES[int(rng.integers(len(CITIES)))]
    address = f"{rng.integers(100, 9999)} {rng.choice(STREETS)}, {city}, {state} {zipc}"
    domain = name.lower().replace("'", "").replace(".", "").split()[0] + "health.org"
    return Institution(
        name=name, address=address, phone=_phone(rng), domain=domain,
        radiologists=tuple(_person(rng, middle=True) for _ in range(3)),
        referrers=tuple(_person(rng) for _ in range(3)),
        technologists=tuple(_person(rng) for _ in range(2)),
    )


def make_patient(rng: np.random.Generator, index: int, first_study: dt.date, age: int) -> Patient:
    """A patient aged ``age`` at ``first_study``, with a 7-digit MRN unique by ``index``."""
    person = _person(rng, middle=rng.random() < 0.4)
    if index % 5 == 2:  # every fifth patient has a name that trips naive de-identification
        person = Person(person.first, str(rng.choice(HARD_LAST)), person.sex, person.middle)
    birth = first_study - dt.timedelta(days=int(age * 365.25 + rng.integers(1, 360)))
    city, state, zipc = CITIES[int(rng.integers(len(CITIES)))]
    return Patient(
        person=person,
        patient_id=f"{int(rng.integers(1, 90)) * 100000 + index:07d}",
        other_id=f"X{int(rng.integers(10**7, 10**8))}",
        birth_date=birth,
        phone=_phone(rng),
        address=f"{rng.integers(10, 999)} {rng.choice(STREETS)}, {city}, {state} {zipc}",
    )


def age_on(birth: dt.date, day: dt.date) -> int:
    """Completed years between ``birth`` and ``day``."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def _ascii(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "".join(c for c in folded.lower() if c.isalnum())


def email(person: Person, inst: Institution) -> str:
    return f"{_ascii(person.first)}.{_ascii(person.last)}@{inst.domain}"
