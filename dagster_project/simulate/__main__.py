from .city import main
import sys

sys.exit(main())
