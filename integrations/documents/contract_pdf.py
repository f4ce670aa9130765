# Chinese text uses full-width punctuation on purpose; it is not a typo for ASCII.
# ruff: noqa: RUF001
"""Loan contracts as PDF, in Chinese and English, with fpdf2 and Noto Sans/Serif SC.

One template per product line: a consumer credit contract between borrower and lender; a
tripartite order-financing agreement in which the core enterprise (the buyer) acknowledges
the order and undertakes to pay its proceeds to the funder; a warehouse-receipt pledge
contract with the pledge clause and the table of pledged receipts. Every template carries
the parties, the amount in figures and (for CNY) in capital numerals, the rate, the term,
the repayment method and schedule, the fee, the late-payment and prepayment penalties, the
version clause with the terms digest, and signature blocks.

The fonts are the Noto SC fonts (SIL Open Font License 1.1) shipped by the
``pylopdf-fonts-zh-cn`` package, embedded as subsets, so the PDF opens the same everywhere
without a Chinese font installed. A character the fonts have no glyph for is refused
(:class:`UnrenderableTerms`) instead of being printed as an empty box.

The bytes are a function of the terms: the creation date is the issue date and the file
identifier is derived from the contract number, version and terms digest, so rendering the
same terms again gives the same SHA-256.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Final

from fpdf import FPDF, FontFace
from fpdf.enums import Align, WrapMode, XPos, YPos

from domain.contracts.rendering import ContractRenderer, RenderedContract, UnrenderableTerms
from domain.contracts.terms import ContractParty, ContractTerms, terms_digest
from domain.kernel.money import Money
from domain.loans.policy import RepaymentMethod
from domain.products.models import ProductLine, TermUnit

__all__ = [
    "FpdfContractRenderer",
    "amount_in_words",
    "chinese_ordinal",
    "format_amount",
    "format_figures",
    "format_percent",
    "title_of",
    "wrap_chinese",
]

# -- wording of amounts, rates and numbers ------------------------------------------------------

#: Chinese and English names of the currencies contracts are written in.
_CURRENCY_NAMES: Final[dict[str, tuple[str, str]]] = {
    "CNY": ("人民币", "CNY"),
    "USD": ("美元", "USD"),
    "EUR": ("欧元", "EUR"),
    "HKD": ("港币", "HKD"),
    "JPY": ("日元", "JPY"),
    "KRW": ("韩元", "KRW"),
}

_CAPITAL_DIGITS: Final[str] = "零壹贰叁肆伍陆柒捌玖"
_CAPITAL_POSITIONS: Final[tuple[str, ...]] = ("", "拾", "佰", "仟")
_ORDINAL_DIGITS: Final[str] = "零一二三四五六七八九"


def format_figures(money: Money) -> str:
    """The amount in figures with thousands separators and exactly the currency's decimals:
    ``"100,000.00"``, ``"1,234"`` for JPY. From the integer minor units; no float involved."""
    text = money.to_decimal_string()
    sign = "-" if text.startswith("-") else ""
    whole, _, fraction = text.lstrip("-").partition(".")
    groups: list[str] = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    grouped = ",".join(groups)
    return f"{sign}{grouped}.{fraction}" if fraction else f"{sign}{grouped}"


def _currency_names(currency: str) -> tuple[str, str]:
    try:
        return _CURRENCY_NAMES[currency]
    except KeyError:
        raise UnrenderableTerms(f"no contract wording for currency {currency}") from None


def format_amount(money: Money, language: str = "zh") -> str:
    """``"人民币 100,000.00"`` (``language="zh"``) or ``"CNY 100,000.00"`` (``"en"``)."""
    zh, en = _currency_names(money.currency)
    return f"{zh if language == 'zh' else en} {format_figures(money)}"


def _capital_below_10000(number: int) -> str:
    # 1001 -> 壹仟零壹: one 零 for each run of zeros followed by a digit, none at the end.
    digits = f"{number:04d}"
    out: list[str] = []
    pending_zero = False
    for index, char in enumerate(digits):
        digit = int(char)
        if digit == 0:
            pending_zero = bool(out)
            continue
        if pending_zero:
            out.append("零")
            pending_zero = False
        out.append(_CAPITAL_DIGITS[digit] + _CAPITAL_POSITIONS[3 - index])
    return "".join(out)


def _capital_integer(number: int) -> str:
    # Recursive on 亿 and 万, so 10**12 reads 壹万亿; 零 bridges a gap below the unit.
    for size, unit in ((10**8, "亿"), (10**4, "万")):
        if number >= size:
            high, low = divmod(number, size)
            text = _capital_integer(high) + unit
            if low == 0:
                return text
            bridge = "零" if low < size // 10 else ""
            return text + bridge + _capital_integer(low)
    return _capital_below_10000(number)


def amount_in_words(money: Money) -> str:
    """A CNY amount in capital numerals, as Chinese contracts and bills state it next to the
    figures: 100,000.00 -> ``"人民币壹拾万元整"``, 100.05 -> ``"人民币壹佰元零伍分"``. Follows the
    rules of the People's Bank of China for capital amounts: 整 after 元, none after 分.
    Refuses other currencies and negative amounts."""
    if money.currency != "CNY":
        raise UnrenderableTerms(f"capital numerals are written for CNY only, not {money.currency}")
    if money.is_negative():
        raise UnrenderableTerms("a contract amount is not negative")
    yuan, cents = divmod(money.amount_minor, 100)
    jiao, fen = divmod(cents, 10)
    if yuan == 0 and cents == 0:
        return "人民币零元整"
    text = "人民币"
    if yuan:
        text += _capital_integer(yuan) + "元"
    if cents == 0:
        return text + "整"
    if jiao:
        text += _CAPITAL_DIGITS[jiao] + "角"
    elif yuan:
        text += "零"
    if fen:
        text += _CAPITAL_DIGITS[fen] + "分"
    return text


def format_percent(rate: Decimal) -> str:
    """A fraction as a percentage with at least two decimals and every digit it has:
    0.072 -> ``"7.20%"``, 0.0005 -> ``"0.05%"``, 0.00015 -> ``"0.015%"``. Exact: the
    digits are shifted, never rounded."""
    percent = rate.scaleb(2).normalize()
    exponent = percent.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -2:
        percent = percent.quantize(Decimal("0.01"))
    return f"{format(percent, 'f')}%"


def _format_quantity(quantity: Decimal) -> str:
    return format(quantity.normalize(), "f")


def chinese_ordinal(number: int) -> str:
    """The article numeral of Chinese contracts for 1..99: 1 -> 一, 10 -> 十, 12 -> 十二,
    20 -> 二十, 35 -> 三十五."""
    if not 1 <= number <= 99:
        raise ValueError("articles are numbered 1 to 99")
    tens, units = divmod(number, 10)
    head = "" if tens == 0 else ("十" if tens == 1 else _ORDINAL_DIGITS[tens] + "十")
    return head + (_ORDINAL_DIGITS[units] if units else "")


# -- template content ---------------------------------------------------------------------------

_TITLES: Final[dict[ProductLine, tuple[str, str]]] = {
    ProductLine.CONSUMER_CREDIT: ("个人消费借款合同", "Personal Consumer Loan Contract"),
    ProductLine.ORDER_FINANCING: ("订单融资三方协议", "Tripartite Order Financing Agreement"),
    ProductLine.WAREHOUSE_RECEIPT_PLEDGE: (
        "仓单质押借款合同",
        "Warehouse Receipt Pledge Loan Contract",
    ),
}

_METHODS: Final[dict[RepaymentMethod, tuple[str, str]]] = {
    RepaymentMethod.EQUAL_INSTALLMENT: (
        "等额本息",
        "equal instalments of principal and interest",
    ),
    RepaymentMethod.EQUAL_PRINCIPAL: ("等额本金", "equal principal with interest on the balance"),
    RepaymentMethod.INTEREST_ONLY: (
        "按期付息、到期还本",
        "interest each period, principal at maturity",
    ),
    RepaymentMethod.BULLET: (
        "到期一次性还本付息",
        "principal and interest in one payment at maturity",
    ),
}

_PERSON_ID: Final[tuple[str, str]] = ("身份证号码", "Resident ID No.")
_ORGANIZATION_ID: Final[tuple[str, str]] = ("统一社会信用代码", "Unified Social Credit Code")


def title_of(product_line: ProductLine) -> tuple[str, str]:
    """The Chinese and English title of the contract of ``product_line``."""
    return _TITLES[ProductLine(product_line)]


@dataclass(frozen=True, slots=True)
class _Role:
    zh: str
    en: str
    party: ContractParty
    id_label: tuple[str, str]


@dataclass(frozen=True, slots=True)
class _Table:
    headings: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    widths: tuple[int, ...]
    align: tuple[str, ...]
    note: str = ""


@dataclass(frozen=True, slots=True)
class _Article:
    zh_title: str
    en_title: str
    zh: str
    en: str
    table: _Table | None = None


@dataclass(frozen=True, slots=True)
class _Contract:
    title: tuple[str, str]
    roles: tuple[_Role, ...]
    articles: tuple[_Article, ...]
    signatures: tuple[tuple[str, str], ...]
    digest: str


def _roles(terms: ContractTerms) -> tuple[_Role, ...]:
    parties = terms.parties
    line = ProductLine(terms.product_line)
    if line is ProductLine.CONSUMER_CREDIT:
        return (
            _Role("贷款人", "Lender", parties.funder, _ORGANIZATION_ID),
            _Role("借款人", "Borrower", parties.borrower, _PERSON_ID),
        )
    if line is ProductLine.ORDER_FINANCING:
        assert parties.core_enterprise is not None  # ContractTerms guarantees it
        return (
            _Role("甲方（资金方）", "Party A (Funder)", parties.funder, _ORGANIZATION_ID),
            _Role(
                "乙方（借款人、供应商）",
                "Party B (Borrower, supplier)",
                parties.borrower,
                _ORGANIZATION_ID,
            ),
            _Role(
                "丙方（核心企业）",
                "Party C (Core enterprise)",
                parties.core_enterprise,
                _ORGANIZATION_ID,
            ),
        )
    return (
        _Role("贷款人（质权人）", "Lender (Pledgee)", parties.funder, _ORGANIZATION_ID),
        _Role("借款人（出质人）", "Borrower (Pledgor)", parties.borrower, _ORGANIZATION_ID),
    )


def _term_text(terms: ContractTerms) -> tuple[str, str]:
    if TermUnit(terms.term_unit) is TermUnit.MONTH:
        return f"{terms.term} 个月", f"{terms.term} month{'s' if terms.term > 1 else ''}"
    return f"{terms.term} 天", f"{terms.term} day{'s' if terms.term > 1 else ''}"


def _schedule_table(terms: ContractTerms) -> _Table:
    zh_currency, en_currency = _currency_names(terms.currency)
    # 人民币元 names the yuan; other currencies' Chinese names already are units (美元, 日元).
    unit = "人民币元" if terms.currency == "CNY" else zh_currency
    rows = tuple(
        (
            str(number),
            line.due_date.isoformat(),
            format_figures(line.principal),
            format_figures(line.interest),
            format_figures(line.total),
        )
        for number, line in enumerate(terms.schedule, start=1)
    )
    principal = Money.sum((line.principal for line in terms.schedule), terms.currency)
    total_row = (
        "合计 Total",
        "",
        format_figures(principal),
        format_figures(terms.total_interest),
        format_figures(terms.total_repayable),
    )
    return _Table(
        headings=("期数 No.", "还款日 Due date", "本金 Principal", "利息 Interest", "合计 Total"),
        rows=(*rows, total_row),
        widths=(22, 34, 38, 38, 38),
        align=("CENTER", "CENTER", "RIGHT", "RIGHT", "RIGHT"),
        note=f"金额单位：{unit} / Amounts in {en_currency}",
    )


def _receipt_table(terms: ContractTerms) -> _Table:
    rows = tuple(
        (receipt.number, receipt.goods, _format_quantity(receipt.quantity), receipt.unit)
        for receipt in terms.pledged_receipts
    )
    return _Table(
        headings=("仓单编号 Receipt No.", "货物 Goods", "数量 Quantity", "单位 Unit"),
        rows=rows,
        widths=(44, 66, 34, 26),
        align=("LEFT", "LEFT", "RIGHT", "CENTER"),
    )


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _common_articles(terms: ContractTerms, borrower: str, lender: str) -> list[_Article]:
    zh_borrower, en_borrower = borrower.split("|")
    zh_lender, en_lender = lender.split("|")
    amount_zh = format_amount(terms.amount, "zh")
    amount_en = format_amount(terms.amount, "en")
    words = f"（大写：{amount_in_words(terms.amount)}）" if terms.currency == "CNY" else ""
    term_zh, term_en = _term_text(terms)
    start = terms.issued_on.isoformat()
    end = terms.schedule[-1].due_date.isoformat()
    method_zh, method_en = _METHODS[RepaymentMethod(terms.repayment_method)]
    periods = len(terms.schedule)
    rate = format_percent(terms.annual_rate)
    fee = terms.origination_fee
    if fee.is_zero():
        fee_zh = "本合同项下不收取手续费。"
        fee_en = "No origination fee is charged under this contract."
    else:
        fee_zh = f"{zh_borrower}应于借款发放时向{zh_lender}支付手续费{format_amount(fee, 'zh')}。"
        fee_en = (
            f"{_sentence(en_borrower)} shall pay {en_lender} an origination fee of "
            f"{format_amount(fee, 'en')} when the loan is disbursed."
        )
    grace = terms.late_penalty_grace_days
    daily = format_percent(terms.late_penalty_daily_rate)
    if grace:
        grace_zh = f"给予 {grace} 日宽限期；宽限期届满仍未足额还款的，"
        days = f"{grace} day{'s' if grace > 1 else ''}"
        grace_en = f"a grace period of {days} applies; if it is still unpaid after that, "
    else:
        grace_zh = "不设宽限期，"
        grace_en = "no grace period applies, and "
    prepay = terms.prepayment_penalty_rate
    if prepay.is_zero():
        prepay_zh = f"{zh_borrower}可提前偿还全部或部分借款本金，不收取提前还款违约金。"
        prepay_en = (
            f"{_sentence(en_borrower)} may repay all or part of the principal early "
            "without a prepayment penalty."
        )
    else:
        prepay_zh = (
            f"{zh_borrower}可提前偿还全部或部分借款本金，"
            f"并按提前偿还本金的 {format_percent(prepay)} 支付提前还款违约金。"
        )
        prepay_en = (
            f"{_sentence(en_borrower)} may repay all or part of the principal early and shall "
            f"then pay a prepayment penalty of {format_percent(prepay)} of the principal "
            "repaid early."
        )
    return [
        _Article(
            "借款金额",
            "Loan Amount",
            f"借款金额为{amount_zh}{words}。",
            f"The loan amount is {amount_en}.",
        ),
        _Article(
            "借款期限",
            "Term",
            f"借款期限为 {term_zh}，自 {start} 起至 {end} 止。",
            f"The term is {term_en}, from {start} to {end}.",
        ),
        _Article(
            "利率与利息",
            "Interest",
            f"借款年利率为 {rate}（单利）。利息按下列还款计划表计收，"
            f"利息合计{format_amount(terms.total_interest, 'zh')}。",
            f"The annual interest rate is {rate} (simple interest). Interest is due as set out "
            "in the repayment schedule below and totals "
            f"{format_amount(terms.total_interest, 'en')}.",
        ),
        _Article(
            "还款方式与还款计划",
            "Repayment",
            f"还款方式为{method_zh}，共 {periods} 期。{zh_borrower}应于各还款日前"
            f"按下表足额偿还本息，本息合计{format_amount(terms.total_repayable, 'zh')}。",
            f"The loan is repaid in {method_en}, in {periods} instalment"
            f"{'s' if periods > 1 else ''}. {_sentence(en_borrower)} shall pay each "
            "instalment in full by its due date as set out below; principal and interest total "
            f"{format_amount(terms.total_repayable, 'en')}.",
            _schedule_table(terms),
        ),
        _Article("费用", "Fees", fee_zh, fee_en),
        _Article(
            "逾期罚息",
            "Late Payment",
            f"{zh_borrower}未按期足额还款的，{grace_zh}自逾期之日起按逾期金额每日 {daily} "
            "计收罚息，直至清偿之日。",
            f"If an instalment is not paid in full when due, {grace_en}a penalty of {daily} "
            "per day accrues on the overdue amount from its due date until it is paid.",
        ),
        _Article("提前还款", "Prepayment", prepay_zh, prepay_en),
    ]


def _closing_articles(terms: ContractTerms, digest: str, court: str) -> list[_Article]:
    zh_court, en_court = court.split("|")
    return [
        _Article(
            "合同版本",
            "Versions",
            f"本合同为第 {terms.version} 版，其条款摘要（SHA-256）为 {digest}。"
            "本合同任一条款变更的，各方应签订新版本，本版本自新版本生效之日起作废。",
            f"This is version {terms.version} of the contract; the SHA-256 digest of its terms "
            f"is {digest}. A change to any term requires a new version, and this version is "
            "void from the day the new one takes effect.",
        ),
        _Article(
            "争议解决",
            "Disputes",
            f"因本合同发生的争议，由各方协商解决；协商不成的，提交{zh_court}住所地有管辖权的"
            "人民法院诉讼解决。",
            "Disputes arising from this contract are settled by negotiation; failing that, "
            f"they are brought before the competent people's court where {en_court} "
            "is domiciled.",
        ),
        _Article(
            "文本与生效",
            "Language and Effect",
            "本合同以中文和英文书就，两种文本如有不一致，以中文文本为准。"
            "本合同自各方签字或盖章之日起生效。",
            "This contract is written in Chinese and English; if the two differ, the Chinese "
            "text prevails. It takes effect when all parties have signed or sealed it.",
        ),
    ]


def _consumer_credit(terms: ContractTerms, digest: str) -> _Contract:
    articles = [
        *_common_articles(terms, "借款人|the Borrower", "贷款人|the Lender"),
        _Article(
            "借款用途",
            "Purpose",
            "本借款仅用于借款人个人及家庭消费，不得用于购房、投资经营或法律禁止的其他用途。",
            "The loan is for the Borrower's personal and household consumption only and may "
            "not be used to buy housing, to invest or run a business, or for any purpose the "
            "law forbids.",
        ),
        *_closing_articles(terms, digest, "贷款人|the Lender"),
    ]
    return _Contract(
        title=title_of(ProductLine.CONSUMER_CREDIT),
        roles=_roles(terms),
        articles=tuple(articles),
        signatures=(
            ("贷款人（盖章）", "Lender (seal)"),
            ("借款人（签字）", "Borrower (signature)"),
        ),
        digest=digest,
    )


def _order_financing(terms: ContractTerms, digest: str) -> _Contract:
    articles = [
        *_common_articles(terms, "乙方|Party B", "甲方|Party A"),
        _Article(
            "核心企业确认",
            "Core Enterprise Acknowledgement",
            "丙方确认其与乙方之间的采购订单真实、有效，本合同项下借款用于履行该订单。"
            "丙方承诺于订单付款到期日将该订单项下应付款项直接支付至甲方指定账户，"
            "用于偿还本合同项下借款；在本合同项下借款结清前，丙方不向乙方直接支付该款项，"
            "亦不以其对乙方的抗辩对抗甲方。",
            "Party C confirms that the purchase order between Party C and Party B is genuine "
            "and valid, and that this loan finances its performance. Party C undertakes to pay "
            "the amounts due under that order, on their due date, directly into the account "
            "Party A designates, towards repayment of this loan; until this loan is repaid, "
            "Party C makes no payment of those amounts to Party B and raises against Party A "
            "no defence it has against Party B.",
        ),
        *_closing_articles(terms, digest, "甲方|Party A"),
    ]
    return _Contract(
        title=title_of(ProductLine.ORDER_FINANCING),
        roles=_roles(terms),
        articles=tuple(articles),
        signatures=(
            ("甲方（盖章）", "Party A (seal)"),
            ("乙方（盖章）", "Party B (seal)"),
            ("丙方（核心企业）确认并盖章", "Party C (core enterprise) acknowledges and seals"),
        ),
        digest=digest,
    )


def _warehouse_receipt_pledge(terms: ContractTerms, digest: str) -> _Contract:
    articles = [
        *_common_articles(terms, "借款人|the Borrower", "贷款人|the Lender"),
        _Article(
            "质押条款",
            "Pledge",
            "借款人以下列仓单及其项下货物向贷款人出质，为本合同项下全部债务（包括本金、利息、"
            "罚息及费用）提供担保。质押期间，借款人不得转让、重复质押或提取仓单项下货物，"
            "仓储方凭贷款人书面指令方可放货。借款人未按期清偿债务的，贷款人有权依法处分质物"
            "并就所得价款优先受偿。",
            "The Borrower pledges to the Lender the warehouse receipts listed below and the goods "
            "they represent, as security for all its obligations under this contract "
            "(principal, interest, penalties and fees). While the pledge lasts the Borrower "
            "shall not transfer, pledge again or withdraw those goods, and the warehouse "
            "releases them only on the Lender's written instruction. If the Borrower fails to "
            "repay when due, the Lender may enforce the pledge according to law and be paid "
            "first from the proceeds.",
            _receipt_table(terms),
        ),
        *_closing_articles(terms, digest, "贷款人|the Lender"),
    ]
    return _Contract(
        title=title_of(ProductLine.WAREHOUSE_RECEIPT_PLEDGE),
        roles=_roles(terms),
        articles=tuple(articles),
        signatures=(
            ("贷款人（质权人）盖章", "Lender (Pledgee) seal"),
            ("借款人（出质人）盖章", "Borrower (Pledgor) seal"),
        ),
        digest=digest,
    )


_TEMPLATES: Final[dict[ProductLine, Callable[[ContractTerms, str], _Contract]]] = {
    ProductLine.CONSUMER_CREDIT: _consumer_credit,
    ProductLine.ORDER_FINANCING: _order_financing,
    ProductLine.WAREHOUSE_RECEIPT_PLEDGE: _warehouse_receipt_pledge,
}


# -- layout ---------------------------------------------------------------------------------------

_SANS: Final[str] = "noto-sans-sc"
_SERIF: Final[str] = "noto-serif-sc"
#: China Standard Time: the issue date is a date in China, so the PDF is dated at its midnight.
_CST: Final[timezone] = timezone(timedelta(hours=8), "CST")
_GREY: Final[tuple[int, int, int]] = (90, 90, 90)


def _bundled_fonts() -> tuple[Path, Path]:
    import pylopdf_fonts_zh_cn

    return Path(pylopdf_fonts_zh_cn.sans_path()), Path(pylopdf_fonts_zh_cn.serif_path())


class _ContractPdf(FPDF):
    """FPDF with the contract's footer and a file identifier derived from the terms."""

    def __init__(self, terms: ContractTerms, digest: str) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self._terms = terms
        identity = f"{terms.contract_number}\x00{terms.version}\x00{digest}".encode()
        self._file_id = hashlib.sha256(identity).hexdigest()[:32].upper()

    def file_id(self) -> str:
        """Derived from the terms, not from the time or the bytes: the same terms always
        give the same identifier."""
        return f"<{self._file_id}><{self._file_id}>"

    def footer(self) -> None:
        """Contract number, version and page count on every page."""
        self.set_y(-14)
        self.set_font(_SANS, size=7.5)
        self.set_text_color(*_GREY)
        terms = self._terms
        self.cell(
            0,
            5,
            f"合同编号 Contract No. {terms.contract_number}  ·  第 {terms.version} 版 "
            f"Version {terms.version}  ·  第 {self.page_no()} 页 共 {{nb}} 页 "
            f"Page {self.page_no()} of {{nb}}",
            align=Align.C,
        )
        self.set_text_color(0, 0, 0)


class FpdfContractRenderer(ContractRenderer):
    """Renders :class:`ContractTerms` to a bilingual A4 PDF (see the module docstring).

    ``sans`` and ``serif`` are font files (TrueType or OpenType) with Chinese glyphs; by
    default the Noto Sans SC and Noto Serif SC of the ``pylopdf-fonts-zh-cn`` package."""

    def __init__(self, sans: Path | None = None, serif: Path | None = None) -> None:
        if sans is None or serif is None:
            bundled_sans, bundled_serif = _bundled_fonts()
            sans = sans or bundled_sans
            serif = serif or bundled_serif
        self._sans = Path(sans)
        self._serif = Path(serif)

    def render(self, terms: ContractTerms) -> RenderedContract:
        """The contract for ``terms`` as PDF bytes with their SHA-256 and page count."""
        digest = terms_digest(terms)
        contract = _TEMPLATES[ProductLine(terms.product_line)](terms, digest)
        pdf = _ContractPdf(terms, digest)
        pdf.add_font(_SANS, "", str(self._sans))
        pdf.add_font(_SERIF, "", str(self._serif))
        title_zh, title_en = contract.title
        pdf.set_title(f"{title_zh} {title_en} {terms.contract_number} v{terms.version}")
        pdf.set_subject(title_en)
        pdf.set_author(terms.parties.funder.name)
        pdf.set_creator("lendgraph")
        pdf.set_lang("zh-CN")
        pdf.set_creation_date(datetime.combine(terms.issued_on, datetime.min.time(), _CST))
        pdf.set_margins(20, 18, 20)
        pdf.set_auto_page_break(auto=True, margin=20)
        pdf.add_page()
        _draw(pdf, terms, contract)
        # After output(): the last page's footer is drawn when the document is closed.
        data = bytes(pdf.output())
        missing = sorted({chr(code) for font in pdf.fonts.values() for code in _missing(font)})
        if missing:
            raise UnrenderableTerms(
                "the contract fonts have no glyph for " + ", ".join(repr(c) for c in missing)
            )
        return RenderedContract.of(data, pdf.pages_count)


def _missing(font: object) -> Sequence[int]:
    return getattr(font, "missing_glyphs", ())


def _draw(pdf: FPDF, terms: ContractTerms, contract: _Contract) -> None:
    width = pdf.epw
    title_zh, title_en = contract.title
    pdf.set_font(_SANS, size=20)
    pdf.cell(width, 11, title_zh, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(_SANS, size=12)
    pdf.cell(width, 7, title_en, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)
    pdf.set_font(_SERIF, size=9)
    pdf.cell(
        width,
        5,
        f"合同编号 Contract No.：{terms.contract_number}    版本 Version：{terms.version}    "
        f"签订日期 Date：{terms.issued_on.isoformat()}",
        align=Align.C,
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.ln(4)
    for role in contract.roles:
        _party_block(pdf, role)
    pdf.ln(1)
    _chinese(pdf, "各方经平等协商，就下列借款事项达成一致，订立本合同，共同遵守。")
    _english(pdf, "The parties, having negotiated as equals, agree on the loan below.")
    for number, article in enumerate(contract.articles, start=1):
        _article(pdf, number, article)
    _signatures(pdf, contract.signatures)


def _party_block(pdf: FPDF, role: _Role) -> None:
    pdf.set_font(_SANS, size=10)
    pdf.cell(0, 6, f"{role.zh} {role.en}：{role.party.name}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    zh_label, en_label = role.id_label
    pdf.set_font(_SERIF, size=9)
    pdf.cell(
        0,
        5,
        f"    {zh_label} {en_label}：{role.party.id_number}",
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.ln(1)


def _english(pdf: FPDF, text: str) -> None:
    pdf.set_font(_SERIF, size=8.5)
    pdf.set_text_color(*_GREY)
    # Left-aligned: justifying a line that holds a 64-digit digest spreads its words apart.
    pdf.multi_cell(pdf.epw, 4.5, text, align=Align.L, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(0, 0, 0)


#: Runs that must not be split across lines: figures, rates, dates, Latin words, digests.
_UNBREAKABLE: Final = re.compile(r"[0-9A-Za-z.,%:/+\-]+| |.", re.DOTALL)
#: Punctuation that may not start a line (it hangs at the end of the previous one instead).
_NO_LINE_START: Final[frozenset[str]] = frozenset("，。、；：！？）》」』%,.;:!?)")


def wrap_chinese(text: str, width: float, measure: Callable[[str], float]) -> list[str]:
    """Break ``text`` into lines of at most ``width`` (``measure`` gives a string's width).

    Between any two Chinese characters a line may break, but never inside a run of Latin
    letters, digits and their punctuation (``100,000.00``, ``0.05%``, ``2026-01-15``), and a
    closing punctuation mark never starts a line: it hangs past the end of the line before
    (into the margin) instead. A run wider than a whole line is cut where it must be."""
    lines: list[str] = []
    current = ""
    for piece in _UNBREAKABLE.findall(text):
        if piece == " " and not current:
            continue  # no line starts with a space
        candidate = current + piece
        if measure(candidate) <= width or not current or piece in _NO_LINE_START:
            current = candidate
        else:
            lines.append(current.rstrip(" "))
            current = "" if piece == " " else piece
        # Only a run that stands alone on its line is cut; hanging punctuation may overhang.
        if current == piece:
            while measure(current) > width and len(current) > 1:
                cut = len(current) - 1
                while cut > 1 and measure(current[:cut]) > width:
                    cut -= 1
                lines.append(current[:cut])
                current = current[cut:]
    if current.strip():
        lines.append(current.rstrip(" "))
    return lines


def _chinese(pdf: FPDF, text: str) -> None:
    pdf.set_font(_SERIF, size=10)
    for line in wrap_chinese(text, pdf.epw, pdf.get_string_width):
        pdf.cell(pdf.epw, 5.5, line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _article(pdf: FPDF, number: int, article: _Article) -> None:
    pdf.ln(3)
    # Keep a heading with the start of its text: break first when little room is left.
    if pdf.will_page_break(22):
        pdf.add_page()
    pdf.set_font(_SANS, size=10.5)
    pdf.cell(
        0,
        6.5,
        f"第{chinese_ordinal(number)}条 {article.zh_title}    Article {number} {article.en_title}",
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    _chinese(pdf, article.zh)
    _english(pdf, article.en)
    if article.table is not None:
        _table(pdf, article.table)


def _table(pdf: FPDF, table: _Table) -> None:
    pdf.ln(2)
    if table.note:
        pdf.set_font(_SERIF, size=8)
        pdf.cell(0, 4.5, table.note, align=Align.R, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(_SERIF, size=8.5)
    headings = FontFace(family=_SANS, emphasis="NONE", size_pt=8.5, fill_color=(232, 232, 232))
    with pdf.table(
        width=sum(table.widths),
        col_widths=table.widths,
        text_align=table.align,
        headings_style=headings,
        line_height=5,
        wrapmode=WrapMode.CHAR,
    ) as grid:
        grid.row(table.headings)
        for values in table.rows:
            grid.row(values)


def _signatures(pdf: FPDF, signatures: Sequence[tuple[str, str]]) -> None:
    pdf.ln(6)
    if pdf.will_page_break(14 * len(signatures)):
        pdf.add_page()
    for zh, en in signatures:
        pdf.set_font(_SANS, size=10)
        pdf.cell(0, 6, f"{zh} {en}：", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font(_SERIF, size=9)
        pdf.cell(
            0,
            7,
            "签字/盖章 Signature/Seal：____________________    日期 Date：________________",
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
        pdf.ln(1)
