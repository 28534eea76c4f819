"""Which pages each role sees. Pages check the role again, and core functions check it too."""

from pathlib import Path

from curation_app.models import Role

PAGES_DIR = Path(__file__).resolve().parent
PAGE_FILES = {name: PAGES_DIR / f"{name}.py" for name in
              ("login", "annotate", "review", "my_work", "overview", "assign", "adjudicate", "agreement", "releases", "triage", "guidelines",
               "admin_users", "admin_settings", "admin_taxonomy", "admin_import")}
# (page, title, icon, roles)
PAGES = [
    ("annotate", "Annotate", ":material/edit_note:", (Role.ANNOTATOR,)),
    ("review", "Review", ":material/how_to_vote:", (Role.REVIEWER,)),
    ("my_work", "My work", ":material/checklist:", (Role.ANNOTATOR,)),
    ("overview", "Overview", ":material/dashboard:", (Role.ANNOTATOR, Role.LEAD, Role.ADMIN)),
    ("assign", "Assign work", ":material/group_add:", (Role.LEAD, Role.ADMIN)),
    ("adjudicate", "Adjudicate", ":material/gavel:", (Role.LEAD, Role.ADMIN)),
    ("agreement", "Agreement", ":material/insights:", (Role.LEAD, Role.ADMIN)),
    ("triage", "Triage", ":material/policy:", (Role.LEAD, Role.ADMIN)),
    ("releases", "Releases", ":material/inventory_2:", (Role.LEAD, Role.ADMIN)),
    ("guidelines", "Guidelines", ":material/menu_book:", (Role.ANNOTATOR, Role.REVIEWER, Role.LEAD, Role.ADMIN)),
    # The admin's: who may log in, what an annotation holds, what comes in.
    ("admin_users", "Users", ":material/manage_accounts:", (Role.ADMIN,)),
    ("admin_settings", "Project settings", ":material/tune:", (Role.ADMIN,)),
    ("admin_taxonomy", "Taxonomy and scores", ":material/category:", (Role.ADMIN,)),
    ("admin_import", "Import queries", ":material/upload_file:", (Role.ADMIN,)),
]


def pages_for(role: str) -> list[tuple[Path, str, str]]:
    return [(PAGE_FILES[name], title, icon) for name, title, icon, roles in PAGES if role in roles]
