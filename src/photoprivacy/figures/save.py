"""Byte-for-byte reproducible figure files, written atomically.

Matplotlib stamps PDFs with the creation time and its version, and PNGs with
its version; those stamps are dropped so equal figures give equal bytes (and a
matplotlib upgrade alone does not change them). Fonts and every other rc
setting come from matplotlib's built-in defaults, not from a user's
matplotlibrc, and text uses the bundled DejaVu Sans.
"""

import contextlib
import io

import matplotlib
import matplotlib.style

from ..artifacts import write_bytes_atomic

PNG_DPI = 150
PDF_METADATA = {"Creator": None, "Producer": None, "CreationDate": None, "ModDate": None}
PNG_METADATA = {"Software": None}
FIGURE_RC = {
    "font.family": "DejaVu Sans",  # bundled with matplotlib, so every machine has the same glyphs
    "pdf.fonttype": 42,  # embedded TrueType subset: the text stays text
}


@contextlib.contextmanager
def figure_style():
    """Build and save figures inside this: text reads font settings when it is created."""
    with matplotlib.style.context("default"), matplotlib.rc_context(FIGURE_RC):
        yield


def figure_bytes(fig, fmt):
    buffer = io.BytesIO()
    with figure_style():
        if fmt == "png":
            fig.savefig(buffer, format="png", dpi=PNG_DPI, metadata=PNG_METADATA)
        else:
            fig.savefig(buffer, format="pdf", metadata=PDF_METADATA)
    return buffer.getvalue()


def save_figure(fig, png_path, pdf_path):
    """Write ``fig`` as PNG (150 dpi) and PDF; each lands by an atomic rename, folders created."""
    write_bytes_atomic(png_path, figure_bytes(fig, "png"))
    write_bytes_atomic(pdf_path, figure_bytes(fig, "pdf"))
