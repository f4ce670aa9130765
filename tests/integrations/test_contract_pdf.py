"""Contracts rendered to PDF: opened and read back with PDFium (pypdfium2), a page turned into
an image, the fonts checked as embedded, the bytes checked as a function of the terms."""

# ruff: noqa: RUF001

from __future__ import annotations

import ctypes
import hashlib
import os
import subprocess
import sys
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest
from PIL import Image

from domain.contracts.rendering import ContractRenderer, RenderedContract, UnrenderableTerms
from domain.contracts.terms import (
    ContractParties,
    ContractParty,
    ContractTerms,
    PledgedReceipt,
    ScheduleLine,
    terms_digest,
)
from domain.kernel.money import Money
from domain.loans.policy import RepaymentMethod
from domain.products.models import ProductLine, TermUnit
from integrations.documents import FpdfContractRenderer
from integrations.documents.contract_pdf import (
    amount_in_words,
    chinese_ordinal,
    format_amount,
    format_figures,
    format_percent,
    wrap_chinese,
)
from integrations.storage.local import LocalDocumentStorage

BORROWER = ContractParty("张三", "110101199003074578")
COMPANY = ContractParty("深圳市明达电子有限公司", "91440300MA5D000001")
FUNDER = ContractParty("华信商业保理有限公司", "91310000MA1FL0AB3X")
CORE = ContractParty("广州汽车集团股份有限公司", "91440101190400000A")
#: A contract of subset fonts stays small; the whole Noto SC fonts are 8 and 11 MB.
MAX_PDF_BYTES = 300_000


def cny(text: str) -> Money:
    return Money.parse(text, "CNY")


def consumer_terms() -> ContractTerms:
    """100,000.00 over four months at 7.2 %, equal principal: 25,000.00 a month with interest
    on the balance of 100,000 / 75,000 / 50,000 / 25,000 at 0.6 % a month."""
    lines = tuple(
        ScheduleLine(date(2026, month, 15), cny("25000.00"), cny(interest), cny(total))
        for month, interest, total in (
            (2, "600.00", "25600.00"),
            (3, "450.00", "25450.00"),
            (4, "300.00", "25300.00"),
            (5, "150.00", "25150.00"),
        )
    )
    return ContractTerms(
        contract_number="LG-2026-000123",
        version=1,
        issued_on=date(2026, 1, 15),
        product_line=ProductLine.CONSUMER_CREDIT,
        parties=ContractParties(borrower=BORROWER, funder=FUNDER),
        amount=cny("100000.00"),
        annual_rate=Decimal("0.072"),
        term=4,
        term_unit=TermUnit.MONTH,
        repayment_method=RepaymentMethod.EQUAL_PRINCIPAL,
        schedule=lines,
        origination_fee=cny("500.00"),
        late_penalty_daily_rate=Decimal("0.0005"),
        late_penalty_grace_days=3,
        prepayment_penalty_rate=Decimal("0.01"),
    )


def order_terms() -> ContractTerms:
    """500,000.00 for 90 days at 7.3 %, bullet: 500,000 x 0.073 x 90 / 365 = 9,000.00."""
    return replace(
        consumer_terms(),
        contract_number="LG-2026-000124",
        product_line=ProductLine.ORDER_FINANCING,
        parties=ContractParties(borrower=COMPANY, funder=FUNDER, core_enterprise=CORE),
        amount=cny("500000.00"),
        annual_rate=Decimal("0.073"),
        term=90,
        term_unit=TermUnit.DAY,
        repayment_method=RepaymentMethod.BULLET,
        schedule=(
            ScheduleLine(date(2026, 4, 15), cny("500000.00"), cny("9000.00"), cny("509000.00")),
        ),
        origination_fee=cny("0.00"),
        prepayment_penalty_rate=Decimal("0"),
    )


def pledge_terms() -> ContractTerms:
    return replace(
        consumer_terms(),
        contract_number="LG-2026-000125",
        product_line=ProductLine.WAREHOUSE_RECEIPT_PLEDGE,
        parties=ContractParties(borrower=COMPANY, funder=FUNDER),
        pledged_receipts=(
            PledgedReceipt("WR-2026-0001", "螺纹钢 HRB400E", Decimal("120.500"), "吨"),
            PledgedReceipt("WR-2026-0002", "电解铜", Decimal("30"), "吨"),
        ),
    )


@pytest.fixture(scope="module")
def renderer() -> FpdfContractRenderer:
    return FpdfContractRenderer()


@pytest.fixture(scope="module")
def consumer(renderer: FpdfContractRenderer) -> RenderedContract:
    return renderer.render(consumer_terms())


def text_of(pdf: bytes) -> str:
    document = pdfium.PdfDocument(pdf)
    return "\n".join(page.get_textpage().get_text_range() for page in document)


def flat(text: str) -> str:
    # Wrapped lines come back with line breaks; compare prose without them.
    return text.replace("\r", "").replace("\n", "")


# -- a PDF a person can open ----------------------------------------------------------------------


def test_renderer_implements_the_port(renderer: FpdfContractRenderer) -> None:
    assert isinstance(renderer, ContractRenderer)


def test_consumer_contract_reads_back_with_its_terms(consumer: RenderedContract) -> None:
    assert consumer.pdf.startswith(b"%PDF-")
    document = pdfium.PdfDocument(consumer.pdf)
    assert len(document) == consumer.pages
    text = flat(text_of(consumer.pdf))
    for expected in (
        "个人消费借款合同",
        "Personal Consumer Loan Contract",
        "LG-2026-000123",
        "张三",
        "110101199003074578",
        "华信商业保理有限公司",
        "人民币 100,000.00",
        "人民币壹拾万元整",
        "CNY 100,000.00",
        "7.20%",
        "等额本金",
        "2026-05-15",
        "25,600.00",
        "25,150.00",
        "101,500.00",  # principal plus interest 600 + 450 + 300 + 150
        "人民币 1,500.00",
        "人民币 500.00",  # the origination fee
        "0.05%",
        "3 日宽限期",
        "1.00%",
        "借款用途",
        terms_digest(consumer_terms()),
    ):
        assert expected in text, expected
    metadata = document.get_metadata_dict()
    assert metadata["CreationDate"] == "D:20260115000000+08'00'"
    assert metadata["Title"].startswith("个人消费借款合同")


def test_the_chinese_title_is_drawn_with_real_glyphs(consumer: RenderedContract) -> None:
    document = pdfium.PdfDocument(consumer.pdf)
    page = document[0]
    scale = 2
    image = page.render(scale=scale).to_pil().convert("L")
    textpage = page.get_textpage()
    title = "个人消费借款合同"
    match = textpage.search(title).get_next()
    assert match is not None
    start, count = match
    assert count == len(title)
    _, height = page.get_size()

    def crop(index: int) -> Image.Image:
        left, bottom, right, top = textpage.get_charbox(index)
        box = (left * scale, (height - top) * scale, right * scale, (height - bottom) * scale)
        return image.crop(tuple(round(v) for v in box))

    glyphs = [crop(start + offset) for offset in range(count)]
    for glyph in glyphs:
        dark = sum(glyph.histogram()[:128])
        # A 20 pt glyph at scale 2 is about 50 x 50 pixels; strokes cover a good share.
        assert dark > 0.08 * glyph.width * glyph.height
    # Distinct characters have distinct shapes: no run of identical boxes (tofu).
    assert len({glyph.tobytes() for glyph in glyphs}) == len(set(title))
    # The margin above the title stays white.
    margin = image.crop((0, 0, image.width, 15 * scale))
    assert margin.getextrema()[0] > 250


def test_fonts_are_embedded_subsets(consumer: RenderedContract) -> None:
    document = pdfium.PdfDocument(consumer.pdf)
    fonts: set[tuple[str, int]] = set()
    for page in document:
        for obj in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_TEXT,)):
            font = pdfium_c.FPDFTextObj_GetFont(obj.raw)
            size = pdfium_c.FPDFFont_GetBaseFontName(font, None, 0)
            name = ctypes.create_string_buffer(size)
            pdfium_c.FPDFFont_GetBaseFontName(font, name, size)
            fonts.add((name.value.decode(), pdfium_c.FPDFFont_GetIsEmbedded(font)))
    assert {embedded for _, embedded in fonts} == {1}
    families = {name.split("+", 1)[1] for name, _ in fonts}
    assert families == {"NotoSansSC", "NotoSerifSC"}
    # A subset font's name carries a six-letter tag before "+".
    assert all(len(name.split("+", 1)[0]) == 6 for name, _ in fonts)
    assert len(consumer.pdf) < MAX_PDF_BYTES


# -- one hash per set of terms --------------------------------------------------------------------


def test_the_same_terms_render_the_same_bytes(
    renderer: FpdfContractRenderer, consumer: RenderedContract
) -> None:
    again = renderer.render(consumer_terms())
    assert again.pdf == consumer.pdf
    assert again.sha256 == consumer.sha256 == hashlib.sha256(consumer.pdf).hexdigest()
    # A fresh renderer (fresh font objects) agrees too.
    assert FpdfContractRenderer().render(consumer_terms()).sha256 == consumer.sha256


def test_another_process_renders_the_same_bytes(consumer: RenderedContract) -> None:
    # Another interpreter with another hash seed: nothing in the bytes may depend on set or
    # dict iteration order, on the clock or on the process.
    script = (
        "import sys\n"
        "from tests.integrations.test_contract_pdf import consumer_terms\n"
        "from integrations.documents import FpdfContractRenderer\n"
        "sys.stdout.write(FpdfContractRenderer().render(consumer_terms()).sha256)\n"
    )
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(root)}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert result.stdout == consumer.sha256


def test_a_changed_term_or_version_renders_another_contract(
    renderer: FpdfContractRenderer, consumer: RenderedContract
) -> None:
    terms = consumer_terms()
    dearer = renderer.render(replace(terms, annual_rate=Decimal("0.0725")))
    assert dearer.sha256 != consumer.sha256
    assert "7.25%" in text_of(dearer.pdf)
    second = renderer.render(replace(terms, version=2))
    assert second.sha256 != consumer.sha256
    assert "本合同为第 2 版" in flat(text_of(second.pdf))


async def test_the_hash_is_the_document_store_key(
    consumer: RenderedContract, tmp_path: Path
) -> None:
    stored = await LocalDocumentStorage(tmp_path).put(consumer.pdf, content_type="application/pdf")
    assert stored.key == consumer.sha256
    assert stored.size == len(consumer.pdf)


# -- the other product lines ----------------------------------------------------------------------


def test_order_financing_is_tripartite_with_the_acknowledgement(
    renderer: FpdfContractRenderer,
) -> None:
    rendered = renderer.render(order_terms())
    text = flat(text_of(rendered.pdf))
    for expected in (
        "订单融资三方协议",
        "Tripartite Order Financing Agreement",
        "甲方（资金方）",
        "乙方（借款人、供应商）",
        "丙方（核心企业）",
        "广州汽车集团股份有限公司",
        "深圳市明达电子有限公司",
        "核心企业确认",
        "直接支付至甲方指定账户",
        "Party C undertakes to pay",
        "人民币 500,000.00",
        "人民币伍拾万元整",
        "90 天",
        "到期一次性还本付息",
        "509,000.00",
        "本合同项下不收取手续费",
        "不收取提前还款违约金",
        "丙方（核心企业）确认并盖章",
    ):
        assert expected in text, expected
    assert "借款用途" not in text
    assert "质押条款" not in text
    assert rendered.pages == len(pdfium.PdfDocument(rendered.pdf))
    assert len(rendered.pdf) < MAX_PDF_BYTES


def test_warehouse_receipt_pledge_has_the_pledge_clause_and_receipts(
    renderer: FpdfContractRenderer,
) -> None:
    rendered = renderer.render(pledge_terms())
    text = flat(text_of(rendered.pdf))
    for expected in (
        "仓单质押借款合同",
        "Warehouse Receipt Pledge Loan Contract",
        "借款人（出质人）",
        "贷款人（质权人）",
        "质押条款",
        "仓储方凭贷款人书面指令方可放货",
        "仓单编号 Receipt No.",
        "WR-2026-0001",
        "螺纹钢 HRB400E",
        "120.5",
        "WR-2026-0002",
        "电解铜",
    ):
        assert expected in text, expected
    assert "核心企业" not in text
    assert len(rendered.pdf) < MAX_PDF_BYTES


def test_a_long_schedule_runs_over_more_pages(renderer: FpdfContractRenderer) -> None:
    # 36 monthly instalments of 1,000.00 principal and 10.00 interest.
    lines = tuple(
        ScheduleLine(
            date(2026 + (month - 1) // 12, (month - 1) % 12 + 1, 15),
            cny("1000.00"),
            cny("10.00"),
            cny("1010.00"),
        )
        for month in range(2, 38)
    )
    terms = replace(consumer_terms(), amount=cny("36000.00"), term=36, schedule=lines)
    rendered = renderer.render(terms)
    assert rendered.pages >= 3
    assert rendered.pages == len(pdfium.PdfDocument(rendered.pdf))
    text = text_of(rendered.pdf)
    assert "36,360.00" in text  # 36 x 1,010.00
    assert f"共 {rendered.pages} 页" in text


def test_a_usd_contract_names_its_currency(renderer: FpdfContractRenderer) -> None:
    def usd(money: Money) -> Money:
        return Money(money.amount_minor, "USD")

    terms = consumer_terms()
    dollars = replace(
        terms,
        amount=usd(terms.amount),
        origination_fee=usd(terms.origination_fee),
        schedule=tuple(
            ScheduleLine(line.due_date, usd(line.principal), usd(line.interest), usd(line.total))
            for line in terms.schedule
        ),
    )
    text = flat(text_of(renderer.render(dollars).pdf))
    assert "借款金额为美元 100,000.00。" in text  # capital numerals are for CNY only
    assert "USD 100,000.00" in text
    assert "金额单位：美元 / Amounts in USD" in text
    assert "人民币" not in text


def test_a_character_without_a_glyph_is_refused(renderer: FpdfContractRenderer) -> None:
    terms = replace(
        consumer_terms(), parties=ContractParties(ContractParty("张三\U0001f600", "1"), FUNDER)
    )
    with pytest.raises(UnrenderableTerms, match="glyph"):
        renderer.render(terms)
    # Nor in the contract number, printed under the title and in every page's footer.
    with pytest.raises(UnrenderableTerms, match="glyph"):
        renderer.render(replace(consumer_terms(), contract_number="LG-\U0001f600"))


# -- wording --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        ("100000.00", "人民币壹拾万元整"),
        ("1234567.89", "人民币壹佰贰拾叁万肆仟伍佰陆拾柒元捌角玖分"),
        ("100.05", "人民币壹佰元零伍分"),
        ("10000100.00", "人民币壹仟万零壹佰元整"),
        ("101000.00", "人民币壹拾万壹仟元整"),
        ("1001.00", "人民币壹仟零壹元整"),
        ("1010.50", "人民币壹仟零壹拾元伍角"),
        ("300000000.10", "人民币叁亿元壹角"),
        ("1000000000000.00", "人民币壹万亿元整"),
        ("0.50", "人民币伍角"),
        ("0.05", "人民币伍分"),
        ("0.00", "人民币零元整"),
    ],
)
def test_amount_in_capital_numerals(amount: str, words: str) -> None:
    assert amount_in_words(cny(amount)) == words


def test_figures_rates_and_article_numbers() -> None:
    assert format_figures(cny("100000.00")) == "100,000.00"
    assert format_figures(cny("999.99")) == "999.99"
    assert format_figures(cny("1234567.05")) == "1,234,567.05"
    assert format_figures(Money(1234567, "JPY")) == "1,234,567"
    assert format_amount(cny("100000.00")) == "人民币 100,000.00"
    assert format_amount(cny("100000.00"), "en") == "CNY 100,000.00"
    assert format_percent(Decimal("0.072")) == "7.20%"
    assert format_percent(Decimal("0.0005")) == "0.05%"
    assert format_percent(Decimal("0.00015")) == "0.015%"
    assert format_percent(Decimal("0")) == "0.00%"
    assert [chinese_ordinal(n) for n in (1, 10, 11, 20, 35)] == [
        "一",
        "十",
        "十一",
        "二十",
        "三十五",
    ]
    with pytest.raises(UnrenderableTerms):
        amount_in_words(Money(100, "USD"))


def test_chinese_lines_never_split_a_figure() -> None:
    # One unit per character: 12 characters fit on a line.
    lines = wrap_chinese("借款金额为人民币 100,000.00，按日 0.05% 计收。", 12, len)
    assert lines == ["借款金额为人民币", "100,000.00，按", "日 0.05% 计收。"]
    # A closing mark hangs at the end of a full line rather than starting the next.
    assert wrap_chinese("一二三四，五", 4, len) == ["一二三四，", "五"]
    # A run longer than a line is cut at the line's width.
    assert wrap_chinese("条" + "a" * 30, 12, len) == ["条", "a" * 12, "a" * 12, "a" * 6]
    assert all("100,000.00" in line or "100" not in line for line in lines)
