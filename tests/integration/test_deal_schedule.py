"""A deal's repayment schedule follows the working days of the product version it was applied
under: the business-day convention moves the due date, interest runs to the scheduled date."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from domain.deals import service
from domain.kernel.calendar import BusinessDayRule, HolidayCalendar
from domain.kernel.money import Money
from domain.products.models import ProductLine
from tests.collateral_support import session_of
from tests.deals_support import apply, line_terms, market, pledge_deal, publish
from tests.support import access_token, global_id, gql


async def test_a_pledge_deal_due_on_national_day_moves_to_the_next_working_day(
    app_state, client
) -> None:
    m = await market(app_state)
    terms = replace(
        line_terms(ProductLine.WAREHOUSE_RECEIPT_PLEDGE, m.world, m.chain),
        business_day_convention=BusinessDayRule.FOLLOWING,
        holiday_calendar=HolidayCalendar.CN,
    )
    product = await publish(app_state, m.world.a.id, ProductLine.WAREHOUSE_RECEIPT_PLEDGE, terms)
    owner = m.chain.owner_user.actor()
    deal = (await apply(app_state, owner, **pledge_deal(m, "a", product_id=product))).deal

    async with session_of(app_state, owner) as session:
        found = await service.repayment_schedule(
            session, owner, deal=deal, start_date=date(2026, 7, 3)
        )
    assert found is not None
    (line,) = found.schedule.installments
    # 90 days from 3 July 2026 end on 1 October (National Day, off until the 7th): due
    # Thursday 8 October; 1,000,000.00 x 12 % x 90 / 365 = 29,589.041... -> 29,589.04.
    assert line.period_end == date(2026, 10, 1)
    assert line.due_date == date(2026, 10, 8)
    assert line.interest == Money.parse("29589.04", "CNY")
    assert found.calendar_known == (True,)
    assert found.calendar_warnings == ()

    # The same deal valued a year later falls in 2027, which no calendar knows yet: flagged.
    async with session_of(app_state, owner) as session:
        later = await service.repayment_schedule(
            session, owner, deal=deal, start_date=date(2027, 7, 3)
        )
    assert later is not None
    assert later.calendar_known == (False,)
    assert [w.installment for w in later.calendar_warnings] == [1]

    # Over GraphQL, for the applicant's side.
    token = await access_token(client, m.chain.owner_user.email)
    query = (
        "query($id: ID!) { node(id: $id) { ... on Deal { repaymentSchedule("
        'startDate: "2026-07-03") { startDate maturityDate businessDayConvention '
        "installments { scheduledDate dueDate calendarKnown interest { amount } } "
        "calendarWarnings { installment } totalInterest { amount } } } } }"
    )
    response = await gql(client, token, query, {"id": global_id("Deal", deal.id)})
    body = response.json()
    assert "errors" not in body, body
    assert body["data"]["node"]["repaymentSchedule"] == {
        "startDate": "2026-07-03",
        "maturityDate": "2026-10-08",
        "businessDayConvention": "FOLLOWING",
        "installments": [
            {
                "scheduledDate": "2026-10-01",
                "dueDate": "2026-10-08",
                "calendarKnown": True,
                "interest": {"amount": "29589.04"},
            }
        ],
        "calendarWarnings": [],
        "totalInterest": {"amount": "29589.04"},
    }
