"""Regenerate the PDF test corpora from their HTML sources with headless Chromium.

Usage: python eval/corpora/make_pdf.py [--chromium /usr/bin/chromium]

Every ``eval/corpora/<name>/source/<stem>.html`` becomes ``eval/corpora/<name>/notes/<stem>.pdf``.
The HTML is the source of truth (it is what the gold evidence was written against); the PDF is what
a student would have: real text, h1/h2 as the document outline (bookmarks), no header or footer.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The same switches the browser tests use (tests/conftest.py), plus the ones printing needs.
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
        "--no-pdf-header-footer", "--generate-pdf-document-outline"]


def make_pdf(chromium: Path, html: Path, pdf: Path) -> None:
    """Print ``html`` to ``pdf`` with Chromium (a private profile folder, removed afterwards)."""
    pdf.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([str(chromium), *ARGS, f"--user-data-dir={profile}", f"--print-to-pdf={pdf}",
                        html.resolve().as_uri()], check=True, capture_output=True, timeout=120)
    if not pdf.is_file() or pdf.stat().st_size == 0:
        raise RuntimeError(f"Chromium wrote no PDF for {html}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chromium", type=Path, default=Path("/usr/bin/chromium"))
    args = parser.parse_args()
    sources = sorted(HERE.glob("*/source/*.html"))
    for html in sources:
        pdf = html.parent.parent / "notes" / (html.stem + ".pdf")
        make_pdf(args.chromium, html, pdf)
        print(f"{pdf.relative_to(HERE)}: {pdf.stat().st_size / 1000:.0f} KB")
    return 0 if sources else 1


if __name__ == "__main__":
    sys.exit(main())
