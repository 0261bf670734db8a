from envdoctor.maint import main

raise SystemExit(main())
