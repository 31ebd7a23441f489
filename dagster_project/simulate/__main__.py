from dagster_project.simulate.city import main
import sys

sys.exit(main())
