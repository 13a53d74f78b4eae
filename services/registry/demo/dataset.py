"""A deterministic, clearly synthetic dataset of the two settings of our source regulations.

The Baltiysk municipal district of the Kaliningrad region runs a municipal network under the
district's education authority with its methodological office (приказ УО № 474 от 10.08.2017);
the Republic of Kalmykia runs a regional network coordinated by КРИПКРО with network centres in
stable-results schools (приказ КРИПКРО № 52 от 01.03.2021). Every organization name carries
«(демо)»; people's names are random combinations; ИНН and ОГРН are random with valid checksums;
websites and e-mails use the reserved ``example.org`` domain. Nothing here describes a real
school or a real person.

The same seed always gives the same data. :func:`national_organizations` and
:func:`national_educators` stream plain tuples for benchmarks at national scale.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

from setka_contracts.identifiers import inn_check_digit, ogrn_check_digit
from setka_contracts.registry import RiskFactor, RiskLevel

SYNTHETIC = "(демо)"
DEFAULT_SEED = 2026


def synthetic_inn(rng: random.Random, prefix: str) -> str:
    """A 10-digit ИНН with a valid checksum, starting with the region's tax office code."""
    body = prefix + "".join(str(rng.randrange(10)) for _ in range(9 - len(prefix)))
    return body + inn_check_digit(body)


def synthetic_ogrn(rng: random.Random, region_code: str) -> str:
    """A 13-digit ОГРН: sign 1, year, region, random record number, checksum (mod 11, mod 10)."""
    body = "1" + f"{rng.randrange(2, 24):02d}" + region_code.zfill(2)[-2:]
    body += "".join(str(rng.randrange(10)) for _ in range(12 - len(body)))
    return body + ogrn_check_digit(body)


# ---------------------------------------------------------------------------------------------
# what the generator produces: plain frozen records, keyed by a stable string of their own


@dataclass(frozen=True)
class DemoRegion:
    code: str
    name: str


@dataclass(frozen=True)
class DemoMunicipality:
    region_code: str
    name: str


@dataclass(frozen=True)
class DemoStatus:
    status: str
    since: date
    until: date | None = None


@dataclass(frozen=True)
class DemoOrganization:
    key: str
    full_name: str
    short_name: str
    kind: str
    region_code: str
    municipality: str
    inn: str
    ogrn: str
    school_code: str | None
    address: str
    website: str
    email: str
    statuses: tuple[DemoStatus, ...] = ()


@dataclass(frozen=True)
class DemoRiskProfile:
    organization: str
    assessed_on: date
    levels: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class DemoEducator:
    key: str
    organizations: tuple[str, ...]
    last_name: str
    first_name: str
    middle_name: str
    position: str
    subjects: tuple[str, ...]
    qualification_category: str

    @property
    def full_name(self) -> str:
        return f"{self.last_name} {self.first_name} {self.middle_name}"


@dataclass(frozen=True)
class DemoNetwork:
    key: str
    name: str
    level: str
    governing_body: str
    coordinator: str
    started_on: date


@dataclass(frozen=True)
class DemoMembership:
    network: str
    organization: str
    role: str
    joined_on: date


@dataclass(frozen=True)
class DemoResource:
    organization: str
    kind: str
    title: str
    description: str
    subjects: tuple[str, ...]
    capacity: int
    available_from: date
    available_to: date | None


@dataclass(frozen=True)
class DemoAgreement:
    network: str
    number: str
    signed_on: date
    parties: tuple[str, ...]
    subject: str
    valid_from: date
    valid_to: date


@dataclass(frozen=True)
class DemoRegulation:
    network: str
    kind: str
    number: str
    issued_on: date
    issuer: str
    title: str
    link: str | None


@dataclass(frozen=True)
class DemoInteractionGroup:
    network: str
    name: str
    purpose: str
    organizations: tuple[str, ...]
    educators: tuple[str, ...]


@dataclass(frozen=True)
class DemoDataset:
    regions: tuple[DemoRegion, ...]
    municipalities: tuple[DemoMunicipality, ...]
    organizations: tuple[DemoOrganization, ...]
    risk_profiles: tuple[DemoRiskProfile, ...]
    educators: tuple[DemoEducator, ...]
    networks: tuple[DemoNetwork, ...]
    memberships: tuple[DemoMembership, ...]
    resources: tuple[DemoResource, ...]
    agreements: tuple[DemoAgreement, ...]
    regulations: tuple[DemoRegulation, ...]
    groups: tuple[DemoInteractionGroup, ...]

    def organization(self, key: str) -> DemoOrganization:
        return next(o for o in self.organizations if o.key == key)


# ---------------------------------------------------------------------------------------------
# vocabularies

KALININGRAD = DemoRegion("39", "Калининградская область")
KALMYKIA = DemoRegion("08", "Республика Калмыкия")
BALTIYSK = "Балтийский муниципальный округ"
ELISTA = "г. Элиста"
KALMYKIA_DISTRICTS = (
    "Городовиковский район",
    "Ики-Бурульский район",
    "Кетченеровский район",
    "Лаганский район",
    "Малодербетовский район",
    "Октябрьский район",
    "Приютненский район",
    "Сарпинский район",
    "Целинный район",
    "Черноземельский район",
    "Юстинский район",
    "Яшалтинский район",
    "Яшкульский район",
)
_DISTRICT_CENTRES = {
    "Городовиковский район": "г. Городовиковск",
    "Ики-Бурульский район": "п. Ики-Бурул",
    "Кетченеровский район": "п. Кетченеры",
    "Лаганский район": "г. Лагань",
    "Малодербетовский район": "с. Малые Дербеты",
    "Октябрьский район": "п. Большой Царын",
    "Приютненский район": "с. Приютное",
    "Сарпинский район": "с. Садовое",
    "Целинный район": "с. Троицкое",
    "Черноземельский район": "п. Комсомольский",
    "Юстинский район": "п. Цаган Аман",
    "Яшалтинский район": "с. Яшалта",
    "Яшкульский район": "п. Яшкуль",
}
_BALTIYSK_PLACES = (
    ("г. Балтийск", "г. Балтийска"),
    ("г. Балтийск", "г. Балтийска"),
    ("г. Балтийск", "г. Балтийска"),
    ("г. Приморск", "г. Приморска"),
    ("пос. Дивное", "пос. Дивное"),
    ("пос. Мечниково", "пос. Мечниково"),
)
_ADJECTIVES = {
    "г. Городовиковск": "Городовиковская",
    "п. Ики-Бурул": "Ики-Бурульская",
    "п. Кетченеры": "Кетченеровская",
    "г. Лагань": "Лаганская",
    "с. Малые Дербеты": "Малодербетовская",
    "п. Большой Царын": "Большецарынская",
    "с. Приютное": "Приютненская",
    "с. Садовое": "Садовская",
    "с. Троицкое": "Троицкая",
    "п. Комсомольский": "Комсомольская",
    "п. Цаган Аман": "Цаганаманская",
    "с. Яшалта": "Яшалтинская",
    "п. Яшкуль": "Яшкульская",
}
_VILLAGES = (
    ("с. Уласта", "Уластинская"),
    ("п. Ханата", "Ханатинская"),
    ("с. Зунда-Толга", "Зунда-Толгинская"),
    ("п. Нарын-Худук", "Нарын-Худукская"),
    ("п. Эрдниевский", "Эрдниевская"),
    ("п. Адык", "Адыковская"),
    ("с. Красносельское", "Красносельская"),
    ("с. Кануково", "Кануковская"),
)

RISK_FACTORS = tuple(factor.value for factor in RiskFactor)
RISK_LEVELS = tuple(level.value for level in RiskLevel)

SUBJECTS = (
    "русский язык",
    "литература",
    "математика",
    "физика",
    "химия",
    "биология",
    "история",
    "обществознание",
    "география",
    "информатика",
    "английский язык",
    "начальные классы",
    "физическая культура",
    "технология",
    "музыка",
    "изобразительное искусство",
)
_KALMYK_SUBJECTS = ("калмыцкий язык", "калмыцкая литература")
QUALIFICATION_CATEGORIES = ("highest", "first", "none", "methodologist", "mentor")
_CATEGORY_WEIGHTS = (28, 35, 33, 2, 2)

_RUSSIAN_SURNAMES = (
    "Иванов",
    "Смирнов",
    "Кузнецов",
    "Попов",
    "Васильев",
    "Петров",
    "Соколов",
    "Михайлов",
    "Новиков",
    "Фёдоров",
    "Морозов",
    "Волков",
    "Алексеев",
    "Лебедев",
    "Семёнов",
    "Егоров",
    "Павлов",
    "Козлов",
    "Степанов",
    "Николаев",
    "Орлов",
    "Андреев",
    "Макаров",
    "Никитин",
    "Захаров",
    "Зайцев",
    "Соловьёв",
    "Борисов",
    "Яковлев",
    "Григорьев",
    "Романов",
    "Воробьёв",
)
_KALMYK_SURNAMES = (
    "Бадмаев",
    "Сангаджиев",
    "Очиров",
    "Басангов",
    "Манджиев",
    "Эрдниев",
    "Убушиев",
    "Горяев",
    "Бембеев",
    "Лиджиев",
    "Цеденов",
    "Болдырев",
    "Мучкаев",
    "Нимгиров",
    "Кекеев",
    "Шалхаков",
    "Дорджиев",
    "Санджиев",
    "Утнасунов",
    "Хечиев",
)
_MALE_NAMES = (
    "Александр",
    "Сергей",
    "Дмитрий",
    "Андрей",
    "Алексей",
    "Максим",
    "Евгений",
    "Иван",
    "Михаил",
    "Николай",
    "Владимир",
    "Павел",
    "Олег",
    "Игорь",
)
_FEMALE_NAMES = (
    "Елена",
    "Ольга",
    "Наталья",
    "Татьяна",
    "Ирина",
    "Светлана",
    "Анна",
    "Марина",
    "Юлия",
    "Екатерина",
    "Галина",
    "Людмила",
    "Надежда",
    "Валентина",
    "Оксана",
    "Мария",
)
_KALMYK_MALE_NAMES = ("Баатр", "Санал", "Мерген", "Церен", "Бадма", "Очир", "Эрдни", "Арслан")
_KALMYK_FEMALE_NAMES = ("Цаган", "Байрта", "Кермен", "Гиляна", "Булгун", "Амуланга", "Ользята", "Айса")
_FATHERS = (
    ("Александрович", "Александровна"),
    ("Сергеевич", "Сергеевна"),
    ("Викторович", "Викторовна"),
    ("Николаевич", "Николаевна"),
    ("Владимирович", "Владимировна"),
    ("Петрович", "Петровна"),
    ("Иванович", "Ивановна"),
    ("Юрьевич", "Юрьевна"),
    ("Анатольевич", "Анатольевна"),
    ("Борисович", "Борисовна"),
    ("Геннадьевич", "Геннадьевна"),
    ("Михайлович", "Михайловна"),
)
_KALMYK_FATHERS = (
    ("Бадмаевич", "Бадмаевна"),
    ("Санджиевич", "Санджиевна"),
    ("Очирович", "Очировна"),
    ("Манджиевич", "Манджиевна"),
    ("Церенович", "Цереновна"),
    ("Эрдниевич", "Эрдниевна"),
)


def _feminine(surname: str) -> str:
    return surname + "а" if surname.endswith(("ов", "ев", "ёв", "ин")) else surname


def _person(rng: random.Random, *, kalmyk_share: float) -> tuple[str, str, str, bool]:
    """(last, first, middle, is_female): a random combination, never a real person on purpose."""
    female = rng.random() < 0.82  # most school teachers in Russia are women
    kalmyk = rng.random() < kalmyk_share
    surname = rng.choice(_KALMYK_SURNAMES if kalmyk else _RUSSIAN_SURNAMES)
    if female:
        first = rng.choice(_KALMYK_FEMALE_NAMES if kalmyk and rng.random() < 0.6 else _FEMALE_NAMES)
        surname = _feminine(surname)
    else:
        first = rng.choice(_KALMYK_MALE_NAMES if kalmyk and rng.random() < 0.6 else _MALE_NAMES)
    father = rng.choice(_KALMYK_FATHERS if kalmyk and rng.random() < 0.5 else _FATHERS)
    return surname, first, father[1] if female else father[0], female


# ---------------------------------------------------------------------------------------------
# the generator


@dataclass
class _Builder:
    rng: random.Random
    organizations: list[DemoOrganization] = field(default_factory=list)
    educators: list[DemoEducator] = field(default_factory=list)
    risk_profiles: list[DemoRiskProfile] = field(default_factory=list)
    used_inn: set[str] = field(default_factory=set)
    school_numbers: dict[str, int] = field(default_factory=dict)

    def inn(self, prefix: str) -> str:
        while True:
            value = synthetic_inn(self.rng, prefix)
            if value not in self.used_inn:
                self.used_inn.add(value)
                return value

    def organization(
        self,
        key: str,
        full_name: str,
        short_name: str,
        kind: str,
        region: DemoRegion,
        municipality: str,
        place: str,
        *,
        inn_prefix: str,
        statuses: tuple[DemoStatus, ...] = (),
    ) -> DemoOrganization:
        school_code = None
        if kind == "school":
            self.school_numbers[region.code] = self.school_numbers.get(region.code, 0) + 1
            school_code = f"sch{region.code}{3000 + self.school_numbers[region.code]:04d}"
        streets = ("ул. Ленина", "ул. Мира", "ул. Школьная", "ул. Садовая", "ул. Советская", "пр. Победы")
        org = DemoOrganization(
            key=key,
            full_name=f"{full_name} {SYNTHETIC}",
            short_name=f"{short_name} {SYNTHETIC}",
            kind=kind,
            region_code=region.code,
            municipality=municipality,
            inn=self.inn(inn_prefix),
            ogrn=synthetic_ogrn(self.rng, region.code),
            school_code=school_code,
            address=f"{region.name}, {place}, {self.rng.choice(streets)}, д. {self.rng.randrange(1, 60)}",
            website=f"https://{key.replace('_', '-')}.demo.example.org",
            email=f"{key.replace('_', '.')}@demo.example.org",
            statuses=statuses,
        )
        self.organizations.append(org)
        return org

    def school_statuses(self, *, low: float, adverse: float, stable: float) -> tuple[DemoStatus, ...]:
        """A dated history: some schools entered the low-results list and some have left it."""
        roll = self.rng.random()
        entered = date(2021, 1, 15) + timedelta(days=365 * self.rng.randrange(0, 3))
        if roll < low:
            if self.rng.random() < 0.25:  # left the list, results now stable
                left = entered + timedelta(days=365 * 2)
                return (DemoStatus("low_results", entered, left), DemoStatus("stable_results", left))
            history = [DemoStatus("low_results", entered)]
            if self.rng.random() < 0.4:
                history.append(DemoStatus("adverse_social_conditions", entered))
            return tuple(history)
        if roll < low + adverse:
            return (DemoStatus("adverse_social_conditions", entered),)
        if roll < low + adverse + stable:
            return (DemoStatus("stable_results", date(2020, 9, 1)),)
        return ()

    def risk_profile(self, org: DemoOrganization) -> None:
        current = {s.status for s in org.statuses if s.until is None}
        if not current & {"low_results", "adverse_social_conditions"}:
            return
        for year in (2022, 2024):
            levels = tuple(
                (factor, self.rng.choices(RISK_LEVELS, weights=(3, 4, 3) if year == 2022 else (4, 4, 2))[0])
                for factor in RISK_FACTORS
            )
            self.risk_profiles.append(DemoRiskProfile(org.key, date(year, 3, 1), levels))

    def staff(self, org: DemoOrganization, count: int, *, kalmyk_share: float) -> None:
        subjects = SUBJECTS + (_KALMYK_SUBJECTS if org.region_code == KALMYKIA.code else ())
        for number in range(1, count + 1):
            last, first, middle, _ = _person(self.rng, kalmyk_share=kalmyk_share)
            taught: tuple[str, ...] = ()
            if org.kind == "school":
                if number == 1:
                    position, taught = "директор", ()
                elif number == 2:
                    position, taught = "заместитель директора по учебно-воспитательной работе", ()
                elif number == 3:
                    position, taught = "педагог-психолог", ()
                else:
                    position = "учитель"
                    taught = tuple(sorted(set(self.rng.sample(subjects, self.rng.choice((1, 1, 2))))))
            elif org.kind == "kindergarten":
                position, taught = ("заведующий" if number == 1 else "воспитатель"), ()
            elif org.kind == "additional_education":
                position, taught = ("директор" if number == 1 else "педагог дополнительного образования"), ()
            else:
                position = "руководитель" if number == 1 else "методист"
                taught = tuple(sorted(set(self.rng.sample(subjects, 2)))) if number > 1 else ()
            category = self.rng.choices(QUALIFICATION_CATEGORIES, weights=_CATEGORY_WEIGHTS)[0]
            self.educators.append(
                DemoEducator(
                    key=f"{org.key}.{number:03d}",
                    organizations=(org.key,),
                    last_name=last,
                    first_name=first,
                    middle_name=middle,
                    position=position,
                    subjects=taught,
                    qualification_category=category,
                )
            )


def _current(org: DemoOrganization, status: str) -> bool:
    return any(s.status == status and s.until is None for s in org.statuses)


def generate(seed: int = DEFAULT_SEED, *, scale: int = 1) -> DemoDataset:
    """The demo dataset; ``scale`` multiplies the number of schools (and so of educators)."""
    rng = random.Random(seed)
    b = _Builder(rng)
    baltiysk_schools: list[DemoOrganization] = []
    kalmykia_schools: list[DemoOrganization] = []

    # --- Kaliningrad region: Baltiysk municipal district --------------------------------------
    b.organization(
        "kld_ministry",
        "Министерство образования Калининградской области",
        "Минобр КО",
        "education_authority",
        KALININGRAD,
        "городской округ «Город Калининград»",
        "г. Калининград",
        inn_prefix="3906",
    )
    authority = b.organization(
        "baltiysk_authority",
        "Управление образования администрации Балтийского муниципального округа",
        "УО Балтийского МО",
        "education_authority",
        KALININGRAD,
        BALTIYSK,
        "г. Балтийск",
        inn_prefix="3901",
    )
    office = b.organization(
        "baltiysk_office",
        "Методический кабинет управления образования администрации Балтийского муниципального округа",
        "Методический кабинет БМО",
        "methodological_service",
        KALININGRAD,
        BALTIYSK,
        "г. Балтийск",
        inn_prefix="3901",
    )
    for number in range(1, 8 * scale + 1):
        place, of_place = _BALTIYSK_PLACES[(number - 1) % len(_BALTIYSK_PLACES)]
        kind_word = "ООШ" if place.startswith("пос.") else "СОШ"
        long_kind = "основная" if kind_word == "ООШ" else "средняя"
        school = b.organization(
            f"baltiysk_school_{number}",
            f"Муниципальное бюджетное общеобразовательное учреждение «{long_kind.capitalize()}"
            f" общеобразовательная школа № {number}» {of_place}",
            f"МБОУ {kind_word} № {number} {of_place}",
            "school",
            KALININGRAD,
            BALTIYSK,
            place,
            inn_prefix="3901",
            statuses=b.school_statuses(low=0.3, adverse=0.15, stable=0.35),
        )
        baltiysk_schools.append(school)
    for number in range(1, 3 * scale + 1):
        b.organization(
            f"baltiysk_kindergarten_{number}",
            f"Муниципальное бюджетное дошкольное образовательное учреждение «Детский сад № {number}»"
            " г. Балтийска",
            f"МБДОУ д/с № {number} г. Балтийска",
            "kindergarten",
            KALININGRAD,
            BALTIYSK,
            "г. Балтийск",
            inn_prefix="3901",
        )
    house = b.organization(
        "baltiysk_ddt",
        "Муниципальное бюджетное учреждение дополнительного образования"
        " «Дом детского творчества» г. Балтийска",
        "МБУ ДО ДДТ г. Балтийска",
        "additional_education",
        KALININGRAD,
        BALTIYSK,
        "г. Балтийск",
        inn_prefix="3901",
    )

    # --- Republic of Kalmykia -----------------------------------------------------------------
    ministry = b.organization(
        "kalmykia_ministry",
        "Министерство образования и науки Республики Калмыкия",
        "Минобрнауки РК",
        "education_authority",
        KALMYKIA,
        ELISTA,
        ELISTA,
        inn_prefix="0814",
    )
    institute = b.organization(
        "kripkro",
        "Бюджетное учреждение дополнительного профессионального образования Республики Калмыкия"
        " «Калмыцкий республиканский институт повышения квалификации работников образования»",
        "БУ ДПО РК «КРИПКРО»",
        "development_institute",
        KALMYKIA,
        ELISTA,
        ELISTA,
        inn_prefix="0814",
    )
    for number in range(1, 10 * scale + 1):
        school = b.organization(
            f"elista_school_{number}",
            f"Муниципальное бюджетное общеобразовательное учреждение «Элистинская средняя"
            f" общеобразовательная школа № {number}»",
            f"МБОУ «ЭСОШ № {number}»",
            "school",
            KALMYKIA,
            ELISTA,
            ELISTA,
            inn_prefix="0814",
            statuses=b.school_statuses(low=0.2, adverse=0.1, stable=0.5),
        )
        kalmykia_schools.append(school)
    for district in KALMYKIA_DISTRICTS:
        centre = _DISTRICT_CENTRES[district]
        short_district = district.replace(" район", "").replace("ий", "ого")
        b.organization(
            f"authority_{_slug(district)}",
            f"Отдел образования администрации {short_district} районного муниципального образования",
            f"ОО {district}",
            "education_authority",
            KALMYKIA,
            district,
            centre,
            inn_prefix="08",
        )
        for number in range(
            1, 2 * scale + 2 if district in ("Лаганский район", "Яшкульский район") else 2 * scale + 1
        ):
            settlement, adjective = (centre, _ADJECTIVES[centre]) if number == 1 else rng.choice(_VILLAGES)
            school = b.organization(
                f"{_slug(district)}_school_{number}",
                f"Муниципальное казённое общеобразовательное учреждение «{adjective}"
                f" средняя общеобразовательная школа № {number}» ({district})",
                f"МКОУ «{adjective} СОШ № {number}»",
                "school",
                KALMYKIA,
                district,
                settlement,
                inn_prefix="08",
                statuses=b.school_statuses(low=0.35, adverse=0.25, stable=0.25),
            )
            kalmykia_schools.append(school)

    # --- educators and risk profiles ----------------------------------------------------------
    for org in b.organizations:
        share = 0.55 if org.region_code == KALMYKIA.code else 0.0
        if org.kind == "school":
            b.staff(org, rng.randrange(8, 16), kalmyk_share=share)
            b.risk_profile(org)
        elif org.kind in ("methodological_service", "development_institute"):
            b.staff(org, rng.randrange(4, 8), kalmyk_share=share)
        elif org.kind in ("kindergarten", "additional_education"):
            b.staff(org, rng.randrange(3, 6), kalmyk_share=share)
    # a few teachers also work part-time at a second school of the same municipality
    educators = list(b.educators)
    for index, educator in enumerate(educators):
        if educator.position == "учитель" and rng.random() < 0.04:
            home = next(o for o in b.organizations if o.key == educator.organizations[0])
            others = [
                o.key
                for o in b.organizations
                if o.kind == "school" and o.municipality == home.municipality and o.key != home.key
            ]
            if others:
                educators[index] = DemoEducator(
                    **{**educator.__dict__, "organizations": (educator.organizations[0], rng.choice(others))}
                )

    # --- networks -------------------------------------------------------------------------------
    baltiysk_net = DemoNetwork(
        "baltiysk_network",
        f"Сеть образовательных организаций Балтийского муниципального округа «Школы эффективного роста»"
        f" {SYNTHETIC}",
        "municipal",
        authority.key,
        office.key,
        date(2017, 8, 10),
    )
    kalmykia_net = DemoNetwork(
        "kalmykia_network",
        "Региональная сеть повышения качества образования в школах с низкими результатами обучения"
        " и в школах, функционирующих в неблагоприятных социальных условиях, Республики Калмыкия"
        f" {SYNTHETIC}",
        "regional",
        ministry.key,
        institute.key,
        date(2021, 3, 1),
    )
    memberships: list[DemoMembership] = [
        # the methodological office coordinates the district's network (приказ № 474)
        DemoMembership(baltiysk_net.key, office.key, "coordinator", baltiysk_net.started_on),
        DemoMembership(baltiysk_net.key, house.key, "partner", date(2018, 9, 1)),
        # КРИПКРО coordinates the republic's network (приказ № 52); the ministry governs it
        DemoMembership(kalmykia_net.key, institute.key, "coordinator", kalmykia_net.started_on),
    ]
    today = date(2025, 9, 1)
    centres: dict[str, list[str]] = {baltiysk_net.key: [], kalmykia_net.key: []}
    for network, schools, centre_quota in (
        (baltiysk_net, baltiysk_schools, 1 * scale),
        (kalmykia_net, kalmykia_schools, 4 * scale),
    ):
        centre_places: set[str] = set()
        for school in schools:
            joined = (
                max(network.started_on, min(s.since for s in school.statuses))
                if school.statuses
                else (network.started_on)
            )
            if _current(school, "stable_results"):
                stable_since = next(s.since for s in school.statuses if s.status == "stable_results")
                joined = max(network.started_on, stable_since)
                # one centre per municipality first, so centres are in Elista and in the districts
                if len(centres[network.key]) < centre_quota and school.municipality not in centre_places:
                    role = "centre"
                    centre_places.add(school.municipality)
                    centres[network.key].append(school.key)
                else:
                    role = "partner"
            elif _current(school, "low_results") or _current(school, "adverse_social_conditions"):
                role = "supported"
                since = min(s.since for s in school.statuses if s.until is None)
                joined = max(network.started_on, since)
            else:
                role = "partner"
            memberships.append(DemoMembership(network.key, school.key, role, min(joined, today)))

    # --- resources, agreements, regulations, groups ---------------------------------------------
    resources: list[DemoResource] = []
    for membership in memberships:
        if membership.role not in ("centre", "partner", "methodological_support"):
            continue
        owner = membership.organization
        subject_pool = SUBJECTS[:11]
        if membership.role == "centre" or rng.random() < 0.5:
            subject = rng.choice(subject_pool)
            resources.append(
                DemoResource(
                    owner,
                    "staff",
                    f"Учитель-наставник по предмету «{subject}»",
                    "Консультации и открытые уроки для учителей сопровождаемых школ",
                    (subject,),
                    rng.randrange(3, 12),
                    date(2024, 9, 1),
                    date(2026, 5, 31),
                )
            )
        if membership.role in ("centre", "methodological_support") or rng.random() < 0.3:
            subject = rng.choice(subject_pool)
            resources.append(
                DemoResource(
                    owner,
                    "methodological",
                    f"Банк заданий по функциональной грамотности: {subject}",
                    "Диагностические работы и разборы типичных ошибок ВПР и ОГЭ",
                    (subject,),
                    50,
                    date(2024, 9, 1),
                    None,
                )
            )
        if membership.role == "centre" or rng.random() < 0.25:
            lab = rng.choice(
                (
                    ("Центр «Точка роста»", ("физика", "химия", "биология")),
                    ("Кабинет робототехники", ("информатика", "технология")),
                    ("Мобильный класс с цифровыми лабораториями", ("физика", "биология")),
                )
            )
            resources.append(
                DemoResource(
                    owner,
                    "material",
                    lab[0],
                    "Занятия групп учащихся партнёрских школ по расписанию",
                    lab[1],
                    rng.randrange(10, 26),
                    date(2024, 9, 1),
                    date(2026, 6, 30),
                )
            )

    agreements: list[DemoAgreement] = []
    by_network: dict[str, list[DemoMembership]] = {}
    for membership in memberships:
        by_network.setdefault(membership.network, []).append(membership)
    number = 0
    for network in (baltiysk_net, kalmykia_net):
        supported = [m.organization for m in by_network[network.key] if m.role == "supported"]
        for index, centre_key in enumerate(centres[network.key] or [network.coordinator]):
            assigned = supported[index :: max(1, len(centres[network.key]))]
            if not assigned:
                continue
            number += 1
            signed = date(2024, 8, 20) + timedelta(days=index)
            agreements.append(
                DemoAgreement(
                    network.key,
                    f"{number}-СВ/2024",
                    signed,
                    (centre_key, *assigned),
                    "О сетевом взаимодействии по повышению качества образования",
                    signed,
                    date(2026, 8, 31),
                )
            )

    regulations = (
        DemoRegulation(
            baltiysk_net.key,
            "order",
            "474",
            date(2017, 8, 10),
            authority.key,
            "О подтверждении Положения о сетевом взаимодействии образовательных организаций"
            " Балтийского муниципального района",
            None,
        ),
        DemoRegulation(
            baltiysk_net.key,
            "provision",
            "Приложение № 1 к приказу № 474",
            date(2017, 8, 10),
            authority.key,
            "Положение о сетевом взаимодействии образовательных организаций Балтийского"
            " муниципального района",
            None,
        ),
        DemoRegulation(
            kalmykia_net.key,
            "order",
            "52",
            date(2021, 3, 1),
            institute.key,
            "Об утверждении положения о сетевом взаимодействии по повышению качества образования"
            " в школах с низкими результатами обучения и в школах, функционирующих в"
            " неблагоприятных социальных условиях",
            None,
        ),
    )

    groups: list[DemoInteractionGroup] = []
    for network in (baltiysk_net, kalmykia_net):
        members = [m.organization for m in by_network[network.key] if m.role in ("centre", "supported")]
        for subject in ("математика", "русский язык"):
            teachers = tuple(
                e.key for e in educators if e.organizations[0] in members and subject in e.subjects
            )
            groups.append(
                DemoInteractionGroup(
                    network.key,
                    f"Методическое объединение учителей сети: {subject}",
                    f"Взаимообучение и разбор результатов оценочных процедур по предмету «{subject}»",
                    tuple(members),
                    teachers,
                )
            )

    municipalities = tuple(
        sorted(
            {DemoMunicipality(o.region_code, o.municipality) for o in b.organizations},
            key=lambda m: (m.region_code, m.name),
        )
    )
    return DemoDataset(
        regions=(KALMYKIA, KALININGRAD),
        municipalities=municipalities,
        organizations=tuple(b.organizations),
        risk_profiles=tuple(b.risk_profiles),
        educators=tuple(educators),
        networks=(baltiysk_net, kalmykia_net),
        memberships=tuple(memberships),
        resources=tuple(resources),
        agreements=tuple(agreements),
        regulations=regulations,
        groups=tuple(groups),
    )


def _slug(district: str) -> str:
    table = str.maketrans(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюя-",
        "abvgdeejziiklmnoprstufhccss_y_eua_",
    )
    return district.lower().replace(" район", "").translate(table)


# ---------------------------------------------------------------------------------------------
# national scale, for benchmarks: plain tuples streamed without building objects

NATIONAL_REGION_CODES = tuple(
    f"{code:02d}" for code in range(1, 96) if code not in (80, 81, 82, 84, 85, 88, 90, 93, 94)
)
_NATIONAL_KINDS = ("school",) * 7 + ("kindergarten",) * 2 + ("additional_education",)


@dataclass(frozen=True)
class NationalOrganization:
    """One generated organization row; ``number`` is its position (0-based) in the stream."""

    number: int
    full_name: str
    short_name: str
    kind: str
    region_code: str
    municipality: str
    inn: str
    school_code: str


def national_organizations(count: int, *, seed: int = DEFAULT_SEED) -> Iterator[NationalOrganization]:
    """``count`` synthetic organizations spread over the regions, ~25 municipalities each.

    ИНН are unique by construction (the running number is in them), so no set is kept.
    """
    rng = random.Random(seed)
    regions = NATIONAL_REGION_CODES
    for number in range(count):
        region = regions[number % len(regions)]
        serial = number // len(regions)
        district = rng.randrange(1, 26)
        kind = rng.choice(_NATIONAL_KINDS)
        municipality = f"Муниципальный район № {district} (демо)"
        if kind == "school":
            full = f"Общеобразовательная школа № {serial + 1}, муниципальный район № {district} {SYNTHETIC}"
            short = f"Школа № {serial + 1}, р-н {district} {SYNTHETIC}"
        elif kind == "kindergarten":
            full = f"Детский сад № {serial + 1}, муниципальный район № {district} {SYNTHETIC}"
            short = f"Д/с № {serial + 1}, р-н {district} {SYNTHETIC}"
        else:
            full = f"Центр дополнительного образования № {serial + 1}, район № {district} {SYNTHETIC}"
            short = f"ЦДО № {serial + 1}, р-н {district} {SYNTHETIC}"
        body = f"{region}{serial % 10_000_000:07d}"
        yield NationalOrganization(
            number=number,
            full_name=full,
            short_name=short,
            kind=kind,
            region_code=region,
            municipality=municipality,
            inn=body + inn_check_digit(body),
            school_code=f"sch{region}{serial % 10_000:04d}",
        )


@dataclass(frozen=True)
class NationalEducator:
    number: int
    organization: int
    last_name: str
    first_name: str
    middle_name: str
    position: str
    subjects: tuple[str, ...]
    qualification_category: str

    @property
    def full_name(self) -> str:
        return f"{self.last_name} {self.first_name} {self.middle_name}"


def national_educators(
    count: int, *, organizations: int, seed: int = DEFAULT_SEED
) -> Iterator[NationalEducator]:
    """``count`` synthetic educators spread over organizations ``0 .. organizations-1``."""
    rng = random.Random(seed + 1)
    for number in range(count):
        last, first, middle, _ = _person(rng, kalmyk_share=0.05)
        yield NationalEducator(
            number=number,
            organization=rng.randrange(organizations),
            last_name=last,
            first_name=first,
            middle_name=middle,
            position="учитель",
            subjects=(rng.choice(SUBJECTS),),
            qualification_category=rng.choices(QUALIFICATION_CATEGORIES, weights=_CATEGORY_WEIGHTS)[0],
        )
