"""Document adapters: contracts rendered to PDF (``contract_pdf``)."""

from __future__ import annotations

from integrations.documents.contract_pdf import FpdfContractRenderer

__all__ = ["FpdfContractRenderer"]
