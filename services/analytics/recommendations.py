"""Recommendations (выработка предложений, рекомендаций): which partners a supported school should
work with, and which activities of a network are worth repeating.

A partner is scored by how its offered resources and the activities it held answer the school's
needs, which are its risk factors rated high or medium and its educators' diagnosed deficits;
then by closeness (a centre, the same network, the same municipality) and by how its activities
were rated. Every point comes with a reason in Russian, so a methodologist sees why. The score is
a plain sum of the weights below; a partner that answers no need is not recommended at all,
however close it is.
"""

from __future__ import annotations

import re
import statistics
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from setka_contracts.events import ActivityType, LearningProcess
from setka_contracts.registry import MemberRole, ResourceKind, RiskFactor, RiskLevel
from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from .alerts import HELD
from .analysis_model import Period
from .models import (
    Activity,
    Attendance,
    Deficit,
    Educator,
    Feedback,
    Membership,
    Network,
    Organization,
    Resource,
    RiskProfile,
)

# --- the weights of the score -----------------------------------------------------------------

LEVEL_WEIGHT = {RiskLevel.high: 2.0, RiskLevel.medium: 1.0}
"""How much a risk factor counts by its level; a factor rated low is no need."""
RESOURCE_FOR_RISK = 3.0
"""Per risk factor a resource of the partner answers, times the factor's level weight."""
ACTIVITY_FOR_RISK = 1.0
"""Per risk factor the partner's held activities answer (type or process), times the level weight."""
RESOURCE_FOR_COMPETENCY = 4.0
"""Per deficit competency of the school's educators that a resource's subject names."""
RESOURCE_FOR_DEFICIT_SUBJECT = 2.0
"""Per school subject of educators with deficits that a methodological or staff resource covers."""
ACTIVITY_FOR_DEFICITS = 2.0
"""Once, when the school has deficits and the partner held activities of a kind that trains."""
CENTRE = 2.0
"""The partner is a centre of network interaction (центр сетевого взаимодействия) now."""
SAME_NETWORK = 3.0
"""The partner is a member of a network the school is a member of now."""
SAME_MUNICIPALITY = 2.0
"""The partner is in the school's municipality."""
RATING = 1.0
"""Times (mean rating − 3) of the feedback on the partner's activities: from −2 to +2."""

ACTIVITY_YEARS = 3
"""Activities held in this many years before today count as the partner's experience."""


# --- what answers what --------------------------------------------------------------------------


@dataclass(frozen=True)
class RiskNeed:
    """What answers one risk factor: resources of these kinds (whose subjects name one of the
    keywords, when keywords are given) and held activities of these types or processes."""

    resource_kinds: frozenset[ResourceKind]
    keywords: tuple[str, ...] = ()
    activity_types: frozenset[ActivityType] = frozenset()
    processes: frozenset[LearningProcess] = frozenset()


_K = ResourceKind
_T = ActivityType
_P = LearningProcess

RISK_NEEDS: dict[RiskFactor, RiskNeed] = {
    RiskFactor.low_equipment_level: RiskNeed(
        frozenset({_K.material}),
        activity_types=frozenset({_T.internship_site, _T.mutual_visit}),
    ),
    RiskFactor.teacher_shortage: RiskNeed(
        frozenset({_K.staff}),
        activity_types=frozenset({_T.course, _T.internship_site}),
        processes=frozenset({_P.co_learning}),
    ),
    RiskFactor.insufficient_subject_methodological_competence: RiskNeed(
        frozenset({_K.methodological, _K.staff}),
        activity_types=frozenset({_T.master_class, _T.open_lesson, _T.seminar, _T.course}),
        processes=frozenset({_P.training, _P.peer_learning}),
    ),
    RiskFactor.low_instruction_adaptivity: RiskNeed(
        frozenset({_K.methodological, _K.staff}),
        ("дифференц", "индивидуал", "адаптив", "формирующ", "оценива"),
        frozenset({_T.master_class, _T.open_lesson}),
        frozenset({_P.peer_learning, _P.experience_exchange}),
    ),
    RiskFactor.no_in_school_professional_development: RiskNeed(
        frozenset({_K.methodological, _K.staff}),
        ("наставни", "методическ", "профессиональн", "сообществ"),
        frozenset({_T.methodological_association_meeting, _T.internship_site, _T.mutual_visit}),
        frozenset({_P.peer_learning, _P.co_learning, _P.joint_discussion}),
    ),
    RiskFactor.language_cultural_barriers: RiskNeed(
        frozenset({_K.methodological, _K.staff}),
        ("неродн", "билингв", "поликульт", "межкульт", "русский"),
        frozenset({_T.seminar, _T.consultation}),
        frozenset({_P.training}),
    ),
    RiskFactor.poor_learning_climate: RiskNeed(
        frozenset({_K.methodological, _K.staff}),
        ("климат", "воспитан", "психолог", "конфликт", "медиац", "буллинг"),
        frozenset({_T.seminar, _T.consultation, _T.mutual_visit}),
        frozenset({_P.joint_discussion, _P.experience_exchange}),
    ),
    RiskFactor.high_share_of_students_at_risk_of_failure: RiskNeed(
        frozenset({_K.methodological, _K.staff}),
        ("неуспева", "функциональн", "грамотност", "оценива", "подготовк"),
        frozenset({_T.master_class, _T.open_lesson, _T.consultation}),
        frozenset({_P.training, _P.peer_learning}),
    ),
    RiskFactor.low_parental_involvement: RiskNeed(
        frozenset({_K.methodological}),
        ("родител", "семь", "семей"),
        frozenset({_T.seminar, _T.consultation, _T.conference}),
        frozenset({_P.joint_discussion, _P.experience_exchange}),
    ),
    RiskFactor.low_learning_motivation: RiskNeed(
        frozenset({_K.methodological, _K.material, _K.staff}),
        ("мотивац", "проектн", "исследоват", "профориент", "олимпиад", "робот", "программир"),
        frozenset({_T.master_class, _T.open_lesson, _T.mutual_visit}),
        frozenset({_P.research, _P.design, _P.programming}),
    ),
    RiskFactor.high_share_of_students_with_special_needs: RiskNeed(
        frozenset({_K.methodological, _K.staff, _K.material}),
        ("инклюзи", "овз", "коррекц", "дефектолог", "логопед", "тьютор", "особыми"),
        frozenset({_T.seminar, _T.consultation, _T.internship_site}),
        frozenset({_P.training, _P.experience_exchange}),
    ),
}
"""Each risk factor of «500+» and what answers it. A factor without keywords is answered by any
resource of its kinds (a material base by material resources, a staff shortage by staff ones)."""

DEFICIT_RESOURCE_KINDS = frozenset({ResourceKind.methodological, ResourceKind.staff})
"""A deficit is a professional one: methodological materials and people (mentors) answer it."""
DEFICIT_ACTIVITY_TYPES = frozenset(
    {
        ActivityType.seminar,
        ActivityType.master_class,
        ActivityType.open_lesson,
        ActivityType.internship_site,
        ActivityType.consultation,
        ActivityType.course,
        ActivityType.webinar,
    }
)
DEFICIT_PROCESSES = frozenset(
    {LearningProcess.training, LearningProcess.peer_learning, LearningProcess.co_learning}
)
"""Held activities of these types, or with these processes, train educators."""

RISK_FACTOR_LABELS = {
    RiskFactor.low_equipment_level: "низкий уровень оснащения школы",
    RiskFactor.teacher_shortage: "дефицит педагогических кадров",
    RiskFactor.insufficient_subject_methodological_competence: (
        "недостаточная предметная и методическая компетентность педагогических работников"
    ),
    RiskFactor.low_instruction_adaptivity: "риски низкой адаптивности учебного процесса",
    RiskFactor.no_in_school_professional_development: (
        "несформированность внутришкольной системы повышения квалификации"
    ),
    RiskFactor.language_cultural_barriers: "низкое качество преодоления языковых и культурных барьеров",
    RiskFactor.poor_learning_climate: (
        "пониженный уровень качества школьной образовательной и воспитательной среды"
    ),
    RiskFactor.high_share_of_students_at_risk_of_failure: (
        "высокая доля обучающихся с рисками учебной неуспешности"
    ),
    RiskFactor.low_parental_involvement: "низкий уровень вовлечённости родителей",
    RiskFactor.low_learning_motivation: "низкая учебная мотивация обучающихся",
    RiskFactor.high_share_of_students_with_special_needs: (
        "высокая доля обучающихся с ограниченными возможностями здоровья"
    ),
}
"""The factors as the «500+» risk profile names them."""
_FACTORS = frozenset(factor.value for factor in RiskFactor)
LEVEL_LABELS = {RiskLevel.high: "высокий", RiskLevel.medium: "средний"}
RESOURCE_KIND_LABELS = {
    ResourceKind.staff: "кадровый",
    ResourceKind.methodological: "методический",
    ResourceKind.material: "материально-технический",
}
ACTIVITY_TYPE_LABELS = {
    ActivityType.seminar: "семинар",
    ActivityType.webinar: "вебинар",
    ActivityType.master_class: "мастер-класс",
    ActivityType.internship_site: "стажировочная площадка",
    ActivityType.conference: "конференция",
    ActivityType.pedagogical_marathon: "педагогический марафон",
    ActivityType.open_lesson: "открытый урок",
    ActivityType.consultation: "консультация",
    ActivityType.mutual_visit: "взаимопосещение",
    ActivityType.methodological_association_meeting: "заседание методического объединения",
    ActivityType.course: "курс",
}


# --- matching free text ---------------------------------------------------------------------------

STEM = 6
"""Words are compared by their first letters: enough to join the forms of a Russian word
(«оценивание», «оценивания») without a morphological dictionary."""
_STOP_WORDS = frozenset({"для", "при", "как", "над", "под", "без", "или", "его", "уроках", "уроке"})


def _words(text: str) -> list[str]:
    return [
        word
        for word in re.findall(r"[a-zа-я0-9]+", text.lower().replace("ё", "е"))
        if len(word) >= 3 and word not in _STOP_WORDS
    ]


def _stems(text: str) -> frozenset[str]:
    return frozenset(word[:STEM] for word in _words(text))


def names_the_same(one: str, other: str) -> bool:
    """Whether two short texts (a competency, a resource's subject) name the same thing: the
    significant words of one are all among those of the other."""
    first, second = _stems(one), _stems(other)
    return bool(first and second) and (first <= second or second <= first)


def _mentions(text: str, keywords: Iterable[str]) -> bool:
    return any(word.startswith(keyword) for word in _words(text) for keyword in keywords)


# --- what the ranking reads -----------------------------------------------------------------------


class ReasonKind(StrEnum):
    risk_factor = "risk_factor"
    deficit = "deficit"
    deficit_subject = "deficit_subject"
    activities = "activities"
    centre = "centre"
    same_network = "same_network"
    same_municipality = "same_municipality"
    rating = "rating"


@dataclass(frozen=True)
class Reason:
    """One reason a partner was recommended, with the points it gave."""

    kind: ReasonKind
    text: str
    points: float


@dataclass(frozen=True)
class Recommendation:
    organization_id: uuid.UUID
    name: str | None
    score: float
    reasons: tuple[Reason, ...]
    resource_ids: tuple[uuid.UUID, ...]
    """The partner's resources that answer a need of the school."""


@dataclass
class _Needs:
    factors: dict[RiskFactor, RiskLevel]
    competencies: Counter[str]  # the competency as first written → how many deficits name it
    subjects: Counter[str]  # a subject of educators with deficits → how many such educators

    def __bool__(self) -> bool:
        return bool(self.factors or self.competencies)


@dataclass
class _Candidate:
    organization: Organization
    resources: list[Resource] = field(default_factory=list)
    activity_types: set[str] = field(default_factory=set)
    processes: set[str] = field(default_factory=set)
    held: int = 0
    networks: dict[uuid.UUID, str] = field(default_factory=dict)
    centre: bool = False
    rating: tuple[float, int] | None = None


def _current_membership(today: date) -> ColumnElement[bool]:
    return and_(
        Membership.joined_on <= today,
        or_(col(Membership.left_on).is_(None), col(Membership.left_on) > today),
    )


async def _needs(session: AsyncSession, school: uuid.UUID, today: date) -> _Needs:
    profile = await session.get(RiskProfile, school)
    factors: dict[RiskFactor, RiskLevel] = {}
    for name, level in (profile.factors if profile else {}).items():
        if name in _FACTORS and level in LEVEL_WEIGHT:
            factors[RiskFactor(name)] = RiskLevel(level)
    rows = await session.execute(
        select(Deficit.educator_id, Deficit.competency, Educator.subjects)
        .outerjoin(Educator, Educator.id == Deficit.educator_id)
        .where(Deficit.organization_id == school, Deficit.diagnosed_on <= today)
        .order_by(Deficit.diagnosed_on, Deficit.id)
    )
    competencies: Counter[str] = Counter()
    written: dict[frozenset[str], str] = {}
    subjects_of: dict[uuid.UUID, set[str]] = {}
    for educator, competency, subjects in rows:
        competencies[written.setdefault(_stems(competency), competency.strip())] += 1
        subjects_of[educator] = {subject.strip().lower() for subject in subjects or [] if subject.strip()}
    subjects = Counter(subject for educator_subjects in subjects_of.values() for subject in educator_subjects)
    return _Needs(factors, competencies, subjects)


async def _candidates(
    session: AsyncSession, school: Organization, today: date
) -> dict[uuid.UUID, _Candidate]:
    """Organizations of the school's region, not archived, other than the school, that offer a
    resource now or held an activity in the last years; with their networks and ratings."""
    nearby = and_(
        Organization.region_code == school.region_code,
        col(Organization.archived_at).is_(None),
        Organization.id != school.id,
    )
    candidates: dict[uuid.UUID, _Candidate] = {}
    offered = await session.execute(
        select(Organization, Resource)
        .join(Resource, Resource.owner_id == Organization.id)
        .where(
            nearby,
            col(Resource.withdrawn_at).is_(None),
            or_(col(Resource.available_from).is_(None), col(Resource.available_from) <= today),
            or_(col(Resource.available_to).is_(None), col(Resource.available_to) >= today),
        )
        .order_by(Resource.id)
    )
    for organization, resource in offered:
        candidates.setdefault(organization.id, _Candidate(organization)).resources.append(resource)
    since = datetime.combine(today - timedelta(days=365 * ACTIVITY_YEARS), time(), tzinfo=UTC)
    hosted = await session.execute(
        select(Organization, Activity.activity_type, Activity.processes)
        .join(Activity, Activity.host_organization_id == Organization.id)
        .where(nearby, col(Activity.status).in_(HELD), Activity.starts_at >= since)
    )
    for organization, activity_type, processes in hosted:
        candidate = candidates.setdefault(organization.id, _Candidate(organization))
        candidate.held += 1
        candidate.activity_types.add(activity_type)
        candidate.processes.update(processes or [])
    if not candidates:
        return candidates
    ids = list(candidates)
    memberships = await session.execute(
        select(Membership.organization_id, Membership.network_id, Membership.role, Network.name)
        .outerjoin(Network, Network.id == Membership.network_id)
        .where(col(Membership.organization_id).in_(ids), _current_membership(today))
    )
    for organization_id, network_id, role, name in memberships:
        candidates[organization_id].networks[network_id] = name or ""
        candidates[organization_id].centre |= role == MemberRole.centre.value
    ratings = await session.execute(
        select(Activity.host_organization_id, func.avg(Feedback.rating), func.count(Feedback.id))
        .join(Activity, Activity.id == Feedback.activity_id)
        .where(col(Activity.host_organization_id).in_(ids))
        .group_by(Activity.host_organization_id)
    )
    for host, mean, count in ratings:
        candidates[host].rating = (float(mean), int(count))
    return candidates


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _decimal(value: float) -> str:
    """A number as Russian writes it: one decimal, a comma."""
    return f"{value:.1f}".replace(".", ",")


def _resource_text(resource: Resource) -> str:
    topics = ", ".join(f"«{subject}»" for subject in resource.subjects)
    return f"{RESOURCE_KIND_LABELS.get(resource.kind, resource.kind)} ресурс" + (
        f" ({topics})" if topics else ""
    )


def _answers_risk(resource: Resource, need: RiskNeed) -> bool:
    if resource.kind not in need.resource_kinds:
        return False
    return not need.keywords or any(_mentions(subject, need.keywords) for subject in resource.subjects)


def _score(
    candidate: _Candidate, needs: _Needs, school: Organization, networks: set[uuid.UUID]
) -> Recommendation | None:
    reasons: list[Reason] = []
    answering: set[uuid.UUID] = set()

    for factor, level in sorted(needs.factors.items(), key=lambda item: (-LEVEL_WEIGHT[item[1]], item[0])):
        need = RISK_NEEDS[factor]
        label = f"«{RISK_FACTOR_LABELS[factor]}» ({LEVEL_LABELS[level]} уровень)"
        matching = [resource for resource in candidate.resources if _answers_risk(resource, need)]
        if matching:
            answering.update(resource.id for resource in matching)
            reasons.append(
                Reason(
                    ReasonKind.risk_factor,
                    f"{_sentence(_resource_text(matching[0]))} отвечает фактору риска {label}",
                    RESOURCE_FOR_RISK * LEVEL_WEIGHT[level],
                )
            )
        types = sorted(candidate.activity_types & need.activity_types)
        if types or candidate.processes & need.processes:
            shown = ", ".join(ACTIVITY_TYPE_LABELS.get(kind, kind) for kind in types) or "мероприятия"
            reasons.append(
                Reason(
                    ReasonKind.activities,
                    f"Проводит мероприятия, отвечающие фактору риска {label}: {shown}",
                    ACTIVITY_FOR_RISK * LEVEL_WEIGHT[level],
                )
            )

    for competency, deficits in needs.competencies.most_common():
        matching = [
            resource
            for resource in candidate.resources
            if resource.kind in DEFICIT_RESOURCE_KINDS
            and any(names_the_same(competency, subject) for subject in resource.subjects)
        ]
        if matching:
            answering.update(resource.id for resource in matching)
            reasons.append(
                Reason(
                    ReasonKind.deficit,
                    f"{_sentence(_resource_text(matching[0]))} — по дефициту «{competency}», "
                    f"выявленному у педагогов школы (случаев: {deficits})",
                    RESOURCE_FOR_COMPETENCY,
                )
            )
    for subject, educators in needs.subjects.most_common():
        matching = [
            resource
            for resource in candidate.resources
            if resource.kind in DEFICIT_RESOURCE_KINDS
            and any(names_the_same(subject, offered) for offered in resource.subjects)
        ]
        if matching:
            answering.update(resource.id for resource in matching)
            reasons.append(
                Reason(
                    ReasonKind.deficit_subject,
                    f"{_sentence(_resource_text(matching[0]))} — по предмету «{subject}»: у педагогов "
                    f"школы по нему выявлены профессиональные дефициты (педагогов: {educators})",
                    RESOURCE_FOR_DEFICIT_SUBJECT,
                )
            )
    training = sorted(candidate.activity_types & DEFICIT_ACTIVITY_TYPES)
    if needs.competencies and (training or candidate.processes & DEFICIT_PROCESSES):
        shown = (
            ", ".join(ACTIVITY_TYPE_LABELS.get(kind, kind) for kind in training) or "обучающие мероприятия"
        )
        reasons.append(
            Reason(
                ReasonKind.activities,
                f"Проводит мероприятия для преодоления профессиональных дефицитов: {shown} "
                f"(проведено за {ACTIVITY_YEARS} года: {candidate.held})",
                ACTIVITY_FOR_DEFICITS,
            )
        )
    if not reasons:
        return None

    if candidate.centre:
        reasons.append(Reason(ReasonKind.centre, "Центр сетевого взаимодействия", CENTRE))
    shared = sorted(name for network, name in candidate.networks.items() if network in networks)
    if shared:
        names = ", ".join(f"«{name}»" for name in shared if name)
        reasons.append(
            Reason(
                ReasonKind.same_network, "Участник той же сети" + (f" {names}" if names else ""), SAME_NETWORK
            )
        )
    organization = candidate.organization
    if (school.municipality_id and organization.municipality_id == school.municipality_id) or (
        not school.municipality_id
        and school.municipality
        and (organization.municipality or "").strip().lower() == school.municipality.strip().lower()
    ):
        where = f" ({school.municipality})" if school.municipality else ""
        reasons.append(
            Reason(ReasonKind.same_municipality, f"Из того же муниципалитета{where}", SAME_MUNICIPALITY)
        )
    if candidate.rating:
        mean, count = candidate.rating
        reasons.append(
            Reason(
                ReasonKind.rating,
                f"Средняя оценка проведённых мероприятий: {_decimal(mean)} из 5 (отзывов: {count})",
                round(RATING * (mean - 3.0), 2),
            )
        )
    return Recommendation(
        organization_id=organization.id,
        name=organization.short_name,
        score=round(sum(reason.points for reason in reasons), 2),
        reasons=tuple(reasons),
        resource_ids=tuple(sorted(answering)),
    )


async def recommend_partners(
    session: AsyncSession, organization_id: uuid.UUID, *, today: date, limit: int = 10
) -> list[Recommendation]:
    """The partners that best answer a school's needs, best first (at most ``limit``).

    Empty when analytics does not know the school, or knows no need of it (no risk factor rated
    high or medium, no diagnosed deficit)."""
    school = await session.get(Organization, organization_id)
    if school is None or limit <= 0:
        return []
    needs = await _needs(session, organization_id, today)
    if not needs:
        return []
    networks = set(
        await session.scalars(
            select(Membership.network_id).where(
                Membership.organization_id == organization_id, _current_membership(today)
            )
        )
    )
    scored = [
        recommendation
        for candidate in (await _candidates(session, school, today)).values()
        if (recommendation := _score(candidate, needs, school, networks))
    ]
    scored.sort(key=lambda item: (-item.score, str(item.organization_id)))
    return scored[:limit]


# --- activities worth repeating -------------------------------------------------------------------

MIN_MEAN_RATING = 4.0
"""An activity worth repeating was rated this well on average ..."""
MIN_RATINGS = 2
"""... by at least this many participants ..."""
# ... and drew at least as many participants as half of the network's held activities (the median).


@dataclass(frozen=True)
class ActivityWorthRepeating:
    activity_id: uuid.UUID
    host_organization_id: uuid.UUID
    activity_type: str
    starts_at: datetime
    participants: int
    organizations: int
    hours: float
    mean_rating: float
    ratings: int
    reasons: tuple[str, ...]


async def activities_worth_repeating(
    session: AsyncSession, network_id: uuid.UUID, period: Period
) -> list[ActivityWorthRepeating]:
    """The network's activities held in the period that were both well attended (at least the
    median attendance of its held activities then) and well rated; best rated first."""
    start = datetime.combine(period.start, time(), tzinfo=UTC)
    end = datetime.combine(period.end, time(), tzinfo=UTC)
    attendance = (
        select(
            Attendance.activity_id,
            func.count(Attendance.id).label("participants"),
            func.count(func.distinct(Attendance.organization_id)).label("organizations"),
            func.sum(Attendance.hours).label("hours"),
        )
        .group_by(Attendance.activity_id)
        .subquery()
    )
    feedback = (
        select(
            Feedback.activity_id,
            func.avg(Feedback.rating).label("mean_rating"),
            func.count(Feedback.id).label("ratings"),
        )
        .group_by(Feedback.activity_id)
        .subquery()
    )
    rows = (
        await session.execute(
            select(
                Activity.id,
                Activity.host_organization_id,
                Activity.activity_type,
                Activity.starts_at,
                func.coalesce(attendance.c.participants, 0),
                func.coalesce(attendance.c.organizations, 0),
                func.coalesce(attendance.c.hours, 0.0),
                feedback.c.mean_rating,
                func.coalesce(feedback.c.ratings, 0),
            )
            .outerjoin(attendance, attendance.c.activity_id == Activity.id)
            .outerjoin(feedback, feedback.c.activity_id == Activity.id)
            .where(
                Activity.network_id == network_id,
                col(Activity.status).in_(HELD),
                Activity.starts_at >= start,
                Activity.starts_at < end,
            )
        )
    ).all()
    if not rows:
        return []
    median = statistics.median(int(row[4]) for row in rows)
    chosen: list[ActivityWorthRepeating] = []
    for ident, host, kind, starts_at, participants, organizations, hours, mean, ratings in rows:
        if not (mean is not None and ratings >= MIN_RATINGS and float(mean) >= MIN_MEAN_RATING):
            continue
        if participants == 0 or participants < median:
            continue
        label = ACTIVITY_TYPE_LABELS.get(kind, kind)
        chosen.append(
            ActivityWorthRepeating(
                activity_id=ident,
                host_organization_id=host,
                activity_type=kind,
                starts_at=starts_at,
                participants=int(participants),
                organizations=int(organizations),
                hours=float(hours),
                mean_rating=round(float(mean), 2),
                ratings=int(ratings),
                reasons=(
                    f"Средняя оценка {_decimal(float(mean))} из 5 (отзывов: {ratings})",
                    f"{participants} участников из {organizations} организаций: не меньше, чем у половины "
                    f"проведённых мероприятий сети за период (медиана {median:g})",
                    f"Вид мероприятия: {label}",
                ),
            )
        )
    chosen.sort(key=lambda item: (-item.mean_rating, -item.participants, str(item.activity_id)))
    return chosen
