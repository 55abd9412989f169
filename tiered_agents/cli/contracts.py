"""Synthetic service contracts with known answers, for the demo and benchmarks.

They are generated here (no external data), so every field's true value is known.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["DATE_FIELDS", "FIELDS", "MONEY_FIELDS", "NUMERIC_FIELDS", "Contract",
           "make_contracts"]

FIELDS: dict[str, str] = {
    "provider": "the company that provides the services",
    "client": "the company that receives the services",
    "effective_date": "the date the agreement takes effect, as written (e.g. 3 March 2025)",
    "term_months": "the initial term in months",
    "notice_days": "days of written notice needed to terminate",
    "monthly_fee": "the monthly fee with its currency, as written (e.g. EUR 12,500)",
    "governing_law": "the jurisdiction whose law governs the agreement",
}
"""Field name to what it means; the demo extracts each one."""
NUMERIC_FIELDS = frozenset({"term_months", "notice_days"})
"""Fields whose value is a bare number ("90", not "90 days' written notice")."""
MONEY_FIELDS = frozenset({"monthly_fee"})
"""Fields whose value is an amount with its currency ("EUR 12,500" = "12500 EUR")."""
DATE_FIELDS = frozenset({"effective_date"})
"""Fields whose value is a date ("3 March 2025" = "2025-03-03")."""

_COMPANIES = ["Acme Analytics Ltd", "Borealis Logistics GmbH", "Cobalt Health Inc",
              "Delta Freight LLC", "Evergreen Foods plc", "Fjord Energy AS",
              "Granite Legal LLP", "Helix Robotics Corp", "Iris Media SA", "Juniper Bank NV"]
_LAWS = ["England and Wales", "the State of New York", "Germany", "Ontario", "Singapore",
         "the State of Delaware", "Ireland", "the Netherlands"]
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"]


@dataclass(frozen=True)
class Contract:
    """A contract's text and the true value of each field in `FIELDS`."""

    id: str
    text: str
    answers: dict[str, str]


def make_contracts(count: int = 6, seed: int = 7) -> list[Contract]:
    """`count` distinct contracts, the same for the same seed."""
    rng = random.Random(seed)
    contracts = []
    for i in range(count):
        provider, client = rng.sample(_COMPANIES, 2)
        date = f"{rng.randint(1, 28)} {rng.choice(_MONTHS)} {rng.randint(2024, 2027)}"
        term = rng.choice([6, 12, 18, 24, 36])
        notice = rng.choice([14, 30, 45, 60, 90])
        fee = f"{rng.choice(['USD', 'EUR', 'GBP'])} {rng.randint(2, 90) * 500:,}"
        law = rng.choice(_LAWS)
        text = (
            f"MASTER SERVICES AGREEMENT No. MSA-{1000 + i}\n\n"
            f"This Master Services Agreement is made on {date} (the \"Effective Date\") between "
            f"{provider} (the \"Provider\") and {client} (the \"Client\").\n\n"
            "1. Services. The Provider shall deliver the services described in each Statement "
            "of Work with reasonable skill and care.\n"
            f"2. Term. This Agreement starts on the Effective Date and continues for an initial "
            f"term of {term} months, renewing automatically for successive 12-month periods.\n"
            f"3. Fees. The Client shall pay a fee of {fee} per month, invoiced monthly in "
            "arrears and payable within 30 days.\n"
            f"4. Termination. Either party may terminate this Agreement for convenience by "
            f"giving {notice} days' written notice to the other party.\n"
            "5. Confidentiality. Each party shall keep the other's confidential information "
            "secret for five years after termination.\n"
            "6. Intellectual property. Each party keeps the intellectual property it owned "
            "before the Effective Date. The Provider grants the Client a non-exclusive licence "
            "to use the deliverables for its internal business purposes.\n"
            "7. Liability. Neither party's total liability under this Agreement shall exceed "
            "the fees paid in the 12 months before the claim, except for fraud, death or "
            "personal injury caused by negligence.\n"
            "8. Data protection. Each party shall comply with the data protection laws that "
            "apply to it and shall notify the other of a personal data breach within 72 "
            "hours.\n"
            "9. Assignment. Neither party may assign this Agreement without the other party's "
            "prior written consent, which shall not be unreasonably withheld.\n"
            "10. Entire agreement. This Agreement and its Statements of Work are the entire "
            "agreement between the parties and supersede all earlier proposals.\n"
            f"11. Governing law. This Agreement is governed by the laws of {law}.\n"
        )
        answers = {"provider": provider, "client": client, "effective_date": date,
                   "term_months": str(term), "notice_days": str(notice), "monthly_fee": fee,
                   "governing_law": law}
        contracts.append(Contract(id=f"MSA-{1000 + i}", text=text, answers=answers))
    return contracts
