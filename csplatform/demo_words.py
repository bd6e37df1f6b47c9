"""The vocabulary of the demo data (``csplatform.demo``): names, industries, titles and how
senior they are, and what CSMs write in their activities. Lists are kept as compact text: one
item a line would triple the file."""

from __future__ import annotations

from accounts.models import ActivityKind, ContactLevel, ContactRole


def words(text: str, separator: str | None = None) -> tuple[str, ...]:
    """``"a|b|c"`` -> ``("a", "b", "c")``; without a separator, split on white space."""
    return tuple(item.strip() for item in text.split(separator))


FIRST_NAMES = words(
    "Olivia Liam Emma Noah Ava Elijah Sophia Mateo Isabella Lucas Mia Amir Charlotte Ethan Amelia Hiroshi "
    "Harper Kenji Evelyn Arjun Priya Wei Mei Chen Fatima Omar Aisha Yusuf Leila Diego Lucía Javier Camila "
    "Sofia André Chloe Jonas Lena Felix Clara Maximilian Hannah Paul Marie Lukas Anna Finn Greta Henrik Ingrid "
    "Lars Astrid Mikkel Freya Tomasz Zofia Pavel Katarina Nikolai Elena Marco Giulia Luca Francesca Pierre "
    "Camille Antoine Juliette Sean Siobhan Connor Aoife Kwame Ama Tunde Ngozi Ravi Ananya Sanjay Deepa "
    "Grace Daniel Rachel Samuel Naomi Benjamin Abigail Nathan Zoë Caleb Maya Owen Nora Isaac Ruby Jack"
)
LAST_NAMES = words(
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez Wilson "
    "Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark Ramirez Lewis "
    "Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams Nelson Baker Hall "
    "Rivera Campbell Mitchell Carter Roberts Patel Shah Kumar Singh Chen Wang Li Zhang Liu Tanaka Sato "
    "Suzuki Kim Park Choi Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Koch "
    "Richter Klein Wolf Schröder Neumann Braun Zimmermann Krüger Hartmann Lange Werner Dubois Moreau Laurent "
    "Lefebvre Rossi Russo Ferrari Esposito Bianchi Novak Kowalski Nowak Jansen Bakker Visser Larsen "
    "Nielsen Andersson Johansson Eriksson Okafor Mensah Adeyemi O'Brien Murphy Kelly Byrne Walsh Silva Santos"
)
NAME_HEADS = words(
    "Blue Summit Harbor Crescent North Pine Iron Silver Granite Meridian Apex Cedar Atlas Beacon Copper River "
    "Stone Oak Maple Falcon Eagle Willow Aspen Redwood Lake Bright Clear Golden Prairie Coastal Valley Highland "
    "Lumen Nova Vertex Orion Polar Sterling Bay Union Pioneer Keystone Liberty Evergreen Horizon Riverside "
    "Westfield Eastgate Southport Northstar Cobalt Emerald Ruby Onyx Quartz Sapphire Titan Vantage Bluebird"
)
NAME_TAILS = words(
    "Ridge Point Field Bridge Works Labs Gate Line Wave Peak Crest Rock Park Brook Wood Way Path Port Mill "
    "Dale Grove Shore View Forge Spring Haven Stone Light Vale Ford"
)
INDUSTRY_SUFFIXES = {
    "Financial services": words("Bank|Capital|Financial|Insurance|Credit Union|Wealth", "|"),
    "Healthcare": words("Health|Medical|Clinics|Care|Pharma|Diagnostics", "|"),
    "Retail": words("Retail|Stores|Outfitters|Market|Brands|Goods", "|"),
    "Manufacturing": words("Manufacturing|Industries|Components|Machinery|Materials|Tooling", "|"),
    "Technology": words("Software|Systems|Technologies|Networks|Digital|Labs", "|"),
    "Education": words("University|College|Academy|Learning|Schools|Institute", "|"),
    "Media": words("Media|Studios|Publishing|Broadcasting|Entertainment|Press", "|"),
    "Logistics": words("Logistics|Freight|Shipping|Transport|Supply|Couriers", "|"),
    "Public sector": words("County|City Council|Transit Authority|Water Board|Agency|Services", "|"),
    "Energy": words("Energy|Power|Utilities|Solar|Renewables|Grid", "|"),
    "Telecommunications": words("Telecom|Communications|Wireless|Fiber|Mobile|Connect", "|"),
    "Professional services": words("Partners|Consulting|Advisors|Group|Associates|Legal", "|"),
}
# How often each industry (in the order of INDUSTRIES) buys this kind of software.
INDUSTRY_WEIGHTS = (14, 11, 10, 10, 16, 5, 5, 7, 4, 5, 5, 8)

TITLES = {
    "data": {
        ContactRole.EXECUTIVE_SPONSOR: words(
            "Chief Data Officer|VP of Analytics|Chief Information Officer|VP of Data & Insights|"
            "Chief Operating Officer",
            "|",
        ),
        ContactRole.DECISION_MAKER: words(
            "Director of Business Intelligence|Director of Data Engineering|Head of Analytics|Director of IT", "|"
        ),
        ContactRole.CHAMPION: words(
            "Analytics Manager|BI Manager|Data Engineering Manager|Reporting Team Lead|Manager, Data Platform", "|"
        ),
        ContactRole.POWER_USER: words("Senior Data Analyst|Analytics Engineer|BI Developer|Senior Data Engineer", "|"),
        ContactRole.END_USER: words(
            "Data Analyst|Financial Analyst|Operations Analyst|Marketing Analyst|Sales Operations Analyst", "|"
        ),
    },
    "cloud": {
        ContactRole.EXECUTIVE_SPONSOR: words(
            "Chief Technology Officer|Chief Information Officer|VP of Infrastructure|VP of Engineering", "|"
        ),
        ContactRole.DECISION_MAKER: words(
            "Director of Cloud Operations|Director of IT Infrastructure|Head of Platform Engineering|"
            "Director of Security",
            "|",
        ),
        ContactRole.CHAMPION: words(
            "Cloud Operations Manager|Platform Engineering Manager|IT Infrastructure Manager|Site Reliability Lead|"
            "Manager, DevOps",
            "|",
        ),
        ContactRole.POWER_USER: words(
            "Senior DevOps Engineer|Senior Site Reliability Engineer|Cloud Architect|Senior Systems Engineer", "|"
        ),
        ContactRole.END_USER: words(
            "Systems Administrator|DevOps Engineer|Backend Developer|Security Analyst|Support Engineer", "|"
        ),
    },
}
FINANCE_TITLES = words("Chief Financial Officer|VP of Finance|Director of Procurement|Head of Finance", "|")
EXECUTIVE_TITLE_STARTS = ("Chief", "VP", "Director", "Head")
ROLE_LEVELS = {
    ContactRole.CHAMPION: ContactLevel.MANAGER,
    ContactRole.POWER_USER: ContactLevel.END_USER,
    ContactRole.END_USER: ContactLevel.END_USER,
}
# Every account has a sponsor, a champion and a power user; bigger ones add these, in order.
EXTRA_ROLES = (
    ContactRole.FINANCIAL_DECISION_MAKER,
    ContactRole.DECISION_MAKER,
    ContactRole.END_USER,
    ContactRole.POWER_USER,
    ContactRole.END_USER,
)
LEFT_NOTES = words(
    "Left for a competitor|Moved to another role internally|Left the company|Retired|"
    "Role cut in a restructuring|On a long sabbatical|Joined one of our customers",
    "|",
)

PURPOSES = {
    ActivityKind.CALL: words(
        "Confirm the owner of the data-quality milestone|Review adoption of {product} with the champion|"
        "Unblock the SSO rollout with their IT lead|Walk through the open support escalation|"
        "Agree the renewal timeline and who signs|Discuss licence usage nearing the cap|"
        "Prepare the agenda for the quarterly business review|Follow up on the overdue invoice with finance",
        "|",
    ),
    ActivityKind.MEETING: words(
        "Kick off the technical implementation|Orchestration meeting: agree the First Value goal|"
        "Train the new team on {product}|Map the org after their reorganisation|"
        "Scope a {product} pilot for the finance team|Review the success plan milestones that slipped",
        "|",
    ),
    ActivityKind.EMAIL: words(
        "Send the recap and next steps of the last call|Share last month's adoption report|"
        "Introduce our solutions architect for the migration|Send the {product} release notes to the power users|"
        "Confirm the agreed renewal terms in writing",
        "|",
    ),
    ActivityKind.QBR: words(
        "Quarterly business review: progress against the 12-month goal|"
        "QBR: restate SPICED and agree next quarter's objectives",
        "|",
    ),
    ActivityKind.EBR: words(
        "Executive business review with the sponsor: impact so far and the roadmap|"
        "EBR: agree the value story for the renewal",
        "|",
    ),
    ActivityKind.ONSITE: words(
        "On-site workshop to design the next rollout phase|On-site training for the regional teams", "|"
    ),
    ActivityKind.WEBINAR: words(
        "Product webinar: what is new in {product}|Best-practice webinar: building executive dashboards|"
        "Onboarding webinar for new administrators",
        "|",
    ),
    ActivityKind.NOTE: words(
        "Record the champion's concern about budget cuts|Note from the support escalation review|"
        "Record a possible expansion into another department|Record the sponsor's feedback on the roadmap",
        "|",
    ),
}
OUTCOMES = words(
    "Agreed owners and dates for the open milestones.|The champion confirmed the team now uses it weekly.|"
    "They raised a concern about slow report loading.|Usage is up since the last training session.|"
    "The sponsor wants a clearer link to revenue impact.|Finance asked for a multi-year price before renewal.|"
    "A second department is interested in the product.|The integration is live in their staging environment.|"
    "Two power users asked for advanced training.|They are evaluating a competitor for one use case.",
    "|",
)
DETAILS = words(
    "Next review in four weeks.|Shared the recording and the slides afterwards.|Support ticket linked to the account.|"
    "The customer will send the updated data by Friday.|Their procurement process takes about six weeks.|"
    "Our solutions engineer will join the next session.|",
    "|",
)
NEXT_STEPS = words(
    "Send the recap with owners and dates|Schedule the QBR with the sponsor|"
    "Share the adoption dashboard with the champion|Book a training session for the new analysts|"
    "Confirm the budget owner for the renewal|Escalate the performance issue to engineering|"
    "Introduce our solutions architect|Update the success plan milestones|Ask the sponsor for a reference call|"
    "Review licence usage before the renewal",
    "|",
)
