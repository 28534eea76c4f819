"""Which pages each role sees. Pages check the role again, and core functions check it too."""

from pathlib import Path

PAGES_DIR = Path(__file__).resolve().parent
PAGE_FILES = {name: PAGES_DIR / f"{name}.py" for name in
              ("login", "annotate", "my_work", "overview", "assign", "adjudicate", "agreement", "releases", "triage", "guidelines")}
# (page, title, icon, roles)
PAGES = [
    ("annotate", "Annotate", ":material/edit_note:", ("annotator",)),
    ("my_work", "My work", ":material/checklist:", ("annotator",)),
    ("overview", "Overview", ":material/dashboard:", ("annotator", "lead", "admin")),
    ("assign", "Assign work", ":material/group_add:", ("lead", "admin")),
    ("adjudicate", "Adjudicate", ":material/gavel:", ("lead", "admin")),
    ("agreement", "Agreement", ":material/insights:", ("lead", "admin")),
    ("triage", "Triage", ":material/policy:", ("lead", "admin")),
    ("releases", "Releases", ":material/inventory_2:", ("lead", "admin")),
    ("guidelines", "Guidelines", ":material/menu_book:", ("annotator", "lead", "admin")),
]


def pages_for(role: str) -> list[tuple[Path, str, str]]:
    return [(PAGE_FILES[name], title, icon) for name, title, icon, roles in PAGES if role in roles]
