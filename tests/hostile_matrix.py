"""Runs every reader on every hostile or broken file, under a memory limit; prints JSON results.

Used by tests/test_hostile_inputs.py in a subprocess: python tests/hostile_matrix.py <workdir>
"""

import gzip
import io
import json
import resource
import signal
import sys
import time
import traceback
import zipfile
from datetime import date
from pathlib import Path

MEMORY_LIMIT = 3 << 30
CASE_SECONDS = 60


def cases(work: Path) -> dict[str, Path]:
    out = {}

    def put(name, data: bytes):
        out[name] = work / name
        out[name].write_bytes(data)

    put("xxe.xml", b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                   b'<iati-activities version="2.03"><iati-activity><iati-identifier>&x;</iati-identifier></iati-activity></iati-activities>')
    lol = b"".join(b'<!ENTITY l%d "%s">' % (i, b"&l%d;" % (i - 1) * 10 if i else b"lol") for i in range(10))
    put("billion-laughs.xml", b'<?xml version="1.0"?><!DOCTYPE r [' + lol + b']><CONSOLIDATED_LIST dateGenerated="2025-01-01">&l9;</CONSOLIDATED_LIST>')
    put("external-dtd.xml", b'<?xml version="1.0"?><!DOCTYPE r SYSTEM "http://127.0.0.1:9/x.dtd"><iati-activities version="2.03"/>')
    big = work / "huge-text-node.xml"
    with open(big, "wb") as fh:  # 500 MB in one text node
        fh.write(b'<iati-activities version="2.03"><iati-activity><iati-identifier>')
        chunk = b"A" * (1 << 20)
        for _ in range(500):
            fh.write(chunk)
        fh.write(b"</iati-identifier></iati-activity></iati-activities>")
    out["huge-text-node.xml"] = big
    put("truncated.xml.gz", gzip.compress(b'<iati-activities version="2.03">' + b"<iati-activity/>" * 5000 + b"</iati-activities>")[:-200])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("../../escape.txt", "x")
    put("zip-slip.xlsx", buffer.getvalue())
    put("truncated.xlsx", buffer.getvalue()[:40])
    put("png-named.csv", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    put("utf16-no-bom.csv", "Participant,Type\nAcme,Company\n".encode("utf-16-le"))
    put("nul-in-row.csv", b"amount,_currency,entity,calendar_year,rev_type,donor,contrib_type\n" + b"1,USD,WFP,2020,R03,Acme,C06\n" * 1000
        + b"2,USD,WFP,2020,R03,Ac\x00me,C06\n")
    put("formula.csv", b'amount,_currency,entity,calendar_year,rev_type,donor,contrib_type\n1,USD,WFP,2020,R03,"=HYPERLINK(""http://x"")",C06\n')
    put("empty.csv", b"")
    # a sheet whose used range spans A1:XFD1048576 (the engine would allocate all of it)
    put("huge-range.xlsx", _xlsx(b'<row r="1"><c r="A1" t="inlineStr"><is><t>a</t></is></c></row>'
                                 b'<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>b</t></is></c></row>'))
    # a workbook whose sheet honestly inflates to 1.2 GB
    bomb = work / "bomb.xlsx"
    zeros = b"\0" * (1 << 24)
    with (zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z,
          z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as member):
        for _ in range(72):
            member.write(zeros)
    out["bomb.xlsx"] = bomb
    # harmless elements by the million, gzipped: memory must stay flat
    many = work / "many-elements.xml.gz"
    with gzip.open(many, "wb", compresslevel=1) as fh:
        fh.write(b'<CONSOLIDATED_LIST dateGenerated="2025-01-01T00:00:00Z"><INDIVIDUALS>')
        for _ in range(100):
            fh.write(b"<X/>" * 250_000)
        fh.write(b"</INDIVIDUALS></CONSOLIDATED_LIST>")
    out["many-elements.xml.gz"] = many
    put("cut-mid-row.csv", b"amount,_currency,entity,calendar_year,rev_type,donor,contrib_type\n1,USD,WFP,2020,R03,Acme,C06\n"
                           b"5,USD,WFP,2020,R03,Private Do")
    put("repeated-header.csv", b"amount,_currency,entity,calendar_year,rev_type,donor,contrib_type,donor \n1,USD,WFP,2020,R03,A,C06,B\n")
    return out


def _xlsx(rows: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
                   'content-types"><Default Extension="xml" ContentType="application/xml"/></Types>')
        z.writestr("xl/workbook.xml", '<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
                   '2006/main"><sheets><sheet name="S" sheetId="1"/></sheets></workbook>')
        z.writestr("xl/worksheets/sheet1.xml", b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/'
                   b'spreadsheetml/2006/main"><sheetData>' + rows + b"</sheetData></worksheet>")
    return buffer.getvalue()


def readers():
    from assets.due_diligence.sanctions import read_sanctions_list
    from assets.due_diligence.screening import read_decisions
    from assets.financing.fx import load_rates
    from assets.financing.iati_reader import iter_iati_batches
    from assets.financing.un_revenue import read_revenue
    from assets.networks.local_networks import read_local_networks
    from assets.partnerships.sdg_partnerships import read_partnerships
    from assets.partnerships.ungc_participants import read_participants
    from schemas.iati_codelists import _parse_xml_codelist

    day = date(2026, 11, 25)
    return {
        "iati": lambda p: sum(b.activities_seen for b in iter_iati_batches(p)),
        "sanctions": lambda p: read_sanctions_list(p, p.name).entities.height,
        "codelist": lambda p: len(_parse_xml_codelist(p.read_bytes()[: 64 << 20], p.name)),
        "rates": lambda p: load_rates([p]).ecb.height,
        "participants": lambda p: read_participants([(p, p.name)], "export", day)[0].height,
        "local_networks": lambda p: read_local_networks([(p, p.name)], None, day)[0].height,
        "partnerships": lambda p: read_partnerships([(p, p.name)], None, day)[0].height,
        "revenue": lambda p: read_revenue([(p, p.name)], None, day)[0].height,
        "decisions": lambda p: read_decisions(p)[0].height,
    }


class CaseTimeout(Exception):
    pass


def main() -> None:
    work = Path(sys.argv[1])
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    files = cases(work)
    results = []

    def alarm(*_):
        raise CaseTimeout()

    signal.signal(signal.SIGALRM, alarm)
    for reader_name, read in readers().items():
        for case, path in files.items():
            signal.alarm(CASE_SECONDS)
            started = time.monotonic()
            try:
                value = read(path)
                outcome, message = "ok", str(value)
            except CaseTimeout:
                outcome, message = "timeout", ""
            except MemoryError:
                outcome, message = "memory", ""
            except ValueError as exc:  # IatiFileError, SourceFileError, RatesFileError are ValueErrors
                outcome, message = f"error:{type(exc).__name__}", str(exc)
            except Exception as exc:  # anything else is a defect
                outcome, message = f"crash:{type(exc).__name__}", traceback.format_exc(limit=3)
            finally:
                signal.alarm(0)
            results.append({"reader": reader_name, "case": case, "outcome": outcome, "message": message[:300],
                            "seconds": round(time.monotonic() - started, 2)})
    results.append({"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
    print(json.dumps(results))


if __name__ == "__main__":
    main()
