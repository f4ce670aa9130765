"""Working-day schedules over GraphQL: a CN / FOLLOWING product quoted into 2027.

Neither packaged calendar has the State Council's 2027 arrangement (chinesecalendar 1.11.0
ends with 2026; holidays 0.109 only estimates 2027, without make-up working days), so the
operator enters the year through setCalendarDay. The days below are this test's own entries,
labelled as such: the statutory festival dates of 2027 (New Year's Day, Spring Festival from
5 February, Qingming 5 April, Labour Day, Dragon Boat 9 June, Mid-Autumn 15 September,
National Day) and one make-up working Saturday, 15 May, chosen because it falls on a due
date. They stand in for the notice, not for its exact content.

The loan: 120,000.00 CNY at 12 % a year, 12 months of equal principal from 2026-12-15, so
each month repays 10,000.00 and is charged 1 % of the balance it opens with (the engine's
regular-month rate, annual / 12): 1,200.00, 1,100.00, ... 100.00, 7,800.00 in all. Interest
of a shifted period accrues to the unadjusted scheduled date (the schema says so), so no
figure changes when a due date moves. Weekdays of the scheduled dates, from a wall calendar:
Jan 15 Fri, Feb 15 Mon, Mar 15 Mon, Apr 15 Thu, May 15 Sat, Jun 15 Tue, Jul 15 Thu,
Aug 15 Sun, Sep 15 Wed, Oct 15 Fri, Nov 15 Mon, Dec 15 Wed.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from tests.api.test_marketplace import market_world, partner_token, published, run
from tests.support import access_token, gql

LABEL = "test entry (not the State Council's notice): "


def _span(first: str, last: str) -> list[str]:
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [(start + timedelta(days=n)).isoformat() for n in range((end - start).days + 1)]


HOLIDAYS_2027 = {
    "New Year's Day": ["2027-01-01"],
    "Spring Festival": _span("2027-02-05", "2027-02-11"),
    "Qingming": ["2027-04-05"],
    "Labour Day": _span("2027-05-01", "2027-05-05"),
    "Dragon Boat Festival": ["2027-06-09"],
    "Mid-Autumn Festival": ["2027-09-15"],
    "National Day": _span("2027-10-01", "2027-10-07"),
}
MAKE_UP_2027 = {"make-up working day": ["2027-05-15"]}

SCHEDULED = [f"2027-{m:02d}-15" for m in range(1, 13)]
# FOLLOWING on the entered calendar: Sunday 15 August -> Monday 16; Mid-Autumn Wednesday
# 15 September -> Thursday 16; the make-up Saturday 15 May stays a due date.
DUE = [*SCHEDULED[:7], "2027-08-16", "2027-09-16", *SCHEDULED[9:]]
# Before the entries: Monday to Friday guessed, so only Saturday 15 May and Sunday 15 August
# move, to Monday 17 May and Monday 16 August, and 15 September (a Wednesday) stays.
DUE_GUESSED = [*SCHEDULED[:4], "2027-05-17", *SCHEDULED[5:7], "2027-08-16", *SCHEDULED[8:]]
INTEREST = [f"{1200 - 100 * k:,.2f}".replace(",", "") for k in range(12)]  # 1200.00 .. 100.00
TOTALS = [f"{11200 - 100 * k}.00" for k in range(12)]  # 11200.00 .. 10100.00

QUOTE = """
query ($id: ProductID!) {
  quote(productId: $id, amount: {amount: "120000.00", currency: "CNY"}, term: 12,
        startDate: "2026-12-15") {
    quote {
      businessDayConvention holidayCalendar maturityDate
      installments {
        number scheduledDate dueDate calendarKnown
        principal { amount } interest { amount } total { amount }
      }
      calendarWarnings { installment scheduledDate dueDate message }
      totalInterest { amount } totalRepayable { amount }
    }
    userErrors { field code message }
  }
}"""

SET_DAY = """
mutation ($input: SetCalendarDayInput!) {
  setCalendarDay(input: $input) {
    calendarDay { calendar date working label removed }
    userErrors { field code message }
  }
}"""

REMOVE_DAY = """
mutation ($input: RemoveCalendarDayInput!) {
  removeCalendarDay(input: $input) {
    calendarDay { date removed }
    userErrors { field code message }
  }
}"""

DAYS = """
query ($year: Int!) { calendarDays(calendar: CN, year: $year) { date working label } }
"""


async def _quote(client: Any, token: str, product_id: str) -> dict[str, Any]:
    payload = (await run(client, token, QUOTE, id=product_id))["quote"]
    assert payload["userErrors"] == [], payload
    return dict(payload["quote"])


async def _enter_2027(client: Any, operator: str) -> int:
    entered = 0
    for working, days in ((False, HOLIDAYS_2027), (True, MAKE_UP_2027)):
        for label, dates in days.items():
            for day in dates:
                data = await run(
                    client,
                    operator,
                    SET_DAY,
                    input={
                        "calendar": "CN",
                        "date": day,
                        "working": working,
                        "label": LABEL + label,
                    },
                )
                result = data["setCalendarDay"]
                assert result["userErrors"] == [], result
                assert result["calendarDay"] == {
                    "calendar": "CN",
                    "date": day,
                    "working": working,
                    "label": LABEL + label,
                    "removed": False,
                }
                entered += 1
    return entered


async def test_a_cn_following_quote_into_2027(client, app_state) -> None:
    world = await market_world(app_state)
    funder = await access_token(client, world.a.admin_email)
    product_id = await published(
        client,
        funder,
        world,
        "CONSUMER_CREDIT",
        "Working-day loan",
        repaymentMethod="EQUAL_PRINCIPAL",
        businessDayConvention="FOLLOWING",
        holidayCalendar="CN",
    )
    partner = await partner_token(client)

    # Nobody has published 2027: every due date is flagged, and placed on Monday to Friday.
    guessed = await _quote(client, partner, product_id)
    assert (guessed["businessDayConvention"], guessed["holidayCalendar"]) == ("FOLLOWING", "CN")
    lines = guessed["installments"]
    assert [line["scheduledDate"] for line in lines] == SCHEDULED
    assert [line["dueDate"] for line in lines] == DUE_GUESSED
    assert [line["calendarKnown"] for line in lines] == [False] * 12
    warnings = guessed["calendarWarnings"]
    assert [w["installment"] for w in warnings] == list(range(1, 13))
    assert warnings[4]["scheduledDate"] == "2027-05-15"
    assert warnings[4]["dueDate"] == "2027-05-17"
    assert "2027" in warnings[0]["message"]

    # Only the operator keeps calendars: a funder's admin is refused before anything runs.
    refused = await gql(
        client,
        funder,
        SET_DAY,
        {"input": {"calendar": "CN", "date": "2027-01-01", "working": False, "label": "x"}},
    )
    body = refused.json()
    assert body["data"] is None or body["data"]["setCalendarDay"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    operator = await access_token(client, world.admin_email)
    entered = await _enter_2027(client, operator)
    listed = (await run(client, partner, DAYS, year=2027))["calendarDays"]
    # 1 + 7 + 1 + 5 + 1 + 1 + 7 holidays and one make-up working day.
    assert len(listed) == entered == 24
    assert {"date": "2027-05-15", "working": True, "label": LABEL + "make-up working day"} in (
        listed
    )
    assert (await run(client, partner, DAYS, year=2028))["calendarDays"] == []

    known = await _quote(client, partner, product_id)
    lines = known["installments"]
    assert [line["scheduledDate"] for line in lines] == SCHEDULED
    assert [line["dueDate"] for line in lines] == DUE
    assert [line["calendarKnown"] for line in lines] == [True] * 12
    assert known["calendarWarnings"] == []
    assert known["maturityDate"] == "2027-12-15"
    # Equal principal, interest on the opening balance for the scheduled month: unchanged by
    # the moves (instalments 8 and 9 are due a day late and charged 500.00 and 400.00).
    assert [line["principal"]["amount"] for line in lines] == ["10000.00"] * 12
    assert [line["interest"]["amount"] for line in lines] == INTEREST
    assert [line["total"]["amount"] for line in lines] == TOTALS
    assert known["totalInterest"] == {"amount": "7800.00"}
    assert known["totalRepayable"] == {"amount": "127800.00"}

    # The operator's entries win: without the Mid-Autumn entry 15 September is a working
    # Wednesday again (the year stays known, by its other entries).
    removed = await run(
        client, operator, REMOVE_DAY, input={"calendar": "CN", "date": "2027-09-15"}
    )
    assert removed["removeCalendarDay"] == {
        "calendarDay": {"date": "2027-09-15", "removed": True},
        "userErrors": [],
    }
    after = await _quote(client, partner, product_id)
    assert after["installments"][8]["dueDate"] == "2027-09-15"
    assert after["calendarWarnings"] == []
    again = await run(client, operator, REMOVE_DAY, input={"calendar": "CN", "date": "2027-09-15"})
    assert [e["code"] for e in again["removeCalendarDay"]["userErrors"]] == ["NOT_FOUND"]
