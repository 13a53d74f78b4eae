"""What the API's codes are called in Russian, for the pages (one place for every page)."""

from __future__ import annotations

KINDS = {
    "school": "школа",
    "kindergarten": "детский сад",
    "additional_education": "дополнительное образование",
    "college": "колледж",
    "methodological_service": "методическая служба",
    "education_authority": "орган управления образованием",
    "development_institute": "институт развития образования",
}
STATUSES = {
    "low_results": "ШНОР",
    "adverse_social_conditions": "ШФНСУ",
    "stable_results": "стабильные результаты",
}
MEMBER_ROLES = {
    "centre": "центр",
    "partner": "партнёр",
    "supported": "сопровождаемая школа",
    "methodological_support": "методическое сопровождение",
    "coordinator": "координатор",
}
NETWORK_LEVELS = {
    "municipal": "муниципальная",
    "inter_municipal": "межмуниципальная",
    "regional": "региональная",
}
NETWORK_STATUSES = {"active": "действует", "closed": "закрыта"}
RISK_FACTORS = {
    "low_equipment_level": "низкий уровень оснащения",
    "teacher_shortage": "дефицит педагогов",
    "insufficient_subject_methodological_competence": "недостаточная предметно-методическая компетентность",
    "low_instruction_adaptivity": "низкая адаптивность обучения",
    "no_in_school_professional_development": "нет внутришкольного повышения квалификации",
    "language_cultural_barriers": "языковые и культурные барьеры",
    "poor_learning_climate": "неблагоприятный учебный климат",
    "high_share_of_students_at_risk_of_failure": "высокая доля обучающихся с риском неуспеваемости",
    "low_parental_involvement": "низкая вовлечённость родителей",
    "low_learning_motivation": "низкая учебная мотивация",
    "high_share_of_students_with_special_needs": "высокая доля обучающихся с ОВЗ",
}
QUALIFICATION_CATEGORIES = {
    "none": "без категории",
    "first": "первая",
    "highest": "высшая",
    "methodologist": "педагог-методист",
    "mentor": "педагог-наставник",
}
RISK_LEVELS = {"low": "низкий", "medium": "средний", "high": "высокий"}
RESOURCE_KINDS = {"staff": "кадровый", "methodological": "методический", "material": "материальный"}
PLAN_STATUSES = {
    "draft": "черновик",
    "agreed": "согласован",
    "in_progress": "выполняется",
    "closed": "закрыт",
}
ACTIVITY_STATUSES = {
    "planned": "запланировано",
    "announced": "объявлено",
    "postponed": "перенесено",
    "cancelled": "отменено",
    "held": "проведено",
    "reported": "есть отчёт",
}
PLAN_PERIODS = {"calendar_year": "календарный год", "school_year": "учебный год (сентябрь — август)"}
PLAN_ITEM_KINDS = {"activity": "мероприятие", "task": "задача"}
PROPOSAL_STATUSES = {"pending": "ждёт решения", "accepted": "принято", "declined": "отклонено"}
ALERT_RULES = {
    "no_network_activity": "Школа давно не участвовала в мероприятиях сети",
    "plan_item_overdue": "Пункт плана просрочен",
    "deficit_without_training": "Дефицит педагога без курсов повышения квалификации",
    "attendance_missing": "Проведённое мероприятие без отметки посещаемости",
}
ALERT_STATUSES = {
    "open": "открыт",
    "acknowledged": "взят в работу",
    "snoozed": "отложен",
    "resolved": "снят",
}
SCHOOL_BREAKS = {"autumn": "осенние", "winter": "зимние", "spring": "весенние", "summer": "летние"}
RESOURCE_REQUEST_STATUSES = {
    "requested": "ждёт ответа",
    "accepted": "принят",
    "declined": "отклонён",
    "cancelled": "отменён",
}
