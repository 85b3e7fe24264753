"""`python -m trezor_backup_applet`."""

import sys

from .main import main

sys.exit(main())
