"""Compiled patterns and word lists for report de-identification.

Every PHI family that has a written shape (dates, times, phones, e-mail, web and street addresses,
ID numbers, ages) is one compiled regular expression here; person names are found by context
(titles, degrees, "signed by" ...) with a name-token pattern and word lists that keep clinical and
everyday words out of names. Regexes rather than spaCy: the shapes are character-level (a date's
separators, a phone's parentheses), spaCy's tokenizer cuts them differently from one format to the
next, a blank English pipeline has no NER to add, and its tokenizer alone (~1,000 reports per CPU
second on the synthetic reports) is slower than this whole scrubber (~1,600-2,000/s), which tries
each pattern only at its anchors (see text_scrub._Scan and benchmarks/deid_reports.py).
"""

from __future__ import annotations

import re

# ----------------------------------------------------------------------------- months

MONTHS = {
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
    "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
}
MONTH_ABBR = {"jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9,
              "sept": 9, "oct": 10, "nov": 11, "dec": 12}
MONTH_NAMES = list(MONTHS)
MONTH_ABBRS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _case_forms(word: str) -> list[str]:
    return [word.capitalize(), word.upper()]


# Month names match in Title or UPPER case; lower case only for full names that are not also
# words ("may", "march") so "may be" and "march" never become dates.
_mon_alts = []
for _w in sorted(MONTHS, key=len, reverse=True):
    _mon_alts += _case_forms(_w) + ([] if _w in ("may", "march") else [_w])
for _w in sorted(MONTH_ABBR, key=len, reverse=True):
    _mon_alts += _case_forms(_w)
MONTH_RE = "(?:" + "|".join(dict.fromkeys(_mon_alts)) + ")"


def month_number(token: str) -> int | None:
    t = token.lower().rstrip(".")
    return MONTHS.get(t) or MONTH_ABBR.get(t)


# ----------------------------------------------------------------------------- dates
# Named groups: y (year), m (numeric month), mon (month name), d (day), o (ordinal suffix).
# Each match is re-rendered component by component, so separators and styles survive shifting.

_NB = r"(?<![\w/.\-])"  # no word, slash, dot or dash right before
_NA = r"(?![\w/\-]|\.\d)"  # nor after (a trailing full stop or colon is fine)
_ORD = r"(?P<o>st|nd|rd|th)?"

DATE_PATTERNS: list[tuple[str, re.Pattern]] = [
    # 2021-03-14, 2021/3/14, 2021.03.14 (ISO first: year-first is unambiguous)
    ("ymd", re.compile(_NB + r"(?P<y>(?:18|19|20)\d{2})(?P<s>[-/.])(?P<m>\d{1,2})(?P=s)(?P<d>\d{1,2})"
                       r"(?![\w/\-:]|\.\d)")),
    # 20210314 (DICOM DA written into text); validated in code
    ("ymd8", re.compile(r"(?<![\w.\-/])(?P<y>(?:19|20)\d{2})(?P<m>0[1-9]|1[0-2])(?P<d>0[1-9]|[12]\d|3[01])"
                        r"(?![\w/\-]|\.\d)")),
    # 03/14/2021, 3/14/21, 03-14-2021, 14.03.2021
    ("mdy", re.compile(_NB + r"(?P<m>\d{1,2})(?P<s>[/\-.])(?P<d>\d{1,2})(?P=s)(?P<y>\d{4}|\d{2})" + _NA)),
    # March 14, 2021 / Mar. 14th 2021 / MAR 14 2021 / March 14 '21 / Mar-14-2021
    ("mon_d_y", re.compile(r"\b(?P<mon>" + MONTH_RE + r")\.?(?:[ \t]+|-)(?P<d>\d{1,2})" + _ORD +
                           r"(?:,[ \t]*|[ \t]+|-)(?:of[ \t]+)?(?P<y>\d{4}|'\d{2})(?![\w/\-])")),
    # 14 Mar 2021 / 14-Mar-2021 / 14th of March, 2021 / 14-MAR-21 / 14MAR2021
    ("d_mon_y", re.compile(r"(?<![\w/.\-])(?P<d>\d{1,2})" + _ORD + r"(?:[ \t]+of)?[ \t\-]*(?P<mon>" + MONTH_RE +
                           r")\.?(?:,[ \t]*|[ \t\-]*)(?P<y>\d{4}|\d{2})(?![\w/\-])")),
    # March 2021 / Mar 2021 / MAR-2021
    ("mon_y", re.compile(r"\b(?P<mon>" + MONTH_RE + r")\.?(?:,[ \t]*|[ \t\-]+)(?P<y>(?:18|19|20)\d{2})(?![\w/\-])")),
    # March 14 / Mar 14th (no year: shifted within a common year)
    ("mon_d", re.compile(r"\b(?P<mon>" + MONTH_RE + r")\.?[ \t]+(?P<d>\d{1,2})" + _ORD +
                         r"(?![\w/\-:]|\.\d|[ \t]*(?:mm|cm|mg|ml|%|x\b|-\s*\d))")),
    # 14 March / 14th Mar (no year)
    ("d_mon", re.compile(r"(?<![\w/.\-])(?P<d>\d{1,2})" + _ORD + r"(?:[ \t]+of)?[ \t]+(?P<mon>" + MONTH_RE +
                         r")\b\.?(?![ \t\-]*\d)")),
    # 01/2021, 1-2021
    ("m_y", re.compile(_NB + r"(?P<m>0?[1-9]|1[0-2])(?P<s>[/\-])(?P<y>(?:19|20)\d{2})" + _NA)),
    # on 3/14, dated 3/14 (no year; only after a word that introduces a date)
    ("ctx_md", re.compile(r"(?i:\b(?:on|dated|since|from|of|prior|comparison:?|compared\s+(?:to|with))\s+)"
                          r"(?P<m>1[0-2]|0?[1-9])(?P<s>/)(?P<d>3[01]|[12]\d|0?[1-9])(?![\w/\-]|\.\d)")),
]

YEAR_RE = re.compile(r"(?<![\w/.\-#$])(?P<y>(?:19|20)\d{2})(?![\w/\-%]|\.\d|\s*(?:mm|cm|ml|mg|mcg|hu|kg|units?|cc|meq|mgy|msv|mas|kvp)\b)",
                     re.IGNORECASE)

# ----------------------------------------------------------------------------- times

TIME_PATTERNS: list[re.Pattern] = [
    # 14:32, 2:32 PM, 14:32:05, 2:32p.m.
    re.compile(r"(?<![\w:.])(?P<h>[01]?\d|2[0-3]):(?P<mi>[0-5]\d)(?::[0-5]\d(?:\.\d+)?)?"
               r"(?:[ \t]*(?P<ap>[AaPp]\.?[Mm]\.?(?![a-zA-Z])))?(?![\w:]|\.\d)"),
    # 2 PM, 11am, 3 p.m.
    re.compile(r"(?<![\w:.])(?P<h>1[0-2]|0?[1-9])[ \t]*(?P<ap>[AaPp]\.[Mm]\.?|[AaPp][Mm])(?![a-zA-Z])"),
    # 1432 hours, at 0915 hrs
    re.compile(r"(?<![\w:.])(?P<h>[01]\d|2[0-3])(?P<mi>[0-5]\d)[ \t]*(?:hours|hrs|h)\b", re.IGNORECASE),
]

# ----------------------------------------------------------------------------- contact

EMAIL_RE = re.compile(r"(?<![\w.+-])[A-Za-z0-9][\w.+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
URL_RE = re.compile(
    r"(?:\b(?:https?|ftp)://[^\s<>\"')\]]+|\bwww\.[^\s<>\"')\]]+"
    r"|\b[A-Za-z0-9][A-Za-z0-9-]*(?:\.[A-Za-z0-9-]+)*\.(?:com|org|net|edu|gov|mil|io|info|biz|us|health)"
    r"\b(?:/[^\s<>\"')\]]*)?)", re.IGNORECASE)

PHONE_PATTERNS: list[re.Pattern] = [
    # (317) 555-1234, 317-555-1234, 317.555.1234, +1 317 555 1234, with optional extension
    re.compile(r"(?<![\w\-./])(?:\+?1[ \t.\-]?)?(?:\(\d{3}\)[ \t]?|\d{3}[ \t.\-])\d{3}[ \t.\-]\d{4}"
               r"(?:[ \t]*(?:x|ext\.?|extension)[ \t]*\d{1,6})?(?![\w\-/]|\.\d)", re.IGNORECASE),
    # 555-1234 (local)
    re.compile(r"(?<![\w\-./:])\d{3}[\-.]\d{4}(?![\w\-/]|\.\d)"),
    # pager 4567, pgr #12345, ext. 4321, fax: 555 1234, call back 45678
    re.compile(r"(?i:\b(?:pager|pgr|beeper|bpr|ext|extension|phone|ph|tel|telephone|fax|cell|mobile|"
               r"call\s*back|callback|vocera|spectralink)\b\.?(?:\s*(?:number|no\.?|num))?\s*[:#]?\s*(?:is\s+|at\s+)?)"
               r"(?P<v>\d[\d \-.]{2,14}\d)(?![\w\-/]|\.\d)"),
    # x4567 (extension written alone)
    re.compile(r"(?<![\w.])(?<!\d\s)x(?P<v>\d{4,5})\b"),
]

# ----------------------------------------------------------------------------- addresses

STATES = ("AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ "
          "NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC PR").split()
STATE_NAMES = ["Alabama", "Alaska", "Arizona", "Arkansas", "California", "Colorado", "Connecticut",
               "Delaware", "Florida", "Georgia", "Hawaii", "Idaho", "Illinois", "Indiana", "Iowa",
               "Kansas", "Kentucky", "Louisiana", "Maine", "Maryland", "Massachusetts", "Michigan",
               "Minnesota", "Mississippi", "Missouri", "Montana", "Nebraska", "Nevada",
               "New Hampshire", "New Jersey", "New Mexico", "New York", "North Carolina",
               "North Dakota", "Ohio", "Oklahoma", "Oregon", "Pennsylvania", "Rhode Island",
               "South Carolina", "South Dakota", "Tennessee", "Texas", "Utah", "Vermont", "Virginia",
               "Washington", "West Virginia", "Wisconsin", "Wyoming"]
_STATE_RE = "(?:" + "|".join(STATES) + "|" + "|".join(STATE_NAMES) + ")"
STREET_SUFFIX = ("Street|St|Avenue|Ave|Av|Road|Rd|Boulevard|Blvd|Drive|Dr|Lane|Ln|Court|Ct|Place|Pl|Way|"
                 "Terrace|Ter|Circle|Cir|Parkway|Pkwy|Highway|Hwy|Route|Rte|Trail|Trl|Square|Sq|Pike|"
                 "Alley|Row|Crescent|Plaza|Loop|Run|Point|Pt")
_CAPWORD = r"(?:[A-Z][A-Za-z'\-]*\.?|\d+(?:st|nd|rd|th))"
_CITY = r"[A-Z][A-Za-z'\-.]+(?:[ \t]+[A-Z][A-Za-z'\-.]+){0,2}"
_ZIP = r"\d{5}(?:-\d{4})?"

ADDRESS_PATTERNS: list[re.Pattern] = [
    # 123 Main Street[, Apt 4][, Springfield, IL 62704]
    re.compile(r"(?<![\w.\-/])\d{1,6}[ \t]+(?:(?:[NSEW]|North|South|East|West)\.?[ \t]+)?"
               r"(?:" + _CAPWORD + r"[ \t]+){1,3}(?i:" + STREET_SUFFIX + r")\b\.?"
               r"(?:,?[ \t]*(?i:apt|apartment|suite|ste|unit|#|room|rm|floor|fl)\.?[ \t]*#?[A-Za-z0-9\-]+)?"
               r"(?:,[ \t]*" + _CITY + r",?[ \t]+" + _STATE_RE + r"\b\.?(?:[ \t]+" + _ZIP + r")?)?"),
    # Springfield, IL 62704 / Springfield, Illinois 62704
    re.compile(r"\b" + _CITY + r",[ \t]*" + _STATE_RE + r"\.?[ \t]+" + _ZIP + r"\b"),
    # IL 62704
    re.compile(r"\b(?:" + "|".join(STATES) + r")\.?[ \t]+" + _ZIP + r"\b"),
    # zip code 62704
    re.compile(r"(?i:\bzip(?:\s*code)?\s*[:#]?\s*)(?P<v>" + _ZIP + r")\b"),
    # P.O. Box 123
    re.compile(r"\b(?i:P\.?\s?O\.?\s*Box)\s*\d+\b"),
]

INSTITUTION_RE = re.compile(
    r"(?:\b(?:St|Saint|Mt|Mount)\.?[ \t]+)?(?:[A-Z][A-Za-z'\-&.]*[ \t]+){1,4}"
    r"(?:Hospital|Medical[ \t]+Center|Medical[ \t]+Centre|Health[ \t]+Center|Health[ \t]+System|"
    r"Healthcare|HealthCare|Clinic|Infirmary|Imaging[ \t]+Center|Cancer[ \t]+Center|Cancer[ \t]+Institute|"
    r"Memorial|Sanitarium|Hospice|Health)\b"
    r"|\b(?:Hospital|Medical[ \t]+Center|University)[ \t]+of[ \t]+(?:[A-Z][A-Za-z'\-]*[ \t]*){1,3}")

# ----------------------------------------------------------------------------- ages

AGE_PATTERNS: list[re.Pattern] = [
    # 92-year-old, 92 year old, 92 yo, 92 y/o, 92yo, 92 years of age, 92 yrs
    re.compile(r"(?<![\w.])(?P<n>\d{2,3})(?:[ \t\-]*(?:years?|yrs?|y)[ \t\-]*old|[ \t\-]*(?:yo|y/o|y\.o\.?|yr|yrs|"
               r"years?[ \t]+of[ \t]+age)\b|(?:-|[ \t]+)(?:years?|yrs?)\b)", re.IGNORECASE),
    # age 92, aged 92, Age: 92
    re.compile(r"(?i:\bage[ds]?\s*[:=]?\s*)(?P<n>\d{2,3})\b"),
    # 092Y (DICOM AS written into text)
    re.compile(r"(?<![\w.])(?P<n>\d{3})Y\b"),
]
# ninety-two-year-old, one hundred year old: always over 89
AGE_WORDS_RE = re.compile(
    r"(?i:\b(?P<n>(?:ninety|one[ \t\-]hundred(?:[ \t\-]and)?)(?:[ \t\-](?:one|two|three|four|five|six|seven|eight|nine))?)"
    r"(?=[ \t\-]*(?:years?|yrs?|y)(?:[ \t\-]*old|[ \t]+of[ \t]+age)\b))")

# ----------------------------------------------------------------------------- IDs

ID_CONTEXT_RE = re.compile(
    r"(?i:\b(?:MRN|MR\s*#|MR\s+no\.?|medical\s+record(?:\s+number|\s+no\.?|\s+#)?|acc(?:ession)?(?:\s*(?:number|num|no\.?|#))?"
    r"|patient\s+id|pt\.?\s+id|id\s*(?:number|no\.?|#)|(?<![a-z])ID|serial(?:\s+(?:number|no\.?|#))?|S/N|SN|order(?:\s+(?:number|no\.?|#))"
    r"|encounter(?:\s+(?:number|no\.?|#|id))?|visit(?:\s+(?:number|no\.?|#|id))|FIN|CSN|account(?:\s+(?:number|no\.?|#))?"
    r"|acct\.?(?:\s*#)?|case(?:\s+(?:number|no\.?|#|id))|study\s+id|requisition(?:\s+(?:number|no\.?|#))?|insurance\s+id"
    r"|member\s+id|policy(?:\s+(?:number|no\.?|#))?|SSN|social\s+security(?:\s+number)?|license(?:\s+(?:number|no\.?|#))?)"
    r"\s*[:#=]?\s*(?:number|no\.?|#)?\s*[:#=]?\s*)"
    r"(?P<v>[A-Za-z]{0,6}[\-]?\d[A-Za-z0-9\-/]*\d|[A-Za-z]{0,6}\d{3,})(?![\w\-])")
HASH_ID_RE = re.compile(r"(?<![\w&])#\s?(?P<v>[A-Za-z]{0,4}\d{4,}[A-Za-z0-9\-]*)\b")
SSN_RE = re.compile(r"(?<![\w\-])\d{3}-\d{2}-\d{4}(?![\w\-])")
LONG_DIGITS_RE = re.compile(r"(?<![\w.,/\-])\d{6,}(?![\w/\-]|[.,]\d)")
ALNUM_RE = re.compile(r"(?<![\w/.\-#])(?=[A-Za-z0-9\-]*\d)(?=[A-Za-z0-9\-]*[A-Za-z])[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*(?![\w/\-]|\.\w)")
# digits then a unit or ordinal (120kVp, 3000mg, 1990s, 4th) are never IDs
UNIT_TOKEN_RE = re.compile(r"^\d+(?:st|nd|rd|th|s|[a-zA-Z]{1,5})$")
# clinical codes with digits: vertebrae (T12, L5-S1), b-values, sequences, cranial nerves, ribs...
CLINICAL_TOKEN_RE = re.compile(
    r"^(?:\d+(?:x\d+)+(?:mm|cm|px)?|[cpy]?T[0-4xX][a-d]?(?:is)?(?:N[0-3xX][a-c]?)?(?:M[01xX][a-c]?)?"
    r"|[CTLS]\d{1,2}(?:-[CTLS]?\d{1,2})*|b\d{2,4}|[A-Za-z]{1,4}-?\d{1,3}|\d{1,3}[A-Za-z]{1,3}\d{0,2}"
    r"|[A-Za-z]\d[A-Za-z]\d?|COVID-19|SARS-CoV-2|H1N1|CD\d+|HER2|BRCA[12]|ICD-?10|Ga-?68|F-?18|Tc-?99m?)$",
    re.IGNORECASE)

# ----------------------------------------------------------------------------- names

# Title-case titles take an optional full stop; in capitals only DR may omit it (MR, MS are modalities
# and multiple sclerosis).
TITLE_RE = (r"(?:(?:Dr|Doctor|Mr|Mrs|Ms|Miss|Mister|Prof|Professor|DOCTOR|DR|MISS)\.?"
            r"|(?:MR|MRS|MS|PROF)\.)")
# one name token: Smith, SMITH, O'Brien, McDonald, Smith-Jones, J. / J
UP = "A-ZÀ-ÖØ-Þ"  # upper-case Latin letters (ASCII and Latin-1)
LO = "a-zß-öø-ÿĀ-ſ"  # lower-case Latin letters (Latin Extended-A counted here: both cases)
NAME_TOKEN = (rf"(?:[{UP}]'[{UP}][{UP}{LO}]+|[{UP}](?:[{LO}]+|[{UP}]+)(?:['\-][{UP}]?[{UP}{LO}]+)*|Ma?c[{UP}][{LO}]+"
              rf"|[{UP}]\.?)")
NAME_TOKEN_LOWER = r"(?:[a-z][a-z]+(?:['\-][a-z]+)*|[A-Za-z]\.?)"
DEGREES = (r"(?:M\.?D\.?|Ph\.?D\.?|MBBS|MBChB|FRCR|DABR|RT\s*\(R\)|R\.T\.|P\.?A\.?-C|CNP|ARNP|FNP|DNP"
           r"|D\.O\.|R\.N\.|N\.P\.)")
WEAK_DEGREES = r"(?:DO|RN|NP|PA)"

# surname particles: Van der Berg, de la Cruz, bin Laden (only between two name tokens)
PARTICLES = frozenset("van von der den de del della di da du la le bin ibn al el ten ter dos das".split())
PARTICLE = "(?:" + "|".join(sorted({w for p in PARTICLES for w in (p, p.capitalize(), p.upper())}, key=len, reverse=True)) + ")"
_GAP = r"(?:[ \t]|,[ \t]?)(?:" + PARTICLE + r"[ \t](?:" + PARTICLE + r"[ \t])?)?"
_NAME_SEQ = NAME_TOKEN + r"(?:" + _GAP + NAME_TOKEN + r"){0,3}"

# Dr. Smith, Doctor John Smith, DR. J. SMITH, Mr. Smith, Ms Jones
TITLED_NAME_RE = re.compile(r"\b" + TITLE_RE + r"(?:[ \t]+|(?<=\.))(?P<name>(?:" + PARTICLE + r"[ \t])?" + NAME_TOKEN
                            + r"(?:[ \t](?:" + PARTICLE + r"[ \t](?:" + PARTICLE + r"[ \t])?)?" + NAME_TOKEN + r"){0,2})")
TITLED_LOWER_RE = re.compile(r"\b(?:dr|doctor)\.?[ \t]+(?P<name>(?:[a-z]\.[ \t]*)?[a-z][a-z'\-]+(?:[ \t]+[a-z][a-z'\-]+)?)")
# John Smith, MD / SMITH, JOHN M.D. / J. Smith MD / Smith, DO
DEGREE_NAME_RE = re.compile(r"(?P<name>" + _NAME_SEQ + r")(?:(?:,[ \t]*|[ \t]+)" + DEGREES + r"|,[ \t]*" + WEAK_DEGREES + r")(?![A-Za-z])")
DEGREE_LOWER_RE = re.compile(r"(?P<name>[a-z][a-z'\-]+(?:[ \t]+[a-z]\.?(?=[ \t]))?(?:[ \t]+[a-z][a-z'\-]+)?),?[ \t]+(?:m\.d\.|md)(?![a-z])")
# signed by / dictated by / discussed with / called to / attending: ...
_TRIGGERS = (r"(?:electronically[ \t]+)?(?:signed|e-signed|signed[ \t]+out)(?:[ \t]+electronically)?[ \t]+by|dictated[ \t]+by|"
             r"read[ \t]+by|interpreted[ \t]+by|reviewed[ \t]+by|verified[ \t]+by|approved[ \t]+by|"
             r"transcribed[ \t]+by|reported[ \t]+by|performed[ \t]+by|prepared[ \t]+by|finalized[ \t]+by|"
             r"discussed[ \t]+with|reviewed[ \t]+with|called[ \t]+to|communicated[ \t]+to|conveyed[ \t]+to|"
             r"relayed[ \t]+to|reported[ \t]+to|telephoned[ \t]+to|given[ \t]+to|notified|paged|d/w|"
             r"spoke[ \t]+(?:with|to)|talked[ \t]+(?:with|to)|informed|contacted|left[ \t]+(?:a[ \t]+)?message[ \t]+(?:for|with)|"
             r"message[ \t]+left[ \t]+(?:for|with)|(?:contacted|called|paged|accompanied|escorted|referred|seen|"
             r"examined|brought(?:[ \t]+in)?|consented)[ \t]+by|"
             r"attending(?:[ \t]+(?:physician|radiologist))?|resident|fellow|radiologist|technologist|"
             r"sonographer|referring(?:[ \t]+(?:physician|provider|doctor|clinician))?|"
             r"ordering(?:[ \t]+(?:physician|provider|doctor|clinician))?|requested[ \t]+by|ordered[ \t]+by|"
             r"pcp|cc|copy[ \t]+to|physician|provider|patient[ \t]+name|patient|pt|name|nurse|rn")
TRIGGER_NAME_RE = re.compile(r"(?i:\b(?P<trig>" + _TRIGGERS + r")(?:[ \t]*:)?[ \t]+(?:the[ \t]+)?)"
                             r"(?:(?:" + TITLE_RE + r"|(?i:nurse[ \t]+practitioner|physician[ \t]+assistant|nurse|np|pa|rn)\.?)[ \t]+)?"
                             r"(?P<name>" + _NAME_SEQ + r")")
# Weak cues: family members, callers and the patient. A capitalised name after them (or before a
# reporting verb) is taken only with evidence: a census given name or surname, or two capitalised
# words that are no ordinary vocabulary (see scrub_names and name_lexicon).
RELATIONS = ("wife husband spouse partner daughter son mother father sister brother parent guardian caregiver "
             "friend neighbor neighbour niece nephew aunt uncle grandson granddaughter grandmother grandfather "
             "fiance fiancee girlfriend boyfriend roommate stepson stepdaughter stepmother stepfather").split()
_NAME_RUN = NAME_TOKEN + r"(?:[ \t]+(?:" + PARTICLE + r"[ \t]+)?" + NAME_TOKEN + r"){0,3}"
WEAK_CUE_NAME_RE = re.compile(
    r"(?i:\b(?P<cue>patient|pt|" + "|".join(RELATIONS) + r"|called|call[ \t]+from|message[ \t]+from|"
    r"spoke[ \t]+(?:with|to)|talked[ \t]+(?:with|to)|phoned|contacted|contact)(?:'s)?\.?)"
    r"(?:[ \t]*[:,\-])?[ \t]+(?:(?i:the|her|his|their|our|a|an)[ \t]+)?(?P<name>" + _NAME_RUN + r")")
VERB_AFTER_NAME_RE = re.compile(
    r"(?P<name>" + _NAME_RUN + r")(?:[ \t]*,)?[ \t]+(?P<cue>(?i:called|phoned|telephoned|asked|requested|stated|"
    r"agreed|consented|declined|confirmed|(?:was|were)[ \t]+(?:notified|informed|contacted|paged|called|told|"
    r"updated)|is[ \t]+aware|will[ \t]+call|returned[ \t]+the[ \t]+call|left[ \t]+a[ \t]+message)\b|"
    r"\((?i:" + "|".join(RELATIONS) + r")\))")
WEAK_CUE_WORDS = frozenset(RELATIONS + ["patient", "pt", "called", "call", "message", "spoke", "talked", "phoned",
                                        "contacted", "contact"])
VERB_CUE_WORDS = frozenset("""called phoned telephoned asked requested stated agreed consented declined confirmed
    was were is will returned left""".split()) | frozenset(RELATIONS)
# triggers after which a name is expected even in lower case (header lines)
STRONG_TRIGGERS = re.compile(r"(?i)signed|dictated|read[ \t]+by|interpreted|verified|approved|transcribed|"
                             r"attending|resident|fellow|radiologist|technologist|sonographer|referring|ordering|"
                             r"patient[ \t]+name|^name$|prepared|finalized")
TRIGGER_LOWER_RE = re.compile(r"(?i:\b(?P<trig>" + _TRIGGERS + r")[ \t]*:?[ \t]+(?:dr\.?[ \t]+)?)"
                              r"(?P<name>[a-z][a-z'\-]+(?:[ \t]+[a-z]\.?(?=[ \t]))?(?:(?:[ \t]+|,[ \t]*)[a-z][a-z'\-]+)?)")
# SMITH, JOHN (A) in capitals: the RIS/DICOM way of writing a person
CAPS_LAST_FIRST_RE = re.compile(r"\b(?P<name>[A-Z][A-Z'\-]{1,}(?:[ \t][A-Z][A-Z'\-]+)?,[ \t]*[A-Z][A-Z'\-]{1,}(?:[ \t]+[A-Z]\.?(?![A-Za-z.]))?)(?![\w])")
DICOM_PN_RE = re.compile(r"\b(?P<name>[A-Za-z'\-]+\^[A-Za-z'\-]+(?:\^[A-Za-z'\-.]*){0,3})")

# Words that end a context-found name: everyday English, clinical vocabulary, titles, acronyms.
# A token in this set is never taken as a name by context (it still is when it is the
# patient's own known name and written next to another part of it, see text_scrub).
NOT_NAME_WORDS = frozenset("""
a an the and or but of to in on at by for with from as is was were be been are am it its this that these those
he she him her his hers they them their we us our you your i me my who whom whose which what when where why how
not no nor yes all any some each every both either neither one two three four five six seven eight nine ten
first second third last next prior previous today yesterday tomorrow now then there here about above below after
before over under again further once more most other such only own same so than too very can will just should
would could may might must shall has have had do does did done also per via re regarding concerning please
patient patients pt pts physician physicians doctor doctors dr md do nurse nurses rn np pa team teams staff service
clinician clinicians provider providers radiologist radiologists resident residents fellow fellows attending
attendings technologist technologists tech techs referring ordering primary care emergency department er ed icu
ccu picu nicu or pacu floor unit ward clinic hospital office oncology surgery surgical medicine medical
cardiology pulmonary pulmonology neurology neurosurgery urology orthopedics orthopedic gi ent obgyn ob gyn
pediatrics pediatric radiology interventional ir trauma family son daughter wife husband mother father sister
brother friend caregiver spouse parent parents guardian
findings finding impression impressions history indication indications comparison comparisons technique
procedure exam examination study studies report reports result results addendum conclusion recommendation
recommendations clinical note notes summary dictation signature signed electronically reviewed read
ct cta mri mr mra us xr cxr pet spect nm dx cr rf mg fluoro ap pa lat kub iv po hu mm cm ml mg
chest abdomen pelvis head neck brain spine lung lungs heart liver kidney kidneys spleen bone bones
right left bilateral anterior posterior lateral medial superior inferior upper lower mid middle
normal abnormal stable unchanged new acute chronic mild moderate severe small large no none
call called calling discussed discussion results result critical urgent stat preliminary final
at time date on via phone telephone page paged pager verbal verbally
mrn dob acc accession id sex age male female man woman gender exam ordered order location room bed
ssn phone fax email address visit encounter account insurance xxxx xx xxx
practitioner assistant radiation nuclear vascular thoracic cardiothoracic transplant hepatology gastroenterology
nephrology hematology rheumatology endocrinology dermatology psychiatry obstetrics gynecology anesthesia
anesthesiology pathology transport scheduling registration nursing pharmacy respiratory therapy rehabilitation
hospitalist intensivist triage admitting infectious diseases palliative geriatrics orthopaedics otolaryngology
ophthalmology front desk reading room lab laboratory department outside facility
""".split())

# Names that are also common or clinical words: when they are a patient's known name part they are
# only removed next to another part of the name, an initial, or a title (never "white matter").
AMBIGUOUS_NAMES = frozenset("""
white black brown green gray grey young long short king hill wood woods stone lane street park parks
bell bone bones hart heart hall mass page rose faith hope joy grace may june april august will mark
grant frank bill art gene cliff dawn sky rich love price cash chase case hunter baker cook cooper
carter fisher fowler miller mason porter turner walker ward wright smith jones harris barton colles
bennett chance salter paget graves crohn wilson hodgkin cushing addison parkinson morgan kerley hampton
swan foley douglas morison gerota luschka barrett hunt bishop golden silver little best strong sharp
moody early late north south east west lake river field fields hale gross small large wise
sterling christian major nurse dean pope child mercy winter summer spring autumn holly ivy iris
lily daisy ruby pearl amber crystal jade sage reed bush bird fox wolf lamb bass fish
""".split())

# Continuations that make a capitalised name-word clinical: "White matter", "Jones fracture".
EPONYM_NEXT = frozenset("""
matter cell cells count blood fracture fractures cyst cysts lines line criteria classification
disease syndrome sign signs test score scale grade stage node nodes catheter tube filter pouch space
fascia capsule ligament canal duct hernia lesion lesions hump tumor tumour body bodies
""".split())
# Radiology eponyms: a surname in the census lists, but in a report the name of a sign, a line, a
# fracture or a device ("Kerley B lines", "Hampton's hump", "Swan-Ganz catheter"). Never evidence of a
# person by themselves; a title or a context still makes one a name ("Dr. Hampton").
EPONYMS = frozenset("""
kerley hampton westermark fleischner swan ganz foley dobhoff chiari schmorl baker bochdalek morgagni
hodgkin crohn barrett graves paget colles smith jones boerhaave mallory weiss zenker meckel hirschsprung
wilms ewing kaposi pancoast horner monteggia galeazzi salter harris bankart sachs segond lisfranc
jefferson brodie perthes legg calve osgood schlatter sinding larsen kienbock preiser madelung sprengel
klippel feil arnold dandy walker budd wernicke virchow morison gerota luschka glisson willis monro
magendie batson stensen wharton valsalva cooper poland tietze mondor pott scheuermann baastrup forestier
caplan loeffler churg strauss wegener goodpasture kartagener macleod mounier kuhn williams campbell
birt hogg dube windermere golden felson luftsichel palla hickman groshong broviac mediport seldinger
frank ranson glasgow fleischner bosniak lugano hounsfield doppler roux whipple nissen hartmann
""".split())
# Name-words that start ordinary sentences: taken as a known name only beside another name part
# or a title.
VERY_COMMON = frozenset("""
may will mark grant frank bill art gene hope faith joy grace case chance long short small large early
late best little rich love price page hall park ward field fields lake river north south east west
""".split())

# Common given names (US census top names): "John Smith" without any context is a person.
FIRST_NAMES = frozenset("""
james john robert michael william david richard joseph thomas charles christopher daniel matthew anthony
mark donald steven paul andrew joshua kenneth kevin brian george timothy ronald edward jason jeffrey ryan
jacob gary nicholas eric jonathan stephen larry justin scott brandon benjamin samuel gregory alexander
frank patrick raymond jack dennis jerry tyler aaron jose adam nathan henry douglas zachary peter kyle
ethan walter noah jeremy christian keith roger terry gerald harold sean austin carl arthur lawrence
dylan jesse jordan bryan billy joe bruce gabriel logan albert willie alan juan wayne elijah randy roy
vincent ralph eugene russell bobby mason philip louis harry howard fred
mary patricia jennifer linda elizabeth barbara susan jessica sarah karen lisa nancy betty margaret
sandra ashley kimberly emily donna michelle carol amanda dorothy melissa deborah stephanie rebecca
sharon laura cynthia kathleen amy angela shirley anna brenda pamela emma nicole helen samantha
katherine christine debra rachel carolyn janet catherine maria heather diane ruth julie olivia joyce
virginia victoria kelly lauren christina joan evelyn judith megan andrea cheryl hannah jacqueline
martha gloria teresa ann sara madison frances kathryn janice jean abigail alice judy sophia julia
grace denise amber doris marilyn danielle beverly isabella theresa diana natalie brittany charlotte
marie kayla alexis lori jane john jim bob tom susan kate anne mohammed muhammad ahmed priya
""".split())

# Which keyword-led families can be present at all, from the set of lower-case words of a report
# (one cheap pass), so the costly case-insensitive context patterns run only on reports that have
# their keywords (most have none). Each family's words are a superset of its pattern's keywords.
WORD_RE = re.compile(r"[a-z]+")
HINT_WORDS: dict[str, frozenset] = {
    "trig": frozenset("""signed esigned dictated read interpreted reviewed verified approved transcribed reported
        performed prepared finalized discussed called communicated conveyed relayed telephoned given notified
        paged w spoke talked informed contacted left attending resident fellow radiologist technologist sonographer referring ordering requested
        ordered pcp cc copy physician provider patient pt name nurse rn message accompanied escorted referred
        seen examined brought consented""".split()),
    "degree": frozenset("md m phd ph mbbs mbchb frcr dabr rt r cnp arnp fnp dnp do rn np pa d o n".split()),
    "idctx": frozenset("""mrn mr medical acc accession id serial s sn order encounter visit fin csn account acct
        case study requisition insurance member policy ssn social license""".split()),
    "url": frozenset("http https ftp www com org net edu gov mil io info biz us health".split()),
    "inst": frozenset("""hospital medical health clinic infirmary imaging cancer memorial sanitarium hospice
        university healthcare""".split()),
    "phonectx": frozenset("""pager pgr beeper bpr ext extension phone ph tel telephone fax cell mobile call
        callback vocera spectralink""".split()),
    "month": frozenset(list(MONTHS) + list(MONTH_ABBR)),
    "ampm": frozenset("am pm a p".split()),
    "hours": frozenset("hours hrs h".split()),
    "age": frozenset("year years yr yrs y yo o age aged ages ninety hundred".split()),
    "zip": frozenset("zip".split()),
    "street": frozenset(w.lower() for w in STREET_SUFFIX.split("|")),
    "pobox": frozenset("box".split()),
}
