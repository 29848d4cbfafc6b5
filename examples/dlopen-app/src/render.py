"""Renders a small PDF with WeasyPrint and names its type with python-magic.

Both libraries reach their C code at run time: WeasyPrint through cffi
(pango, harfbuzz, fontconfig), python-magic through ctypes (libmagic and its
magic.mgc database). Nothing here is named in the image's build settings.
"""

import magic
from weasyprint import HTML

HTML_TEXT = """
<html><body>
<h1>lockship</h1>
<p>Rendered in a distroless image, read-only, as user 65532.</p>
</body></html>
"""


def main() -> None:
    pdf = HTML(string=HTML_TEXT).write_pdf()
    assert pdf.startswith(b"%PDF-"), pdf[:16]
    print(f"rendered {len(pdf)} bytes")
    print(magic.from_buffer(pdf, mime=True))


if __name__ == "__main__":
    main()
