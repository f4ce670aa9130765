"""A failed statement's error names the SQL, not its parameters: the message is logged and
handed to error handlers, and a parameter may be personal data. (What PostgreSQL itself
echoes in its own message, such as a rejected literal, is the server's and stays.)"""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

SECRET = "11010519491231002X-Li-Wei"


async def test_a_failed_statement_does_not_carry_its_parameters(app_state) -> None:
    async with app_state.engine.connect() as conn:
        with pytest.raises(DBAPIError) as raised:
            await conn.execute(
                text("select 1 / 0 where cast(:value as text) is not null"), {"value": SECRET}
            )
    message = str(raised.value)
    assert "division by zero" in message and "select 1 / 0" in message  # the statement...
    assert SECRET not in message  # ...its parameter is not
    assert "hidden due to hide_parameters" in message
