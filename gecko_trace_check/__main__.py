from gecko_trace_check.cli import main

raise SystemExit(main())
