"""What the sandbox starts with: the leads board, the sales Shared Drive, the hub repository.

The board's columns come from the package's default pipeline, so a configuration written by
``write_sandbox_config`` matches it without edits. Leads are added separately
(``seed_demo_leads`` for the demo, ``seed_board`` for a test's own columns and leads), and a
scripted sales team changes them with ``add_item`` / ``set_values`` or the control endpoint.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from leadbridge.defaults import default_pipeline
from leadbridge.sandbox.github import add_label
from leadbridge.sandbox.monday_board import create_item, write_values
from leadbridge.sandbox.state import (
    DOCUMENT,
    FOLDER,
    SALES_USER,
    SPREADSHEET,
    DriveFile,
    Formula,
    GitHubIssue,
    GitHubRepo,
    MondayBoard,
    MondayColumn,
    SandboxState,
)
from leadbridge.settings import ColumnSettings

BOARD_ID = "1140216585"
BOARD_NAME = "Leads, sales, and hubs"
SHARED_DRIVE_ID = "0ASandboxSalesDrive"
LEADS_FOLDER_ID = "1SandboxLeadsFolder"
ASSETS_FOLDER_ID = "1SandboxSalesAssetsFolder"
#: Not the example configuration's template ids, which ``check`` refuses as placeholders.
PRICING_SHEET_TEMPLATE_ID = "1SandboxPricingSheetTemplate"
PRICE_QUOTE_TEMPLATE_ID = "1SandboxPriceQuoteTemplate"
#: The hub repository under its name before GitHub's rename to 2i2c-org/infrastructure (the
#: default of github.repository), so that the rename can be rehearsed: see ``GitHubState.rename``.
HUB_REPOSITORY = "2i2c-org/pilot-hubs"
HUB_LABEL = "Hub"
#: The Workspace user leadbridge sends mail as (``google.subject`` and ``mail.sender``).
SALES_MAILBOX = "sales@2i2c.example"

#: Status label ids as monday hands them out: stable, unordered, never the display position,
#: and never 5 (the empty label of a default board).
LABEL_IDS = (3, 0, 14, 1, 103, 7, 2, 11, 19, 4, 9, 12, 6, 8, 10, 13, 15, 16, 17, 18)

PRICE_QUOTE_TEXT = """2i2c Managed JupyterHub Service — Price quote
Prepared for: {{lead_name}}
Organization: {{organization}}
Contact: {{contact_name}}
Date: {{date}}

Service: one managed JupyterHub for {{organization}}, operated by 2i2c.
"""

#: A placeholder fills a cell or sits in a sentence; the total is a formula, kept as one.
PRICING_SHEET_ROWS: list[list[str]] = [
    ["Pricing sheet", "{{lead_name}}"],
    ["Organization", "{{organization}}"],
    ["Contact", "{{contact_name}}"],
    ["Date", "{{date}}"],
    ["Item", "Monthly (USD)"],
    ["Hub operations", "1500"],
    ["Cloud costs (estimate)", "800"],
    ["Total", Formula("=SUM(B6:B7)")],
    ["Terms", "This estimate for {{organization}} is valid for 30 days from {{date}}."],
]


@dataclass(frozen=True)
class SeedLead:
    """A lead as the sales team typed it: plain values by logical column name.

    Status columns take the label text, link columns a URL; ``seed_board`` turns them into
    monday's write form for the board's columns.
    """

    name: str
    values: Mapping[str, str] = field(default_factory=dict)


def default_columns() -> dict[str, ColumnSettings]:
    return {
        name: ColumnSettings.model_validate(spec)
        for name, spec in default_pipeline()["columns"].items()
    }


def build_world(state: SandboxState) -> None:
    with state.lock:
        board = MondayBoard(BOARD_ID, BOARD_NAME)
        state.monday.boards[board.id] = board
        define_columns(board, default_columns())
        _build_drive(state)
        _build_repository(state)


def define_columns(board: MondayBoard, columns: Mapping[str, ColumnSettings]) -> None:
    """Replace the board's columns with the configured ones (plus monday's own Name)."""
    board.columns = {"name": MondayColumn("name", "Name", "name")}
    for name, settings in columns.items():
        labels = [*settings.labels, *settings.off_path]
        board.columns[settings.id] = MondayColumn(
            id=settings.id,
            title=name.replace("_", " ").capitalize(),
            type=settings.type,
            labels=dict(zip(LABEL_IDS, labels, strict=False)),
        )


def _build_drive(state: SandboxState) -> None:
    google = state.google
    google.shared_drives[SHARED_DRIVE_ID] = "2i2c Sales"
    created = state.clock.iso(millis=True)

    def add(file: DriveFile) -> None:
        google.files[file.id] = file

    add(DriveFile(LEADS_FOLDER_ID, "Leads", FOLDER, [SHARED_DRIVE_ID], SHARED_DRIVE_ID, created))
    add(
        DriveFile(
            ASSETS_FOLDER_ID, "Sales assets", FOLDER, [SHARED_DRIVE_ID], SHARED_DRIVE_ID, created
        )
    )
    add(
        DriveFile(
            PRICE_QUOTE_TEMPLATE_ID,
            "[TEMPLATE] Price quote",
            DOCUMENT,
            [ASSETS_FOLDER_ID],
            SHARED_DRIVE_ID,
            created,
            text=PRICE_QUOTE_TEXT,
        )
    )
    add(
        DriveFile(
            PRICING_SHEET_TEMPLATE_ID,
            "[TEMPLATE] Pricing sheet",
            SPREADSHEET,
            [ASSETS_FOLDER_ID],
            SHARED_DRIVE_ID,
            created,
            sheets={"Pricing": [list(row) for row in PRICING_SHEET_ROWS]},
        )
    )


def _build_repository(state: SandboxState) -> None:
    owner, name = HUB_REPOSITORY.split("/")
    repo = GitHubRepo(id=345_000_001, owner=owner, name=name)
    state.github.repos[HUB_REPOSITORY.lower()] = repo
    for label, color in ((HUB_LABEL, "0e8a16"), ("Needs Hub", "fbca04"), ("goal", "5319e7")):
        add_label(state, repo, label, color)
    # Two hubs opened by engineers by hand, so lookups must tell leadbridge's issues apart.
    moment = "2021-03-10T17:00:00Z"
    for number, hub in ((1, "UC Berkeley DataHub"), (2, "Pangeo Climate Hub")):
        repo.issues.append(
            GitHubIssue(
                id=5_000_000 + number,
                number=number,
                title=f"New Hub: {hub}",
                body=f"# Background\n\nA hub for {hub}.\n",
                labels=[HUB_LABEL],
                user="choldgraf",
                created_at=moment,
                updated_at=moment,
            )
        )


# ---------------------------------------------------------------- leads


def write_form(column: MondayColumn, value: str) -> Any:
    """A plain value as monday's column JSON for that column's type."""
    if value == "":
        return None
    if column.type == "status":
        return {"label": value}
    if column.type == "email":
        return {"email": value, "text": value}
    if column.type == "long_text":
        return {"text": value}
    if column.type == "link":
        return {"url": value, "text": value}
    return value


def _by_id(
    board: MondayBoard, columns: Mapping[str, ColumnSettings], values: Mapping[str, str]
) -> dict[str, Any]:
    converted: dict[str, Any] = {}
    for name, value in values.items():
        if name not in columns:
            raise KeyError(f"{name!r} is not a configured column; known: {', '.join(columns)}")
        column = board.columns[columns[name].id]
        converted[column.id] = write_form(column, value)
    return converted


def seed_board(
    state: SandboxState,
    columns: Mapping[str, ColumnSettings] | None = None,
    leads: Sequence[SeedLead] = (),
) -> list[str]:
    """Give the board these columns (default: the default pipeline's) and add the leads.

    Returns the new item ids in the order of ``leads``.
    """
    columns = dict(columns) if columns is not None else default_columns()
    with state.lock:
        board = state.board()
        define_columns(board, columns)
        return [
            create_item(
                state,
                board,
                lead.name,
                _by_id(board, columns, lead.values),
                user_id=SALES_USER["id"],
            ).id
            for lead in leads
        ]


def add_item(state: SandboxState, name: str, values: Mapping[str, Any] | None = None) -> str:
    """A lead entered by the sales team; ``values`` by column id, in monday's write form or
    as simple strings (a status label, a URL, an address)."""
    with state.lock:
        return create_item(
            state, state.board(), name, dict(values or {}), user_id=SALES_USER["id"]
        ).id


def set_values(state: SandboxState, item_id: str, values: Mapping[str, Any]) -> None:
    """The sales team changes an item (e.g. moves a status), as in monday's UI."""
    with state.lock:
        board = state.board()
        write_values(state, board, board.items[item_id], dict(values), user_id=SALES_USER["id"])


def seed_demo_leads(state: SandboxState) -> list[str]:
    return seed_board(state, None, DEMO_LEADS)


def _lead(
    name: str, org: str, contact: str, email: str, community: str, **statuses: str
) -> SeedLead:
    values = {
        "organization": org,
        "contact_name": contact,
        "contact_email": email,
        "community": community,
        **statuses,
    }
    return SeedLead(name, values)


DEMO_LEADS: tuple[SeedLead, ...] = (
    _lead(
        "Data Science Institute",
        "University of Toronto",
        "Priya Raman",
        "priya.raman@utoronto.example",
        "Graduate courses in data science, about 400 students a term.",
        triage_status="Send Questionnaire",
    ),
    _lead(
        "Earth Data Lab",
        "Lamont-Doherty Earth Observatory",
        "Miguel Ortega",
        "mortega@ldeo.example",
        "Climate researchers sharing notebooks on cloud-hosted datasets.",
    ),
    _lead(
        "Open Science Hub",
        "Code for Science & Society",
        "Jordan Lee",
        "jordan@codeforscience.example",
        "A fiscal sponsorship community running workshops for open-source maintainers.",
        triage_status="Questionnaire Received",
    ),
    _lead(
        'Université "Côte d\'Azur" — Lab Ω',
        "Université Côte d'Azur",
        "Zoë Lefèvre-Nakamura",
        "zoe.lefevre@univ-cotedazur.example",
        "Cours d'astrophysique; « notebooks » partagés entre 3 laboratoires. 🔭",
        triage_status="In Scope",
    ),
    _lead(
        "Biostatistics Teaching Hub",
        "University of Cape Town",
        "Thandiwe Mokoena",
        "t.mokoena@uct.example",
        "Undergraduate biostatistics with R and Python.",
        triage_status="In Scope",
        negotiation_status="Create Quote",
    ),
    _lead(
        "Neuroimaging Collaboratory",
        "Allen Institute for Brain Science",
        "Samuel Osei",
        "samuel.osei@alleninstitute.example",
        "Large imaging datasets, GPU notebooks for a 30-person lab.",
        triage_status="In Scope",
        negotiation_status="Quote Sent",
    ),
    _lead(
        "Hydrology Workshop Series",
        "CUAHSI",
        "Emily Nguyen",
        "enguyen@cuahsi.example",
        "Week-long summer institutes for hydrologists.",
        triage_status="In Scope",
        negotiation_status="Quote Accepted",
    ),
    _lead(
        "Digital Humanities Commons",
        "University of Edinburgh",
        "Callum MacLeod",
        "callum.macleod@ed.example",
        "Text-mining courses for humanities students.",
        triage_status="In Scope",
        negotiation_status="Contract Signed",
    ),
    _lead(
        "Ocean Observing Network",
        "Global Ocean Observing NGO",
        "Aroha Ngata",
        "aroha@oceanobs.example",
        "Volunteers analysing buoy data across the Pacific.",
        triage_status="Questionnaire Sent",
    ),
    _lead(
        "Public Health Analytics",
        "Médecins Data Collective",
        "Fatima Al-Sayed",
        "fatima.alsayed@mdc.example",
        "Epidemiology training for field staff.",
        triage_status="Out of Scope",
    ),
    _lead(
        "Materials Genome Lab",
        "Lawrence Berkeley National Laboratory",
        "Wei Zhang",
        "wzhang@lbl.example",
        "Simulation notebooks for a materials-science consortium.",
    ),
    _lead(
        "Community Mapping Project",
        "OpenStreetMap Foundation Local Chapter",
        "Diego Fernández",
        "diego@osm-chapter.example",
        "Mappers running geospatial analysis sprints.",
        triage_status="Send Questionnaire",
    ),
)
