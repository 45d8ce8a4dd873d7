"""The streaming IATI reader: elements, versions, namespaces and hostile or broken files."""

import gzip
from pathlib import Path

import pytest

from assets.financing.iati_reader import IatiFileError, iter_iati_batches
from tests.conftest import iati_xml

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "iati"


def read_all(path, **kwargs):
    batches = list(iter_iati_batches(path, **kwargs))
    merged = {}
    for name in ("activities", "transactions", "participating_orgs", "budgets", "classifications"):
        merged[name] = {k: [v for b in batches for v in getattr(b, name)[k]] for k in getattr(batches[0], name)}
    merged["rejects"] = [r for b in batches for r in b.rejects]
    merged["seen"] = sum(b.activities_seen for b in batches)
    return merged


def activity(identifier="A-1", attrs="", body=""):
    return (f'<iati-activity {attrs}><iati-identifier>{identifier}</iati-identifier>'
            f'<reporting-org ref="XM-1" type="40"><narrative>Org</narrative></reporting-org>{body}</iati-activity>')


def test_every_element_of_a_full_activity_is_read():
    data = read_all(FIXTURES / "full-activity-2.03.xml")
    a = {k: v[0] for k, v in data["activities"].items()}
    assert a["iati_identifier"] == "XM-DAC-41114-TEST-1"
    assert a["reporting_org_name"] == "United Nations Development Programme"  # English narrative first
    assert a["title"] == "Clean water for schools"
    assert (a["reporting_org_ref"], a["reporting_org_type_code"], a["activity_status_code"]) == ("XM-DAC-41114", "40", "2")
    assert (a["planned_start_date"], a["actual_start_date"], a["planned_end_date"], a["actual_end_date"]) == (
        "2024-01-01", "2024-02-01", "2025-12-31", "2026-01-15T00:00:00")
    assert (a["default_currency"], a["humanitarian"], a["hierarchy"]) == ("EUR", "1", "2")
    c = data["classifications"]
    rows = list(zip(c["element"], c["vocabulary"], c["code"], c["percentage"], strict=True))
    assert rows == [
        ("recipient-country", "1", "ke", "60"), ("recipient-country", "1", "XK", "40"),
        ("recipient-region", "1", "289", "100"),
        ("sector", "1", "14030", "70"), ("sector", "7", "6", "30"), ("sector", "8", "6.1", None),
        ("tag", "2", "3", None), ("tag", "3", "14.a", None), ("tag", "99", "ABC", None),
    ]
    assert set(c["activity_seq"]) == {0}
    assert (a["default_flow_type_code"], a["default_finance_type_code"], a["default_aid_type_code"]) == ("30", "110", "B03")

    t = data["transactions"]
    assert t["transaction_type_code"] == ["11", "3"]
    assert t["value"] == ["1000.50", "2000"] and t["value_currency"] == ["GBP", None]
    assert t["value_date"] == ["2024-02-29", None]
    assert t["provider_org_ref"] == ["GB-COH-01234567", None]
    assert t["provider_org_activity_id"][0] == "GB-COH-01234567-P1"
    assert t["receiver_org_name"] == ["UNDP", "Local Pump Co"] and t["receiver_org_type_code"] == ["40", "70"]
    assert t["aid_type_code"] == ["C01", None] and t["description"][0] == "Commitment from Acme"

    p = data["participating_orgs"]
    assert p["role_code"] == ["1", "1", "4"] and p["org_type_code"] == ["71", "60", "40"]
    assert p["org_activity_id"][0] == "GB-COH-01234567-P1" and p["crs_channel_code"][2] == "41114"

    b = data["budgets"]
    assert b["budget_type_code"] == ["2", "1"] and b["budget_status_code"] == ["2", "1"]  # defaults: 1 and 1
    assert b["value_currency"] == ["USD", None] and b["period_end"] == ["2024-12-31", "2025-12-31"]
    assert data["rejects"] == []


def test_version_is_taken_per_activity_and_1x_is_quarantined(write_xml):
    path = write_xml(iati_xml(
        activity("A-201") + activity("A-203", 'version="2.03"') + activity("A-103", 'version="1.03"'), version="2.01"))
    data = read_all(path)
    assert data["activities"]["iati_identifier"] == ["A-201", "A-203"]
    assert data["activities"]["iati_version"] == ["2.01", "2.03"]
    [reject] = data["rejects"]
    assert reject["record_key"] == "A-103" and reject["reason"] == "unsupported IATI version 1.03"


def test_a_1x_file_quarantines_every_activity_with_its_line(write_xml):
    path = write_xml(iati_xml(activity("L-1") + "\n" + activity("L-2"), version="1.01"))
    data = read_all(path)
    assert data["activities"]["iati_identifier"] == []
    assert [r["reason"] for r in data["rejects"]] == ["unsupported IATI version 1.01"] * 2
    assert [r["line"] for r in data["rejects"]] == [3, 4]


def test_activity_without_identifier_is_rejected(write_xml):
    path = write_xml(iati_xml('<iati-activity><title><narrative>x</narrative></title></iati-activity>'))
    data = read_all(path)
    assert data["activities"]["iati_identifier"] == []
    assert data["rejects"][0]["reason"] == "missing <iati-identifier>"


def test_elements_in_other_namespaces_are_ignored(write_xml):
    body = ('<x:budget xmlns:x="http://example.org/x"><x:value>9</x:value></x:budget>'
            '<transaction><transaction-type code="1"/><x:flag xmlns:x="http://example.org/x"/>'
            '<value currency="USD" value-date="2024-01-01">5</value></transaction>')
    data = read_all(write_xml(iati_xml(activity(body=body))))
    assert data["budgets"]["iati_identifier"] == []
    assert data["transactions"]["value"] == ["5"]


def test_empty_file_gives_no_rows_and_no_error(write_xml):
    data = read_all(write_xml('<iati-activities version="2.01" generated-datetime="2016-03-25T10:15:01"/>'))
    assert data["seen"] == 0 and data["activities"]["iati_identifier"] == []


def test_batches_are_bounded_by_batch_size(write_xml):
    path = write_xml(iati_xml("".join(activity(f"A-{i}") for i in range(25))))
    sizes = [b.activities_seen for b in iter_iati_batches(path, batch_size=10)]
    assert sizes == [10, 10, 5]
    seqs = [s for b in iter_iati_batches(path, batch_size=10) for s in b.activities["activity_seq"]]
    assert seqs == list(range(25))


XXE = """<?xml version="1.0"?>
<!DOCTYPE foo [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<iati-activities version="2.03"><iati-activity><iati-identifier>&xxe;</iati-identifier></iati-activity></iati-activities>"""
LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>
<iati-activities version="2.03"><iati-activity><iati-identifier>&lol9;</iati-identifier></iati-activity></iati-activities>"""
EXTERNAL_DTD = """<?xml version="1.0"?>
<!DOCTYPE iati-activities SYSTEM "http://127.0.0.1:9/iati.dtd">
<iati-activities version="2.03"/>"""


@pytest.mark.parametrize("content", [XXE, LAUGHS, EXTERNAL_DTD], ids=["xxe", "billion-laughs", "external-dtd"])
def test_hostile_xml_is_refused_naming_the_file(write_xml, content):
    path = write_xml(content, name="hostile.xml")
    with pytest.raises(IatiFileError) as err:
        list(iter_iati_batches(path))
    assert "hostile.xml" in str(err.value)
    assert "root:" not in str(err.value)  # /etc/passwd never read into the message


def test_huge_text_node_is_refused(write_xml):
    big = "A" * (11 * 1024 * 1024)
    path = write_xml(iati_xml(activity(body=f"<title><narrative>{big}</narrative></title>")), name="huge.xml")
    with pytest.raises(IatiFileError, match="huge.xml"):
        list(iter_iati_batches(path))


def test_truncated_file_names_file_and_line(write_xml):
    text = iati_xml("\n".join(activity(f"A-{i}") for i in range(5)))
    path = write_xml(text[: len(text) - 60], name="cut.xml")
    with pytest.raises(IatiFileError) as err:
        list(iter_iati_batches(path))
    assert err.value.file == "cut.xml" and err.value.line is not None and err.value.line >= 5


@pytest.mark.parametrize("content,expected", [
    (b"code,name\n1,Government\n", "not well-formed"),
    (b"", "cannot be read|not well-formed|no XML"),
    (b'<iati-organisations version="2.03"><iati-organisation/></iati-organisations>', "wrong root element <iati-organisations>"),
    (b"%PDF-1.7\n\x00\x01binary", "not well-formed"),
], ids=["csv", "zero-bytes", "organisation-file", "pdf"])
def test_files_that_are_not_iati_activities_are_refused(write_xml, content, expected):
    with pytest.raises(IatiFileError, match=expected):
        list(iter_iati_batches(write_xml(content, name="wrong.xml")))


def test_latin1_bytes_declared_as_utf8_are_refused(write_xml):
    content = iati_xml(activity(body='<title><narrative>Coopération</narrative></title>')).encode("latin-1")
    with pytest.raises(IatiFileError, match="line"):
        list(iter_iati_batches(write_xml(content)))


def test_utf16_and_declared_latin1_files_are_read(write_xml):
    text = iati_xml(activity(body='<title><narrative>Coopération</narrative></title>'))
    utf16 = write_xml(text.replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16"), name="u16.xml")
    latin = write_xml(text.replace('encoding="UTF-8"', 'encoding="ISO-8859-1"').encode("latin-1"), name="l1.xml")
    bom = write_xml(b"\xef\xbb\xbf" + text.encode("utf-8"), name="bom.xml")
    for path in (utf16, latin, bom):
        assert read_all(path)["activities"]["title"] == ["Coopération"]


def test_gzip_files_are_read_and_truncated_gzip_is_refused(tmp_path):
    data = iati_xml("".join(activity(f"A-{i}") for i in range(50))).encode()
    good = tmp_path / "a.xml.gz"
    good.write_bytes(gzip.compress(data))
    assert read_all(good)["seen"] == 50
    cut = tmp_path / "cut.xml.gz"
    cut.write_bytes(gzip.compress(data)[:-40])
    with pytest.raises(IatiFileError, match="cut.xml.gz"):
        list(iter_iati_batches(cut))
