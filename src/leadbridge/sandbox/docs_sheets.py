"""Docs ``documents`` and Sheets ``spreadsheets``: read, find-and-replace, and cell values.

A document is kept as plain text and a spreadsheet as rows of strings (a formula cell is a
``Formula``), which is all that filling ``{{lead_name}}``-style placeholders needs. Every
find/replace is recorded with the number of places it changed, so a test can tell a
placeholder that was never there from one that was filled.

As in Google, a batch is validated whole before anything is applied, and its requests are
then applied one after the other, each to the text the previous ones left: a value one
``replaceAllText`` puts in is found by the next. Cell values written with ``RAW`` are stored
as given (``=1+1`` stays text); with ``USER_ENTERED`` they are parsed as if typed (``=1+1``
becomes a formula, ``'=1+1`` the text ``=1+1``). Formulas are kept, not computed.
"""

from __future__ import annotations

import re
from typing import Any

from leadbridge.sandbox.google_common import GoogleError
from leadbridge.sandbox.http import Request, Response
from leadbridge.sandbox.state import (
    DOCUMENT,
    SPREADSHEET,
    DriveFile,
    Formula,
    Replacement,
    SandboxState,
)

_A1 = re.compile(r"^(?P<col>[A-Z]+)(?P<row>\d+)?$")


class DocsApi:
    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def _document(self, document_id: str) -> DriveFile:
        file = self.state.google.files.get(document_id)
        if file is None:
            raise GoogleError(404, "notFound", "Requested entity was not found.")
        if file.mime_type != DOCUMENT:
            raise GoogleError(
                400, "failedPrecondition", "This operation is not supported for this document"
            )
        return file

    def get(self, document_id: str) -> Response:
        with self.state.lock:
            file = self._document(document_id)
            return Response.json(200, _document_resource(file))

    def batch_update(self, request: Request, document_id: str) -> Response:
        requests = request.json().get("requests") or []
        for item in requests:  # validated whole first: an invalid batch applies nothing
            spec = item.get("replaceAllText")
            if spec is None:
                raise GoogleError(
                    400, "badRequest", f"The sandbox does not emulate {', '.join(item)} requests."
                )
            if not spec.get("containsText", {}).get("text", ""):
                raise GoogleError(400, "badRequest", "containsText.text must not be empty.")
        with self.state.lock:
            file = self._document(document_id)
            replies: list[dict[str, Any]] = []
            for item in requests:
                spec = item["replaceAllText"]
                find = spec["containsText"]["text"]
                replace = spec.get("replaceText", "")
                file.text, count = _replace(
                    file.text, find, replace, bool(spec["containsText"].get("matchCase"))
                )
                self.state.google.replacements.append(Replacement(file.id, find, replace, count))
                replies.append({"replaceAllText": {"occurrencesChanged": count} if count else {}})
            return Response.json(
                200,
                {
                    "documentId": file.id,
                    "replies": replies,
                    "writeControl": {"requiredRevisionId": f"rev-{self.state.next_id()}"},
                },
            )


class SheetsApi:
    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def _spreadsheet(self, spreadsheet_id: str) -> DriveFile:
        file = self.state.google.files.get(spreadsheet_id)
        if file is None:
            raise GoogleError(404, "notFound", "Requested entity was not found.")
        if file.mime_type != SPREADSHEET:
            raise GoogleError(
                400, "failedPrecondition", "This operation is not supported for this document"
            )
        return file

    def get(self, request: Request, spreadsheet_id: str) -> Response:
        """``includeGridData=true`` adds each tab's cells, as Google shapes them (``fields``
        is not applied: every cell carries ``userEnteredValue``, text also ``effectiveValue`` and
        ``formattedValue``; formulas are not computed)."""
        with self.state.lock:
            file = self._spreadsheet(spreadsheet_id)
            sheets: list[dict[str, Any]] = []
            for index, (title, rows) in enumerate(file.sheets.items()):
                sheet: dict[str, Any] = {
                    "properties": {
                        "sheetId": index,
                        "title": title,
                        "index": index,
                        "sheetType": "GRID",
                        "gridProperties": {
                            "rowCount": max(1000, len(rows)),
                            "columnCount": max([26, *(len(row) for row in rows)]),
                        },
                    }
                }
                if request.flag("includeGridData"):
                    sheet["data"] = [_grid_data(rows)]
                sheets.append(sheet)
            return Response.json(
                200,
                {
                    "spreadsheetId": file.id,
                    "properties": {"title": file.name},
                    "sheets": sheets,
                    "spreadsheetUrl": file.web_view_link(),
                },
            )

    def batch_update(self, request: Request, spreadsheet_id: str) -> Response:
        requests = request.json().get("requests") or []
        for item in requests:  # validated whole first: an invalid batch applies nothing
            _check_find_replace(item)
        with self.state.lock:
            file = self._spreadsheet(spreadsheet_id)
            replies = [self._find_replace(file, item) for item in requests]
            return Response.json(200, {"spreadsheetId": file.id, "replies": replies})

    def _find_replace(self, file: DriveFile, item: dict[str, Any]) -> dict[str, Any]:
        spec = item["findReplace"]
        find = spec["find"]
        replacement = spec.get("replacement", "")
        titles = list(file.sheets)
        if "sheetId" in spec:
            titles = [titles[spec["sheetId"]]] if 0 <= spec["sheetId"] < len(titles) else []
        occurrences = values = formulas = 0
        rows_changed: set[tuple[str, int]] = set()
        sheets_changed: set[str] = set()
        for title in titles:
            for row_index, row in enumerate(file.sheets[title]):
                for col_index, cell in enumerate(row):
                    is_formula = isinstance(cell, Formula)
                    if is_formula and not spec.get("includeFormulas"):
                        continue
                    if spec.get("matchEntireCell"):
                        hit = (
                            cell == find if spec.get("matchCase") else cell.lower() == find.lower()
                        )
                        new, count = (replacement, 1) if hit else (cell, 0)
                    else:
                        new, count = _replace(cell, find, replacement, bool(spec.get("matchCase")))
                    if count:
                        row[col_index] = Formula(new) if is_formula else new
                        occurrences += count
                        if is_formula:
                            formulas += 1
                        else:
                            values += 1
                        rows_changed.add((title, row_index))
                        sheets_changed.add(title)
        self.state.google.replacements.append(Replacement(file.id, find, replacement, occurrences))
        counts = {
            "occurrencesChanged": occurrences,
            "valuesChanged": values,
            "formulasChanged": formulas,
            "rowsChanged": len(rows_changed),
            "sheetsChanged": len(sheets_changed),
        }
        # Google leaves zero counters out of the reply.
        return {"findReplace": {key: value for key, value in counts.items() if value}}

    def get_values(self, spreadsheet_id: str, a1: str) -> Response:
        with self.state.lock:
            file = self._spreadsheet(spreadsheet_id)
            title, (top, left, bottom, right) = _range(file, a1)
            rows = file.sheets[title][top:bottom]
            values = [
                _trim([cell for c, cell in enumerate(row) if left <= c < right]) for row in rows
            ]
            while values and not values[-1]:
                values.pop()
            payload: dict[str, Any] = {"range": a1, "majorDimension": "ROWS"}
            if values:
                payload["values"] = values
            return Response.json(200, payload)

    def update_values(self, request: Request, spreadsheet_id: str, a1: str) -> Response:
        option = _input_option(request.arg("valueInputOption"))
        body = request.json()
        with self.state.lock:
            file = self._spreadsheet(spreadsheet_id)
            _range(file, a1)
            written = self._write(file, a1, body.get("values") or [], option)
            return Response.json(200, {"spreadsheetId": file.id, **written})

    def batch_update_values(self, request: Request, spreadsheet_id: str) -> Response:
        body = request.json()
        option = _input_option(body.get("valueInputOption"))
        data = body.get("data", [])
        with self.state.lock:
            file = self._spreadsheet(spreadsheet_id)
            for d in data:  # every range is checked before any is written, as in Google
                _range(file, d["range"])
            responses = [self._write(file, d["range"], d.get("values") or [], option) for d in data]
            totals = {
                "totalUpdatedRows": sum(r["updatedRows"] for r in responses),
                "totalUpdatedColumns": max((r["updatedColumns"] for r in responses), default=0),
                "totalUpdatedCells": sum(r["updatedCells"] for r in responses),
                "totalUpdatedSheets": len({_range(file, d["range"])[0] for d in data}),
            }
            return Response.json(
                200,
                {
                    "spreadsheetId": file.id,
                    **{key: value for key, value in totals.items() if value},
                    "responses": [{"spreadsheetId": file.id, **r} for r in responses],
                },
            )

    def _write(
        self, file: DriveFile, a1: str, values: list[list[Any]], option: str
    ) -> dict[str, Any]:
        title, (top, left, _, _) = _range(file, a1)
        rows = file.sheets[title]
        cells = 0
        for r, new_row in enumerate(values):
            while len(rows) <= top + r:
                rows.append([])
            row = rows[top + r]
            for c, value in enumerate(new_row):
                if value is None:  # Google skips a null: the cell keeps what it has
                    continue
                while len(row) <= left + c:
                    row.append("")
                row[left + c] = _entered(value, option)
                cells += 1
        return {
            "updatedRange": _a1_name(title, a1),
            "updatedRows": len(values),
            "updatedColumns": max((len(r) for r in values), default=0),
            "updatedCells": cells,
        }


def _check_find_replace(item: dict[str, Any]) -> None:
    spec = item.get("findReplace")
    if spec is None:
        raise GoogleError(
            400, "badRequest", f"The sandbox does not emulate {', '.join(item)} requests."
        )
    if not spec.get("find", ""):
        raise GoogleError(400, "badRequest", "findReplace.find must not be empty.")
    if "sheetId" not in spec and not spec.get("allSheets") and "range" not in spec:
        raise GoogleError(400, "badRequest", "One of range, sheetId or allSheets must be set.")


def _input_option(option: Any) -> str:
    if option is None:
        raise GoogleError(400, "badRequest", "'valueInputOption' is required but not specified")
    if option not in ("RAW", "USER_ENTERED"):
        raise GoogleError(
            400,
            "badRequest",
            f"Invalid value at 'value_input_option' ({option}), expected RAW or USER_ENTERED",
        )
    return str(option)


def _entered(value: Any, option: str) -> str:
    """What a cell holds after ``value`` is written with ``option``."""
    text = ("TRUE" if value else "FALSE") if isinstance(value, bool) else str(value)
    if option == "RAW" or not isinstance(value, str):
        return text
    if text.startswith("'"):
        return text[1:]
    return Formula(text) if text.startswith("=") and len(text) > 1 else text


def _a1_name(title: str, a1: str) -> str:
    """The range as Google echoes it: the tab name quoted only when it needs it."""
    cells = a1.rpartition("!")[2] if "!" in a1 else ""
    name = title if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", title) else _quoted(title)
    return f"{name}!{cells}" if cells else name


def _quoted(title: str) -> str:
    return "'" + title.replace("'", "''") + "'"


def _grid_data(rows: list[list[str]]) -> dict[str, Any]:
    """One tab's ``GridData``: trailing empty rows left out, ``rowData`` absent when empty,
    ``startRow``/``startColumn`` absent (0); an empty cell is ``{}``, a row without cells too."""
    row_data = [{"values": [_cell_data(cell) for cell in row]} if row else {} for row in rows]
    while row_data and not any(row_data[-1].get("values") or []):
        row_data.pop()
    return {"rowData": row_data} if row_data else {}


def _cell_data(cell: str) -> dict[str, Any]:
    if cell == "":
        return {}
    if isinstance(cell, Formula):
        return {"userEnteredValue": {"formulaValue": str(cell)}}
    # The sandbox keeps no cell types but text and formula: numbers read as text too.
    value = {"stringValue": cell}
    return {"userEnteredValue": value, "effectiveValue": value, "formattedValue": cell}


def _replace(text: str, find: str, replace: str, match_case: bool) -> tuple[str, int]:
    pattern = re.compile(re.escape(find), 0 if match_case else re.IGNORECASE)
    return pattern.subn(lambda _: replace, text)


def _trim(row: list[str]) -> list[str]:
    while row and row[-1] == "":
        row = row[:-1]
    return row


def _column_index(letters: str) -> int:
    index = 0
    for letter in letters:
        index = index * 26 + (ord(letter) - ord("A") + 1)
    return index - 1


def _range(file: DriveFile, a1: str) -> tuple[str, tuple[int, int, int, int]]:
    """Sheet title and (top, left, bottom, right), end-exclusive, of an A1 range."""
    sheet, bang, cells = a1.rpartition("!")
    if not bang:
        sheet, cells = (a1, "") if a1.strip("'") in file.sheets else ("", a1)
    if len(sheet) > 1 and sheet[0] == sheet[-1] == "'":
        sheet = sheet[1:-1].replace("''", "'")
    title = sheet or next(iter(file.sheets), "")
    if title not in file.sheets:
        raise GoogleError(400, "badRequest", f"Unable to parse range: {a1}")
    if not cells:
        return title, (0, 0, 1_000_000, 18_278)
    start, _, end = cells.partition(":")
    first, last = _A1.match(start), _A1.match(end or start)
    if first is None or last is None:
        raise GoogleError(400, "badRequest", f"Unable to parse range: {a1}")
    top = int(first["row"]) - 1 if first["row"] else 0
    bottom = int(last["row"]) if last["row"] else 1_000_000
    return title, (top, _column_index(first["col"]), bottom, _column_index(last["col"]) + 1)


def _document_resource(file: DriveFile) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    index = 1
    for line in file.text.splitlines(keepends=True) or [""]:
        run = line if line.endswith("\n") else line + "\n"
        end = index + len(run)
        content.append(
            {
                "startIndex": index,
                "endIndex": end,
                "paragraph": {
                    "elements": [
                        {"startIndex": index, "endIndex": end, "textRun": {"content": run}}
                    ]
                },
            }
        )
        index = end
    return {
        "documentId": file.id,
        "title": file.name,
        "revisionId": f"rev-{len(file.text)}",
        "body": {"content": content},
    }
