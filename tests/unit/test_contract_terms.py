"""Contract terms: what they accept, and a digest that changes with every term and only then."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from domain.contracts.terms import (
    ContractParties,
    ContractParty,
    ContractTerms,
    InvalidContractTerms,
    PledgedReceipt,
    ScheduleLine,
    terms_digest,
)
from domain.kernel.money import Money
from domain.loans.policy import RepaymentMethod
from domain.products.models import ProductLine, TermUnit

BORROWER = ContractParty("李四", "110101199003074578")
FUNDER = ContractParty("华信商业保理有限公司", "91310000MA1FL0AB3X")
CORE = ContractParty("广州汽车集团股份有限公司", "91440101190400000A")


def cny(text: str) -> Money:
    return Money.parse(text, "CNY")


def line(due: date, principal: str, interest: str) -> ScheduleLine:
    return ScheduleLine(due, cny(principal), cny(interest), cny(principal) + cny(interest))


def bullet_terms() -> ContractTerms:
    """10,000.00 for 90 days at 7.3 %: interest 10,000 x 0.073 x 90 / 365 = 180.00."""
    return ContractTerms(
        contract_number="LG-2026-000001",
        version=1,
        issued_on=date(2026, 1, 15),
        product_line=ProductLine.CONSUMER_CREDIT,
        parties=ContractParties(borrower=BORROWER, funder=FUNDER),
        amount=cny("10000.00"),
        annual_rate=Decimal("0.0730"),
        term=90,
        term_unit=TermUnit.DAY,
        repayment_method=RepaymentMethod.BULLET,
        schedule=(line(date(2026, 4, 15), "10000.00", "180.00"),),
        origination_fee=cny("0.00"),
        late_penalty_daily_rate=Decimal("0.0005"),
        late_penalty_grace_days=0,
        prepayment_penalty_rate=Decimal("0"),
    )


def instalment_terms() -> ContractTerms:
    """30,000.00 in three equal-principal months at 12 %: interest 300.00, 200.00, 100.00."""
    return ContractTerms(
        contract_number="LG-2026-000002",
        version=1,
        issued_on=date(2026, 1, 15),
        product_line=ProductLine.CONSUMER_CREDIT,
        parties=ContractParties(borrower=BORROWER, funder=FUNDER),
        amount=cny("30000.00"),
        annual_rate=Decimal("0.12"),
        term=3,
        term_unit=TermUnit.MONTH,
        repayment_method=RepaymentMethod.EQUAL_PRINCIPAL,
        schedule=(
            line(date(2026, 2, 15), "10000.00", "300.00"),
            line(date(2026, 3, 15), "10000.00", "200.00"),
            line(date(2026, 4, 15), "10000.00", "100.00"),
        ),
        origination_fee=cny("300.00"),
        late_penalty_daily_rate=Decimal("0.0005"),
        late_penalty_grace_days=3,
        prepayment_penalty_rate=Decimal("0.01"),
    )


def pledge_terms() -> ContractTerms:
    return replace(
        instalment_terms(),
        product_line=ProductLine.WAREHOUSE_RECEIPT_PLEDGE,
        pledged_receipts=(
            PledgedReceipt("WR-0001", "螺纹钢 HRB400E", Decimal("120.5"), "吨"),
            PledgedReceipt("WR-0002", "电解铜", Decimal("30"), "吨"),
        ),
    )


def order_terms() -> ContractTerms:
    return replace(
        instalment_terms(),
        product_line=ProductLine.ORDER_FINANCING,
        parties=ContractParties(borrower=BORROWER, funder=FUNDER, core_enterprise=CORE),
    )


# -- the digest -----------------------------------------------------------------------------------


def test_digest_is_the_sha256_of_the_documented_canonical_json() -> None:
    # Written out by hand: sorted keys, no blanks, UTF-8, money in minor units, rates without
    # trailing zeros (0.0730 -> "0.073"), version and issue date left out.
    canonical = (
        '{"amount":{"currency":"CNY","minor":1000000},"annual_rate":"0.073",'
        '"contract_number":"LG-2026-000001","format":"lendgraph.contract-terms.v1",'
        '"late_penalty":{"daily_rate":"0.0005","grace_days":0},'
        '"origination_fee":{"currency":"CNY","minor":0},'
        '"parties":{"borrower":{"id_number":"110101199003074578","name":"李四"},'
        '"core_enterprise":null,'
        '"funder":{"id_number":"91310000MA1FL0AB3X","name":"华信商业保理有限公司"}},'
        '"pledged_receipts":[],"prepayment_penalty_rate":"0",'
        '"product_line":"CONSUMER_CREDIT","repayment_method":"BULLET",'
        '"schedule":[{"due_date":"2026-04-15","interest":{"currency":"CNY","minor":18000},'
        '"principal":{"currency":"CNY","minor":1000000},'
        '"total":{"currency":"CNY","minor":1018000}}],'
        '"term":90,"term_unit":"DAY"}'
    )
    expected = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    assert terms_digest(bullet_terms()) == expected


def test_terms_that_say_the_same_thing_have_one_digest() -> None:
    terms = instalment_terms()
    assert terms_digest(terms) == terms_digest(instalment_terms())
    # The same rates written with other trailing zeros.
    same = replace(
        terms,
        annual_rate=Decimal("0.1200"),
        late_penalty_daily_rate=Decimal("0.00050"),
        prepayment_penalty_rate=Decimal("0.010"),
    )
    assert terms_digest(same) == terms_digest(terms)
    # A name typed with a combining mark is the precomposed name (NFC).
    accented = ContractParty("Zoe\u0301 Li", "110101199003074578")
    precomposed = ContractParty("Zo\u00e9 Li", "110101199003074578")
    assert terms_digest(
        replace(terms, parties=ContractParties(borrower=accented, funder=FUNDER))
    ) == terms_digest(replace(terms, parties=ContractParties(borrower=precomposed, funder=FUNDER)))


def test_version_and_issue_date_are_not_terms() -> None:
    terms = instalment_terms()
    reissued = replace(terms, version=2, issued_on=date(2026, 1, 20))
    assert terms_digest(reissued) == terms_digest(terms)


def test_receipt_order_is_not_a_term() -> None:
    terms = pledge_terms()
    reordered = replace(terms, pledged_receipts=tuple(reversed(terms.pledged_receipts)))
    assert terms_digest(reordered) == terms_digest(terms)


CHANGES = {
    "contract number": lambda t: replace(t, contract_number="LG-2026-000003"),
    "annual rate": lambda t: replace(t, annual_rate=Decimal("0.1201")),
    "term": lambda t: replace(t, term=4),
    "term unit": lambda t: replace(t, term_unit=TermUnit.DAY),
    "repayment method": lambda t: replace(t, repayment_method=RepaymentMethod.EQUAL_INSTALLMENT),
    "a due date": lambda t: replace(
        t, schedule=(line(date(2026, 2, 16), "10000.00", "300.00"), *t.schedule[1:])
    ),
    "an interest amount": lambda t: replace(
        t, schedule=(line(date(2026, 2, 15), "10000.00", "300.01"), *t.schedule[1:])
    ),
    "amount and principal": lambda t: replace(
        t,
        amount=cny("30000.01"),
        schedule=(*t.schedule[:2], line(date(2026, 4, 15), "10000.01", "100.00")),
    ),
    "origination fee": lambda t: replace(t, origination_fee=cny("300.01")),
    "late penalty rate": lambda t: replace(t, late_penalty_daily_rate=Decimal("0.0006")),
    "grace days": lambda t: replace(t, late_penalty_grace_days=4),
    "prepayment penalty": lambda t: replace(t, prepayment_penalty_rate=Decimal("0.02")),
    "borrower name": lambda t: replace(
        t, parties=ContractParties(ContractParty("李五", BORROWER.id_number), FUNDER)
    ),
    "borrower id": lambda t: replace(
        t, parties=ContractParties(ContractParty("李四", "110101199003074594"), FUNDER)
    ),
    "funder": lambda t: replace(
        t, parties=ContractParties(BORROWER, ContractParty("另一家保理公司", FUNDER.id_number))
    ),
}


@pytest.mark.parametrize("change", list(CHANGES), ids=list(CHANGES))
def test_every_changed_term_gives_a_new_digest(change: str) -> None:
    terms = instalment_terms()
    assert terms_digest(CHANGES[change](terms)) != terms_digest(terms)


def test_a_changed_receipt_or_core_enterprise_gives_a_new_digest() -> None:
    pledge = pledge_terms()
    heavier = replace(
        pledge,
        pledged_receipts=(
            pledge.pledged_receipts[0],
            PledgedReceipt("WR-0002", "电解铜", Decimal("30.001"), "吨"),
        ),
    )
    assert terms_digest(heavier) != terms_digest(pledge)

    order = order_terms()
    other_buyer = replace(
        order,
        parties=ContractParties(BORROWER, FUNDER, ContractParty("另一家核心企业", CORE.id_number)),
    )
    assert terms_digest(other_buyer) != terms_digest(order)
    # The same economics under another product line is another contract.
    assert terms_digest(order) != terms_digest(instalment_terms())


def test_totals() -> None:
    terms = instalment_terms()
    assert terms.total_interest == cny("600.00")
    assert terms.total_repayable == cny("30600.00")


# -- what the terms refuse ------------------------------------------------------------------------

REFUSALS = {
    "a schedule that does not repay the amount": lambda: replace(
        instalment_terms(), amount=cny("30000.01")
    ),
    "dates out of order": lambda: replace(
        instalment_terms(), schedule=tuple(reversed(instalment_terms().schedule))
    ),
    "an empty schedule": lambda: replace(bullet_terms(), schedule=()),
    "a due date before issue": lambda: replace(bullet_terms(), issued_on=date(2026, 4, 15)),
    "order financing without a core enterprise": lambda: replace(
        instalment_terms(), product_line=ProductLine.ORDER_FINANCING
    ),
    "a core enterprise on consumer credit": lambda: replace(
        instalment_terms(), parties=ContractParties(BORROWER, FUNDER, CORE)
    ),
    "a pledge without receipts": lambda: replace(
        instalment_terms(), product_line=ProductLine.WAREHOUSE_RECEIPT_PLEDGE
    ),
    "receipts on consumer credit": lambda: replace(
        pledge_terms(), product_line=ProductLine.CONSUMER_CREDIT
    ),
    "a receipt pledged twice": lambda: replace(
        pledge_terms(),
        pledged_receipts=(
            PledgedReceipt("WR-0001", "电解铜", Decimal("1"), "吨"),
            PledgedReceipt("WR-0001", "电解铜", Decimal("2"), "吨"),
        ),
    ),
    "a float rate": lambda: replace(bullet_terms(), annual_rate=0.073),
    "a rate of 100 %": lambda: replace(bullet_terms(), annual_rate=Decimal("1")),
    "a negative penalty": lambda: replace(bullet_terms(), late_penalty_daily_rate=Decimal("-0.1")),
    "version 0": lambda: replace(bullet_terms(), version=0),
    "a fee in USD": lambda: replace(bullet_terms(), origination_fee=Money(100, "USD")),
    "a negative fee": lambda: replace(bullet_terms(), origination_fee=cny("-1.00")),
    "a blank contract number": lambda: replace(bullet_terms(), contract_number="  "),
    "negative grace days": lambda: replace(bullet_terms(), late_penalty_grace_days=-1),
}


@pytest.mark.parametrize("case", list(REFUSALS), ids=list(REFUSALS))
def test_inconsistent_terms_are_refused(case: str) -> None:
    with pytest.raises(InvalidContractTerms):
        REFUSALS[case]()


def test_lines_and_receipts_check_themselves() -> None:
    with pytest.raises(InvalidContractTerms, match="is not"):
        ScheduleLine(date(2026, 2, 15), cny("100.00"), cny("1.00"), cny("100.00"))
    with pytest.raises(InvalidContractTerms):
        PledgedReceipt("WR-1", "电解铜", Decimal("0"), "吨")
    with pytest.raises(InvalidContractTerms):
        ContractParty("", "110101199003074578")
