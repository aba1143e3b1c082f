"""Bytes of an audience file to text: gzip, the encoding, and the CSV delimiter.

Streaming throughout: the file is read in chunks of ``CHUNK`` bytes and never held whole (files
reach 200 MB and more). What the reader decides is decided on the first chunk, the *sample*:

- **Compression**: gzip by its magic bytes (``.csv.gz``, ``.json.gz`` ... are decompressed while
  read, whatever the name says). A ZIP archive or an Excel workbook gets an error saying how to
  export CSV instead.
- **Encoding**: a byte-order mark names it (UTF-8, UTF-16 or UTF-32, as Excel's "Unicode text"
  writes). Without one, UTF-8 is tried first, strictly, on the sample: it is what nearly every
  tool writes, and the fast path. Only a sample that is not UTF-8 goes to the detector
  (charset-normalizer), for the legacy single-byte encodings spreadsheets still write
  (Windows-1252, Latin-1). ``audience.encoding`` in the campaign forces one.
- **Later chunks** that do not decode in the chosen encoding stop the read with one error naming
  the line, the encoding the bytes look like, and how to force it.
"""

from __future__ import annotations

import codecs
import gzip
import io
import zlib
from collections.abc import Iterator
from typing import BinaryIO

from .errors import AudienceError

CHUNK = 64 * 1024
GZIP = "gzip"
# The CSV delimiters the reader recognises, in the order a tie between them is settled.
DELIMITERS = (",", ";", "\t", "|")

_GZIP_MAGIC = b"\x1f\x8b"
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Excel 97-2003 .xls (and other Office binaries)
# Longest BOM first: UTF-32 LE's starts with UTF-16 LE's.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Excel on Windows in Western locales writes Windows-1252. The detector often rates it exactly as
# high as another single-byte code page (on a short sample "Zoë;Müller" decodes the same in
# cp1250): when cp1252 is among the best-rated readings, it is taken.
_PREFERRED = "cp1252"
# The code pages of Windows and ISO 8859 that spreadsheets and mail tools write (Western,
# Central and Eastern European, Cyrillic, Greek, Turkish, Baltic).
SINGLE_BYTE = (
    "cp1252", "iso8859_15", "latin_1", "cp1250", "iso8859_2", "cp1251", "koi8_r", "iso8859_5",
    "cp1253", "iso8859_7", "cp1254", "iso8859_9", "cp1257", "iso8859_13", "mac_roman", "cp850",
)  # fmt: skip
EXPORT_CSV_HINT = (
    "in Excel use File > Save As > CSV UTF-8 (Comma delimited) (*.csv); "
    "in Google Sheets or Numbers export as CSV; then upload the .csv"
)


def codec_name(encoding: str) -> str:
    """Python's own name for a codec ("latin-1" -> "iso8859-1", "UTF8" -> "utf-8"); LookupError if unknown."""
    return codecs.lookup(encoding).name


def spreadsheet_error(name: str, kind: str) -> AudienceError:
    return AudienceError(f"is {kind}, not a CSV or JSON file: {EXPORT_CSV_HINT}", where=name)


def sniff_delimiter(text: str) -> str | None:
    """The delimiter of the first record of ``text``: the candidate found most often outside
    quotes (ties go to the earlier in ``DELIMITERS``), or None when the record has none (a
    single column). Counting beats csv.Sniffer here: it needs no data rows and does not guess
    letters as delimiters."""
    counts = dict.fromkeys(DELIMITERS, 0)
    # Split on quotes: the even parts are outside quotes ('""' inside a quoted cell adds an empty
    # outside part, which keeps the parity right).
    for index, part in enumerate(text.split('"')):
        if index % 2:
            continue
        end = min((at for at in (part.find("\n"), part.find("\r")) if at >= 0), default=-1)
        if end >= 0:
            part = part[:end]
        for delimiter in DELIMITERS:
            counts[delimiter] += part.count(delimiter)
        if end >= 0:
            break
    best = max(DELIMITERS, key=counts.__getitem__)
    return best if counts[best] else None


def looks_like(data: bytes, *, besides: str | None = None) -> str | None:
    """The encoding charset-normalizer reads ``data`` in best (cp1252 when it rates it as well as
    its first pick), other than ``besides``; None when nothing reads it."""
    import charset_normalizer  # only files that are not UTF-8 pay for the import

    exclude = [besides] if besides else None
    # Without a byte-order mark, a spreadsheet's file that is not UTF-8 is in a single-byte code
    # page: left to choose among every encoding, the detector reads a short Spanish cp1252 sample
    # as Big5 ("Peña" -> "Pe鎙"). Other encodings only when no single-byte one reads the file.
    matches = list(charset_normalizer.from_bytes(data, cp_isolation=list(SINGLE_BYTE), cp_exclusion=exclude))
    if not matches:
        matches = list(charset_normalizer.from_bytes(data, cp_exclusion=exclude))
    if not matches:
        return None
    best = matches[0]
    tied = [m for m in matches if m.chaos == best.chaos and m.coherence == best.coherence]
    if any(_PREFERRED in m.could_be_from_charset for m in tied) and besides != _PREFERRED:
        return _PREFERRED
    return codec_name(best.encoding)


def _refuse_mixed(sample: bytes, exc: UnicodeDecodeError, name: str) -> None:
    """A sample whose text before the first bad byte holds UTF-8 beyond ASCII is UTF-8 with a
    stray byte (a row pasted from elsewhere): read in any one code page, every other name in the
    file would turn to mojibake (Zoë -> ZoĂ«), so the file is refused, at the bad byte's line."""
    before = sample[: exc.start]
    if before.isascii():
        return
    line = before.count(b"\n") + 1
    raise AudienceError(
        f"mixes encodings: UTF-8 text up to byte 0x{sample[exc.start]:02x}, which is not UTF-8; save the file "
        'again as UTF-8 (Excel: File > Save As > CSV UTF-8), or force one encoding with "encoding" under '
        '"audience" in the campaign definition',
        where=f"{name}: line {line}",
    )


def _force_hint(encoding: str | None) -> str:
    if encoding is None:
        return "no encoding the detector knows reads it (is the file damaged, or not text?)"
    return f'it looks like {encoding}: set "encoding": "{encoding}" under "audience" in the campaign definition'


class _Prefixed:
    """A binary stream with bytes already read from it put back in front (for gzip.GzipFile)."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self._head = head
        self._stream = stream

    def read(self, size: int = -1, /) -> bytes:
        if self._head:
            if size < 0:
                out, self._head = self._head + self._stream.read(), b""
                return out
            out, self._head = self._head[:size], self._head[size:]
            return out
        return self._stream.read(size)

    def seek(self, offset: int, /) -> int:
        # gzip only seeks to go backwards, which reading straight through never does.
        raise io.UnsupportedOperation("an audience stream is read straight through")


class DecodedText:
    """Text chunks of a binary stream: decompressed, decoded, with the line count kept so any
    error can name its line. ``encoding`` and ``compression`` are set once the first chunk is out."""

    def __init__(self, stream: BinaryIO, *, name: str, encoding: str | None = None) -> None:
        self._stream = stream
        self._name = name
        self._forced = codec_name(encoding) if encoding else None
        self.encoding: str | None = None
        self.compression: str | None = None
        self.line = 1  # of the end of the text decoded so far

    def _where(self) -> str:
        return f"{self._name}: line {self.line}"

    def _read(self, source: BinaryIO | _Prefixed | gzip.GzipFile) -> bytes:
        if self.compression is None:  # the stream's own errors (a dropped S3 connection) are not ours to word
            return source.read(CHUNK) or b""
        try:
            return source.read(CHUNK) or b""
        except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
            raise AudienceError(
                f"gzip data is damaged or cut short ({exc}): compress the file again (gzip FILE)", where=self._where()
            ) from None

    def _open(self) -> tuple[BinaryIO | _Prefixed | gzip.GzipFile, bytes]:
        head = self._stream.read(CHUNK) or b""
        if head.startswith(_ZIP_MAGIC):
            raise spreadsheet_error(self._name, "a ZIP archive (an Excel .xlsx workbook?)")
        if head.startswith(_OLE_MAGIC):
            raise spreadsheet_error(self._name, "an Excel 97-2003 workbook (.xls)")
        if not head.startswith(_GZIP_MAGIC):
            return self._stream, head
        self.compression = GZIP
        source = gzip.GzipFile(fileobj=_Prefixed(head, self._stream), mode="rb")
        return source, self._read(source)

    def _choose(self, sample: bytes) -> str:
        if self._forced:
            # A forced UTF-8 still drops a BOM, so it never ends up in the first column's name.
            utf8 = self._forced == "utf-8" and sample.startswith(codecs.BOM_UTF8)
            return "utf-8-sig" if utf8 else self._forced
        for bom, encoding in _BOMS:
            if sample.startswith(bom):
                return encoding
        try:
            # Not final: a read may end inside a character; a file that really ends inside one
            # is caught when the last chunk is decoded.
            codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        except UnicodeDecodeError as exc:
            _refuse_mixed(sample, exc, self._name)
        else:
            return "utf-8"
        found = looks_like(sample)
        if found is None:
            raise AudienceError(
                "is not text in any encoding the reader knows (UTF-8, UTF-16, Windows-1252, Latin-1 ...): "
                f"if it is a spreadsheet, {EXPORT_CSV_HINT}",
                where=f"{self._name}: line 1",
            )
        return found

    def chunks(self) -> Iterator[str]:
        source, data = self._open()
        sample_size = len(data)
        self.encoding = self._choose(data)
        decoder = codecs.getincrementaldecoder(self.encoding)()
        while True:
            try:
                text = decoder.decode(data, final=not data)
            except UnicodeDecodeError as exc:
                raise self._decode_error(exc, sample_size) from None
            self.line += text.count("\n")
            if text:
                yield text
            if not data:
                return
            data = self._read(source)

    def _decode_error(self, exc: UnicodeDecodeError, sample_size: int) -> AudienceError:
        # exc.object is this read plus the few bytes of a sequence held back from the last one
        # (never a newline), so the newlines before exc.start are all on this read's lines.
        good = exc.object[: exc.start]
        self.line += good.decode(self.encoding or "utf-8", errors="replace").count("\n")
        byte = exc.object[exc.start : exc.start + 1].hex()
        hint = _force_hint(looks_like(exc.object, besides=self.encoding))
        if self._forced:
            read_as = f"cannot be read as {self.encoding} (audience.encoding)"
        elif self.encoding in ("utf-8", "utf-8-sig"):
            read_as = f"is not UTF-8 text (the first {sample_size // 1024 or 1} KiB were)"
        else:
            read_as = f"is not {self.encoding} text (detected on the first {sample_size // 1024 or 1} KiB)"
        return AudienceError(f"{read_as}: byte 0x{byte} at this line; {hint}", where=self._where())
