from stonks_tui.cli import main

raise SystemExit(main())
