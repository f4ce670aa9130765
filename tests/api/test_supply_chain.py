"""Supply chain over GraphQL: a core enterprise's user confirms a purchase order and nobody
else can; a warehouse's user issues a receipt; documents are uploaded as GraphQL multipart
requests, stored by content hash, and refused by size and by content type before anything is
stored."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from api.state import AppState
from domain.collateral.models import DocumentKind
from domain.kernel.storage import ObjectNotFound, ObjectTooLarge
from domain.parties import service as party_service
from domain.parties.models import OrganizationKind
from domain.persistence.engine import open_session
from domain.persistence.scope import PLATFORM_SCOPE
from integrations.storage import LocalDocumentStorage, document_storage
from lendgraph.demo import SEEDER
from tenants import service as tenant_service
from tenants.models import ClientKind
from tests.collateral_support import Chain, social_credit_code, supply_chain
from tests.support import World, access_token, client_token, global_id, gql, relate, seed_world

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 4096

ORDER_FIELDS = """
    id number status decidedAt decisionNote issueDate dueDate
    amount { amount currency }
    seller { name } buyer { name }
    documents { id fileName sha256 }
"""
CREATE_ORDER = f"""
mutation($input: CreatePurchaseOrderInput!) {{
  createPurchaseOrder(input: $input) {{
    purchaseOrder {{ {ORDER_FIELDS} }}
    userErrors {{ field code message }}
  }}
}}"""
CONFIRM = f"""
mutation($input: ConfirmPurchaseOrderInput!) {{
  confirmPurchaseOrder(input: $input) {{
    purchaseOrder {{ {ORDER_FIELDS} }}
    userErrors {{ field code message }}
  }}
}}"""
DISPUTE = f"""
mutation($input: DisputePurchaseOrderInput!) {{
  disputePurchaseOrder(input: $input) {{
    purchaseOrder {{ {ORDER_FIELDS} }}
    userErrors {{ field code message }}
  }}
}}"""
MY_ORDERS = "{ myPurchaseOrders(first: 10) { edges { node { id status seller { name } } } } }"
RECEIPT_FIELDS = """
    id number status goodsDescription quantity unit location
    unitPrice { amount currency } declaredValue { amount currency }
    warehouse { name } owner { name }
"""
ISSUE = f"""
mutation($input: IssueWarehouseReceiptInput!) {{
  issueWarehouseReceipt(input: $input) {{
    warehouseReceipt {{ {RECEIPT_FIELDS} }}
    userErrors {{ field code message }}
  }}
}}"""
MY_RECEIPTS = f"{{ myWarehouseReceipts(first: 10) {{ edges {{ node {{ {RECEIPT_FIELDS} }} }} }} }}"
UPLOAD = """
mutation Upload($input: UploadDocumentInput!) {
  uploadDocument(input: $input) {
    document { id kind fileName contentType sizeBytes sha256 purchaseOrder { id } }
    userErrors { field code message }
  }
}"""
NODE = "query($id: ID!) { node(id: $id) { id } }"


def _data(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return dict(body["data"])


async def _world(client: httpx.AsyncClient, app_state: AppState) -> tuple[World, Chain]:
    world = await seed_world(app_state)
    return world, await supply_chain(app_state, world)


async def _token(client: httpx.AsyncClient, email: str) -> str:
    return await access_token(client, email)


def _order_input(world: World, number: str = "PO-2026-0001") -> dict[str, Any]:
    return {
        "buyerId": global_id("Organization", world.core_enterprise_id),
        "number": number,
        "amount": {"amount": "1250000.00", "currency": "CNY"},
        "issueDate": "2026-12-01",
        "dueDate": "2027-03-01",
    }


async def _submit_order(
    client: httpx.AsyncClient, world: World, chain: Chain, number: str = "PO-2026-0001"
) -> dict[str, Any]:
    seller = await _token(client, chain.seller_user.email)
    payload = _data(
        await gql(client, seller, CREATE_ORDER, {"input": _order_input(world, number)})
    )["createPurchaseOrder"]
    assert payload["userErrors"] == []
    return dict(payload["purchaseOrder"])


async def _order_row(owner_engine, order_gid: str) -> dict[str, Any]:
    import base64

    pk = base64.b64decode(order_gid).decode().split(":", 1)[1]
    async with owner_engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "select status, decided_by_user_id, decided_at, decision_note"
                    " from purchase_orders where id = :id"
                ),
                {"id": pk},
            )
        ).one()
    return dict(row._mapping)


async def _count(owner_engine, table: str) -> int:
    async with owner_engine.connect() as conn:
        return int((await conn.execute(text(f"select count(*) from {table}"))).scalar_one())


# -- purchase orders ------------------------------------------------------------------------------


async def test_core_enterprise_user_confirms_a_purchase_order(
    client, app_state, owner_engine
) -> None:
    world, chain = await _world(client, app_state)
    order = await _submit_order(client, world, chain)
    assert order["status"] == "PENDING_CONFIRMATION"
    assert order["amount"] == {"amount": "1250000.00", "currency": "CNY"}
    assert order["seller"] == {"name": "Trader Co"}
    assert order["buyer"] == {"name": "Core Co"}

    core = await _token(client, chain.core_user.email)
    # The buyer lists the order and sees who claims the debt (the seller is a counterparty).
    listed = _data(await gql(client, core, MY_ORDERS))["myPurchaseOrders"]["edges"]
    assert [e["node"]["id"] for e in listed] == [order["id"]]
    assert listed[0]["node"]["seller"] == {"name": "Trader Co"}

    payload = _data(
        await gql(client, core, CONFIRM, {"input": {"id": order["id"], "note": "matches GRN 77"}})
    )["confirmPurchaseOrder"]
    assert payload["userErrors"] == []
    confirmed = payload["purchaseOrder"]
    assert confirmed["status"] == "CONFIRMED"
    assert confirmed["decidedAt"] is not None
    assert confirmed["decisionNote"] == "matches GRN 77"
    row = await _order_row(owner_engine, order["id"])
    assert row["status"] == "CONFIRMED"
    assert row["decided_by_user_id"] == chain.core_user.user_id

    # Decided once: neither a second confirmation nor a dispute changes it.
    payload = _data(await gql(client, core, DISPUTE, {"input": {"id": order["id"], "note": "x"}}))
    assert [e["code"] for e in payload["disputePurchaseOrder"]["userErrors"]] == [
        "INVALID_TRANSITION"
    ]
    async with owner_engine.connect() as conn:
        actions = [
            r[0]
            for r in await conn.execute(
                text("select action from audit_log where object_type = 'PurchaseOrder' order by id")
            )
        ]
        events = [
            r[0]
            for r in await conn.execute(
                text("select type from events where aggregate_type = 'PurchaseOrder' order by id")
            )
        ]
    assert actions == ["purchase_order.create", "purchase_order.confirm"]
    assert events == ["purchase_order.submitted", "purchase_order.confirmed"]


@pytest.mark.parametrize(
    ("who", "code"),
    [
        ("other_core_user", "NOT_FOUND"),  # another core enterprise: cannot even see it
        ("seller_user", "FORBIDDEN"),  # sees it, but it is not the debtor
        ("warehouse_user", "NOT_FOUND"),
    ],
)
async def test_only_the_buyer_decides(client, app_state, owner_engine, who: str, code: str) -> None:
    world, chain = await _world(client, app_state)
    order = await _submit_order(client, world, chain)
    before = await _order_row(owner_engine, order["id"])
    audit_before = await _count(owner_engine, "audit_log")
    token = await _token(client, getattr(chain, who).email)
    for document, name in ((CONFIRM, "confirmPurchaseOrder"), (DISPUTE, "disputePurchaseOrder")):
        payload = _data(
            await gql(client, token, document, {"input": {"id": order["id"], "note": "no"}})
        )[name]
        assert payload["purchaseOrder"] is None
        assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [("id", code)]
    # Nothing written.
    assert await _order_row(owner_engine, order["id"]) == before
    assert await _count(owner_engine, "audit_log") == audit_before
    # And an outsider cannot read it by ID either.
    if code == "NOT_FOUND":
        assert _data(await gql(client, token, NODE, {"id": order["id"]})) == {"node": None}


async def test_the_buyer_disputes_with_a_reason(client, app_state, owner_engine) -> None:
    world, chain = await _world(client, app_state)
    order = await _submit_order(client, world, chain)
    core = await _token(client, chain.core_user.email)
    payload = _data(await gql(client, core, DISPUTE, {"input": {"id": order["id"], "note": " "}}))
    assert [(e["field"], e["code"]) for e in payload["disputePurchaseOrder"]["userErrors"]] == [
        ("note", "REQUIRED")
    ]
    payload = _data(
        await gql(client, core, DISPUTE, {"input": {"id": order["id"], "note": "never delivered"}})
    )["disputePurchaseOrder"]
    assert payload["purchaseOrder"]["status"] == "DISPUTED"
    assert (await _order_row(owner_engine, order["id"]))["decision_note"] == "never delivered"


async def test_order_input_is_checked(client, app_state) -> None:
    world, chain = await _world(client, app_state)
    await _submit_order(client, world, chain)
    seller = await _token(client, chain.seller_user.email)
    # Same number at the same buyer.
    payload = _data(await gql(client, seller, CREATE_ORDER, {"input": _order_input(world)}))
    assert [e["code"] for e in payload["createPurchaseOrder"]["userErrors"]] == ["DUPLICATE"]
    # Every problem at once; a buyer that is not a core enterprise.
    bad = {
        **_order_input(world, ""),
        "amount": {"amount": "0", "currency": "CNY"},
        "dueDate": "2026-11-01",
    }
    payload = _data(await gql(client, seller, CREATE_ORDER, {"input": bad}))
    assert {(e["field"], e["code"]) for e in payload["createPurchaseOrder"]["userErrors"]} == {
        ("number", "REQUIRED"),
        ("amount", "INVALID_AMOUNT"),
        ("dueDate", "INVALID_DATE_RANGE"),
    }
    wrong_buyer = {
        **_order_input(world, "PO-2"),
        "buyerId": global_id("Organization", chain.warehouse_id),
    }
    payload = _data(await gql(client, seller, CREATE_ORDER, {"input": wrong_buyer}))
    assert [e["code"] for e in payload["createPurchaseOrder"]["userErrors"]] == [
        "WRONG_ORGANIZATION_KIND"
    ]
    # A core enterprise's user cannot submit an order in a seller's name.
    core = await _token(client, chain.core_user.email)
    on_behalf = {
        **_order_input(world, "PO-3"),
        "sellerId": global_id("Organization", world.borrower_org_id),
    }
    payload = _data(await gql(client, core, CREATE_ORDER, {"input": on_behalf}))
    assert [e["code"] for e in payload["createPurchaseOrder"]["userErrors"]] == ["FORBIDDEN"]


async def test_a_partner_app_submits_for_the_seller(client, app_state) -> None:
    world, chain = await _world(client, app_state)
    creds = ("chain-partner", "chain-partner-secret")
    async with open_session(app_state.sessions, PLATFORM_SCOPE) as s:
        partner = await party_service.create_organization(
            s,
            SEEDER,
            kind=OrganizationKind.PARTNER,
            name="Loan Mall",
            social_credit_code=social_credit_code(90),
        )
        await tenant_service.create_client(
            s,
            SEEDER,
            name="loan mall",
            kind=ClientKind.PARTNER_APP,
            scopes=["collateral:read", "collateral:write", "organizations:read"],
            organization_id=partner.id,
            credentials=creds,
        )
        await s.commit()
    response = await client_token(client, creds)
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    on_behalf = {
        **_order_input(world),
        "sellerId": global_id("Organization", world.borrower_org_id),
    }
    # Until the seller authorises the partner (or the partner onboarded it), the seller does
    # not exist to the partner, and nothing is written.
    refused = _data(await gql(client, token, CREATE_ORDER, {"input": on_behalf}))
    assert [(e["field"], e["code"]) for e in refused["createPurchaseOrder"]["userErrors"]] == [
        ("sellerId", "NOT_FOUND")
    ]
    await relate(app_state, agent_organization_id=partner.id, organization_id=world.borrower_org_id)
    payload = _data(await gql(client, token, CREATE_ORDER, {"input": on_behalf}))[
        "createPurchaseOrder"
    ]
    assert payload["userErrors"] == []
    # The partner sees what it submitted, seller included; the seller sees it too.
    assert payload["purchaseOrder"]["seller"] == {"name": "Trader Co"}
    seller = await _token(client, chain.seller_user.email)
    listed = _data(await gql(client, seller, MY_ORDERS))["myPurchaseOrders"]["edges"]
    assert [e["node"]["id"] for e in listed] == [payload["purchaseOrder"]["id"]]
    # A seller that is not a trade enterprise reads as not found to a partner.
    wrong = {
        **_order_input(world, "PO-9"),
        "sellerId": global_id("Organization", chain.cargo_owner_id),
    }
    payload = _data(await gql(client, token, CREATE_ORDER, {"input": wrong}))
    assert [(e["field"], e["code"]) for e in payload["createPurchaseOrder"]["userErrors"]] == [
        ("sellerId", "NOT_FOUND")
    ]


# -- warehouse receipts ---------------------------------------------------------------------------


def _receipt_input(chain: Chain, number: str = "WR-0001") -> dict[str, Any]:
    return {
        "ownerId": global_id("Organization", chain.cargo_owner_id),
        "number": number,
        "goodsDescription": "Copper cathode, grade A",
        "quantity": "25.5",
        "unit": "t",
        "location": "Shed 4, bay 12",
        "unitPrice": {"amount": "68000.00", "currency": "CNY"},
    }


async def test_warehouse_user_issues_a_receipt(client, app_state, owner_engine) -> None:
    _, chain = await _world(client, app_state)
    warehouse = await _token(client, chain.warehouse_user.email)
    payload = _data(await gql(client, warehouse, ISSUE, {"input": _receipt_input(chain)}))[
        "issueWarehouseReceipt"
    ]
    assert payload["userErrors"] == []
    receipt = payload["warehouseReceipt"]
    assert receipt["status"] == "ISSUED"
    assert receipt["quantity"] == "25.500000"
    # 25.5 t x 68,000.00 CNY/t.
    assert receipt["declaredValue"] == {"amount": "1734000.00", "currency": "CNY"}
    # The warehouse sees its client, the owner sees the warehouse.
    assert receipt["owner"] == {"name": "Cargo Co"}
    owner = await _token(client, chain.owner_user.email)
    listed = _data(await gql(client, owner, MY_RECEIPTS))["myWarehouseReceipts"]["edges"]
    assert [e["node"]["id"] for e in listed] == [receipt["id"]]
    assert listed[0]["node"]["warehouse"] == {"name": "Depot Co"}

    # The same number again; a quantity with too many decimals.
    payload = _data(await gql(client, warehouse, ISSUE, {"input": _receipt_input(chain)}))
    assert [e["code"] for e in payload["issueWarehouseReceipt"]["userErrors"]] == ["DUPLICATE"]
    bad = {**_receipt_input(chain, "WR-2"), "quantity": "1.0000001"}
    payload = _data(await gql(client, warehouse, ISSUE, {"input": bad}))
    assert [(e["field"], e["code"]) for e in payload["issueWarehouseReceipt"]["userErrors"]] == [
        ("quantity", "INVALID_QUANTITY")
    ]

    # Nobody but a warehouse user issues receipts: not the owner, not a core enterprise.
    count = await _count(owner_engine, "warehouse_receipts")
    for email in (chain.owner_user.email, chain.core_user.email):
        token = await _token(client, email)
        on_behalf = {
            **_receipt_input(chain, "WR-3"),
            "warehouseId": global_id("Organization", chain.warehouse_id),
        }
        payload = _data(await gql(client, token, ISSUE, {"input": on_behalf}))
        assert [e["code"] for e in payload["issueWarehouseReceipt"]["userErrors"]] == ["FORBIDDEN"]
    assert await _count(owner_engine, "warehouse_receipts") == count
    # Nor do outsiders read it.
    other = await _token(client, chain.other_core_user.email)
    assert _data(await gql(client, other, NODE, {"id": receipt["id"]})) == {"node": None}
    assert _data(await gql(client, other, MY_RECEIPTS))["myWarehouseReceipts"]["edges"] == []


# -- documents ------------------------------------------------------------------------------------


async def _upload(
    client: httpx.AsyncClient,
    token: str,
    content: bytes,
    *,
    name: str = "po.pdf",
    content_type: str = "application/pdf",
    variables: dict[str, Any] | None = None,
    preflight: bool = True,
) -> httpx.Response:
    """A GraphQL multipart request (https://github.com/jaydenseric/graphql-multipart-request-spec)."""
    input_ = {"file": None, "kind": "PURCHASE_ORDER", **(variables or {})}
    operations = {"query": UPLOAD, "operationName": "Upload", "variables": {"input": input_}}
    headers = {"Authorization": f"Bearer {token}"}
    if preflight:
        headers["x-apollo-operation-name"] = "Upload"
    return await client.post(
        "/graphql",
        data={
            "operations": json.dumps(operations),
            "map": json.dumps({"0": ["variables.input.file"]}),
        },
        files={"0": (name, content, content_type)},
        headers=headers,
    )


def _stored_files(app_state: AppState) -> set[Path]:
    root = Path(app_state.settings.data_dir) / "documents"
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


async def test_upload_a_small_pdf(client, app_state, owner_engine) -> None:
    world, chain = await _world(client, app_state)
    order = await _submit_order(client, world, chain)
    seller = await _token(client, chain.seller_user.email)
    response = await _upload(
        client,
        seller,
        PDF,
        name="../../PO 2026-0001.pdf",
        variables={"purchaseOrderId": order["id"]},
    )
    payload = _data(response)["uploadDocument"]
    assert payload["userErrors"] == []
    document = payload["document"]
    digest = hashlib.sha256(PDF).hexdigest()
    assert document["sha256"] == digest
    assert document["sizeBytes"] == len(PDF)
    assert document["contentType"] == "application/pdf"
    assert document["fileName"] == "PO 2026-0001.pdf"
    assert document["purchaseOrder"] == {"id": order["id"]}

    # Stored by its hash, whole, where the settings say.
    storage = document_storage(app_state.settings.data_dir)
    assert await storage.exists(digest)
    stored = b"".join([chunk async for chunk in storage.open(digest)])
    assert stored == PDF
    async with owner_engine.connect() as conn:
        key, size = (
            await conn.execute(text("select storage_key, size_bytes from documents"))
        ).one()
    assert (key, size) == (digest, len(PDF))

    # The buyer sees the documents of the order it is asked to confirm.
    core = await _token(client, chain.core_user.email)
    node = _data(
        await gql(
            client,
            core,
            "query($id: ID!) { node(id: $id) { ... on PurchaseOrder { documents { sha256 } } } }",
            {"id": order["id"]},
        )
    )["node"]
    assert node == {"documents": [{"sha256": digest}]}


async def test_oversized_and_disguised_files_are_refused(client, app_state, owner_engine) -> None:
    _, chain = await _world(client, app_state)
    seller = await _token(client, chain.seller_user.email)
    before = _stored_files(app_state)

    big = b"%PDF-1.4\n" + b"0" * (20 * 1024 * 1024)
    payload = _data(await _upload(client, seller, big, name="big.pdf"))["uploadDocument"]
    assert payload["document"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
        ("file", "DOCUMENT_TOO_LARGE")
    ]

    payload = _data(await _upload(client, seller, EXE, name="invoice.pdf"))["uploadDocument"]
    assert payload["document"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
        ("file", "DOCUMENT_TYPE_NOT_ALLOWED")
    ]
    # A real PDF declared as an image is refused too: the content decides, and must agree.
    payload = _data(await _upload(client, seller, PDF, name="x.png", content_type="image/png"))
    assert [e["code"] for e in payload["uploadDocument"]["userErrors"]] == [
        "DOCUMENT_TYPE_NOT_ALLOWED"
    ]

    assert await _count(owner_engine, "documents") == 0
    assert _stored_files(app_state) == before


async def test_multipart_needs_a_preflight_header(client, app_state, owner_engine) -> None:
    _, chain = await _world(client, app_state)
    seller = await _token(client, chain.seller_user.email)
    response = await _upload(client, seller, PDF, preflight=False)
    assert response.status_code == 400
    assert "Cross-Site Request Forgery" in response.text
    assert await _count(owner_engine, "documents") == 0


async def test_upload_needs_the_documents_scope(client, app_state) -> None:
    world, _chain = await _world(client, app_state)
    # A funder's reviewer may read documents but not upload them.
    token = await access_token(client, world.a.reviewer_email)
    body = (await _upload(client, token, PDF)).json()
    assert body["data"] == {"uploadDocument": None} or body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


# -- the storage adapter --------------------------------------------------------------------------


async def test_local_storage_is_atomic_content_addressed_and_confined(tmp_path) -> None:
    storage = LocalDocumentStorage(tmp_path)
    one = await storage.put(PDF, content_type="application/pdf")
    two = await storage.put(PDF, content_type="application/pdf")
    assert one == two
    assert one.sha256 == hashlib.sha256(PDF).hexdigest() == one.key
    assert [p.name for p in (tmp_path / "objects").rglob("*") if p.is_file()] == [one.key]

    async def chunks():
        yield b"%PDF-"
        yield b"0" * 100

    with pytest.raises(ObjectTooLarge):
        await storage.put(chunks(), content_type="application/pdf", max_bytes=50)
    # Nothing half-written is left behind.
    assert list((tmp_path / "tmp").iterdir()) == []
    assert len([p for p in (tmp_path / "objects").rglob("*") if p.is_file()]) == 1

    for key in ("../../etc/passwd", "/etc/passwd", one.key.upper(), one.key + "/..", "", "a" * 63):
        assert not await storage.exists(key)
        with pytest.raises(ObjectNotFound):
            async for _ in storage.open(key):
                pass
    with pytest.raises(ObjectNotFound):
        async for _ in storage.open(uuid.uuid4().hex * 2):
            pass


async def test_size_is_enforced_while_the_bytes_arrive(app_state, owner_engine, tmp_path) -> None:
    """Without a declared size (a client that streams), the limit still holds: the store
    stops at 10 MiB + 1 byte and keeps nothing."""
    from domain.collateral import service
    from domain.kernel.errors import DomainError
    from tests.collateral_support import session_of

    world = await seed_world(app_state)
    chain = await supply_chain(app_state, world)
    storage = LocalDocumentStorage(tmp_path)
    sent = 0

    async def stream():
        nonlocal sent
        yield b"%PDF-1.4\n"
        for _ in range(12 * 16):  # 12 MiB in 64 KiB chunks, if it were all read
            sent += 64 * 1024
            yield b"0" * (64 * 1024)

    actor = chain.seller_user.actor()
    async with session_of(app_state, actor) as s:
        with pytest.raises(DomainError) as caught:
            await service.upload_document(
                s, actor, storage, content=stream(), kind=DocumentKind.INVOICE, file_name="a.pdf"
            )
        await s.rollback()
    assert caught.value.code == "DOCUMENT_TOO_LARGE"
    assert sent <= 10 * 1024 * 1024 + 64 * 1024
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
    assert await _count(owner_engine, "documents") == 0


async def test_a_request_beyond_the_transport_cap_is_refused_unread(client, app_state) -> None:
    from api.graphql_view import MAX_MULTIPART_BYTES

    _, chain = await _world(client, app_state)
    seller = await _token(client, chain.seller_user.email)
    response = await _upload(client, seller, b"%PDF-" + b"0" * MAX_MULTIPART_BYTES)
    assert response.status_code == 413


async def test_a_file_must_be_a_multipart_part(client, app_state, owner_engine) -> None:
    _, chain = await _world(client, app_state)
    seller = await _token(client, chain.seller_user.email)
    response = await gql(client, seller, UPLOAD, {"input": {"file": "JVBERi0=", "kind": "INVOICE"}})
    payload = _data(response)["uploadDocument"]
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [("file", "REQUIRED")]
    assert await _count(owner_engine, "documents") == 0
