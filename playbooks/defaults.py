"""The default playbooks and their triggers: one trigger for every kind, negative (churn risk)
and positive (expansion, advocacy) alike, including the renewal checkpoints at 180 and 90
days. An admin adds them from the playbooks page; the demo seeds them."""

from __future__ import annotations

from accounts.models import Segment, TouchModel
from csplatform.models import Tenant

from .models import AssigneeKind, Playbook, StepAction, TaskTemplate, Trigger, TriggerKind
from .triggers import validate_params

RENEWAL_CHECKPOINT = "Renewal checkpoint: forecast and risk assessment"

# (step title, purpose, due offset days, assignee kind)
Step = tuple[str, str, int, str]
# (subject, body) of the automated e-mail tech-touch accounts get instead of tasks
Email = tuple[str, str]

PLAYBOOKS: dict[str, dict] = {
    "Red account recovery": {
        "description": "The account's health entered red: find out why and agree a recovery plan with the customer.",
        "steps": [
            (
                "Diagnose the red score",
                "Know which measure pulled the score down before talking to the customer.",
                1,
                AssigneeKind.OWNER,
            ),
            (
                "Recovery call with the champion",
                "Agree with the customer what must change in the next 30 days and who does it.",
                5,
                AssigneeKind.OWNER,
            ),
            (
                "Review the recovery plan with your leader",
                "A red account needs a second pair of eyes and, often, an executive contact.",
                10,
                AssigneeKind.OWNER_LEADER,
            ),
        ],
        "email": (
            "How can we help {{ account.name }}?",
            "Hello {{ contact.name|default:'there' }},\n\nwe noticed your team is getting less out of the product"
            " than it could. Reply to this e-mail and a specialist will help you set it up.",
        ),
    },
    "Score drop check": {
        "description": "The health score fell fast: catch the cause while it is fresh.",
        "steps": [
            (
                "Find what changed",
                "A fall of 15 points in two weeks has a cause: usage, a contact, support, or billing.",
                2,
                AssigneeKind.OWNER,
            ),
        ],
    },
    "Renewal checkpoint": {
        "description": (
            "Renewal checkpoints at 180 and 90 days out (the renewal issue's checkpoints): forecast the "
            "renewal, assess the risk and plan the expansion conversation while there is time to act."
        ),
        "steps": [
            (
                RENEWAL_CHECKPOINT,
                "Set the forecast (commit / likely / at risk) with its reasons and the steps that secure it.",
                7,
                AssigneeKind.OWNER,
            ),
        ],
        "email": (
            "Your {{ account.name }} subscription renews on {{ account.next_renewal_date|date:'j F Y' }}",
            "Hello {{ contact.name|default:'there' }},\n\nyour subscription renews on"
            " {{ account.next_renewal_date|date:'j F Y' }}. Reply if anything should change before then.",
        ),
    },
    "Champion or sponsor change": {
        "description": "A champion or executive sponsor left or changed role: rebuild the relationship.",
        "steps": [
            (
                "Meet the new champion",
                "Whoever holds the champion's role now must hear the value from us first.",
                3,
                AssigneeKind.OWNER,
            ),
            (
                "Executive outreach to the sponsor",
                "Keep an executive relationship when a key person moves.",
                7,
                AssigneeKind.OWNER_LEADER,
            ),
        ],
    },
    "Detractor follow-up": {
        "description": "An NPS detractor: call within two days, listen, and close the loop.",
        "steps": [
            (
                "Call the detractor",
                "Hear the reason behind the score and agree one fix we will deliver.",
                2,
                AssigneeKind.OWNER,
            ),
        ],
        "email": (
            "Thank you for your feedback",
            "Hello {{ contact.name|default:'there' }},\n\nthank you for telling us how we are doing. Reply to this"
            " e-mail with what would make the biggest difference for you, and we will follow up.",
        ),
    },
    "Advocacy ask": {
        "description": "An NPS promoter: turn goodwill into a reference, a review or a case study.",
        "steps": [
            (
                "Ask for a reference or case study",
                "Promoters help win the next customer; ask while the experience is fresh.",
                7,
                AssigneeKind.OWNER,
            ),
        ],
        "email": (
            "Would you share your story?",
            "Hello {{ contact.name|default:'there' }},\n\nthank you for the great score. Would you tell others"
            " how {{ account.name }} uses the product? Reply and we will arrange a short interview.",
        ),
    },
    "Adoption drive": {
        "description": "Licences sit unused: help more people get value before the renewal asks why.",
        "steps": [
            (
                "Run an adoption workshop",
                "Turn unused licences into active users with a session for the teams not yet using it.",
                10,
                AssigneeKind.OWNER,
            ),
        ],
        "email": (
            "Three ways {{ account.name }} can get more from its licences",
            "Hello {{ contact.name|default:'there' }},\n\nmany of your licences are not in use yet. Here are three"
            " quick ways teams like yours get started.",
        ),
    },
    "Expansion: near the licence cap": {
        "description": "Utilisation is near or above the licences bought: an expansion conversation.",
        "steps": [
            (
                "Propose an expansion",
                "They are running out of seats: size the next tier with the decision maker.",
                7,
                AssigneeKind.OWNER,
            ),
        ],
        "email": (
            "{{ account.name }} is close to its licence limit",
            "Hello {{ contact.name|default:'there' }},\n\nyour team uses almost every licence. Reply to this e-mail"
            " to add seats before anyone is locked out.",
        ),
    },
    "Usage drop": {
        "description": "Active users fell sharply against the month before.",
        "steps": [
            (
                "Find out why usage dropped",
                "A drop of a third in a month is a churn signal until we know its cause.",
                3,
                AssigneeKind.OWNER,
            ),
        ],
    },
    "Support spike": {
        "description": "Many support tickets in a short time: make sure the customer is heard.",
        "steps": [
            (
                "Review the open tickets with support",
                "Know what is broken for them and when it will be fixed before they escalate.",
                2,
                AssigneeKind.OWNER,
            ),
        ],
    },
    "Overdue invoice": {
        "description": "An invoice is a month overdue: often a sign of a budget or champion problem.",
        "steps": [
            (
                "Check the overdue invoice with the finance contact",
                "Separate a process problem from a budget or intent problem before the renewal.",
                3,
                AssigneeKind.OWNER,
            ),
        ],
    },
    "Reconnect": {
        "description": "No meaningful touch in a month: book a conversation with a reason.",
        "steps": [
            (
                "Book a call with a clear agenda",
                "Bring one insight from their usage and agree the next step; not a check-in.",
                5,
                AssigneeKind.OWNER,
            ),
        ],
    },
    "Milestone slipped": {
        "description": "A success-plan milestone is overdue: unblock it or agree a new date.",
        "steps": [
            (
                "Unblock the overdue milestone",
                "Find who is blocked and agree a new date the customer commits to.",
                3,
                AssigneeKind.OWNER,
            ),
        ],
    },
    "Onboarding kickoff": {
        "description": "A new account was handed off: orchestrate the business and technical kickoff.",
        "steps": [
            (
                "Hold the business orchestration meeting",
                "Restate SPICED and co-write the joint impact plan with the customer.",
                5,
                AssigneeKind.OWNER,
            ),
            (
                "Hold the technical kickoff",
                "Get the customer to First Value on the date the plan promises.",
                10,
                AssigneeKind.OWNER,
            ),
        ],
        "email": (
            "Welcome to the product, {{ account.name }}",
            "Hello {{ contact.name|default:'there' }},\n\nwelcome aboard. Here is how to get your team to its first"
            " result in the first two weeks.",
        ),
    },
}

# (trigger name, kind, params, playbook, touch models it is limited to (None: all segments))
TRIGGERS: list[tuple[str, str, dict, str, tuple[str, ...] | None]] = [
    ("Health turned red", TriggerKind.BAND_ENTERED, {"band": "red"}, "Red account recovery", None),
    (
        "Score fell 15 points in 14 days",
        TriggerKind.SCORE_DROPPED,
        {"points": 15, "days": 14},
        "Score drop check",
        None,
    ),
    ("Renewal in 180 days", TriggerKind.RENEWAL_DUE, {"days": 180, "min_days": 90}, "Renewal checkpoint", None),
    ("Renewal in 90 days", TriggerKind.RENEWAL_DUE, {"days": 90}, "Renewal checkpoint", None),
    ("Champion or sponsor left", TriggerKind.CHAMPION_CHANGED, {"days": 30}, "Champion or sponsor change", None),
    ("NPS detractor", TriggerKind.NPS_DETRACTOR, {"max_score": 6, "days": 90}, "Detractor follow-up", None),
    ("NPS promoter", TriggerKind.NPS_PROMOTER, {"min_score": 9, "days": 90}, "Advocacy ask", None),
    ("Licences under 40 % used", TriggerKind.UTILISATION_LOW, {"percent": 40}, "Adoption drive", None),
    ("Licences 90 % used", TriggerKind.UTILISATION_HIGH, {"percent": 90}, "Expansion: near the licence cap", None),
    ("Usage down a third", TriggerKind.USAGE_DOWN, {"percent": 33}, "Usage drop", None),
    ("5 tickets in 30 days", TriggerKind.SUPPORT_TICKETS, {"count": 5, "days": 30}, "Support spike", None),
    ("Invoice 30 days overdue", TriggerKind.INVOICE_OVERDUE, {"days": 30}, "Overdue invoice", None),
    (
        "No meaningful touch in 30 days",
        TriggerKind.NO_TOUCH,
        {"days": 30},
        "Reconnect",
        (TouchModel.HIGH, TouchModel.LOW),
    ),
    ("Milestone overdue", TriggerKind.MILESTONE_OVERDUE, {"days": 0}, "Milestone slipped", None),
    ("New account handed off", TriggerKind.HANDOFF_ACCEPTED, {"days": 14}, "Onboarding kickoff", None),
]


def playbooks_create_defaults(*, tenant: Tenant) -> list[Trigger]:
    """The default playbooks and their triggers (enabled), one trigger for every kind."""
    segments = {segment.touch_model: segment for segment in Segment.objects.filter(tenant=tenant)}
    playbooks = {}
    for name, spec in PLAYBOOKS.items():
        playbook = Playbook.objects.create(tenant=tenant, name=name, description=spec["description"])
        steps = [
            TaskTemplate(
                tenant=tenant,
                playbook=playbook,
                position=position,
                title=title,
                purpose=purpose,
                due_offset_days=offset,
                assignee_kind=assignee,
            )
            for position, (title, purpose, offset, assignee) in enumerate(spec["steps"], start=1)
        ]
        if "email" in spec:
            subject, body = spec["email"]
            steps.append(
                TaskTemplate(
                    tenant=tenant,
                    playbook=playbook,
                    position=len(steps) + 1,
                    title=f"E-mail: {spec['description'].split(':')[0]}",
                    purpose="Tech-touch accounts have no CSM: the customer hears from us automatically.",
                    due_offset_days=0,
                    action=StepAction.EMAIL,
                    email_subject=subject,
                    email_body=body,
                )
            )
        TaskTemplate.objects.bulk_create(steps)
        playbooks[name] = playbook
    triggers = []
    for name, kind, params, playbook_name, touch_models in TRIGGERS:
        trigger = Trigger.objects.create(
            tenant=tenant,
            name=name,
            kind=kind,
            params=validate_params(kind, params),
            playbook=playbooks[playbook_name],
            enabled=True,
        )
        if touch_models:
            trigger.segments.set([segments[touch] for touch in touch_models if touch in segments])
        triggers.append(trigger)
    return triggers
