import sys

from curation_app.cli import main

sys.exit(main())
